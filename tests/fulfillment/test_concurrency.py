"""Concurrent status changes, on PostgreSQL (SQLite serialises writers and hides a missing
lock). Each scenario has a control that runs it through a deliberately unlocked path and
shows the test would catch the lost lock."""

import time

import pytest
from django.db import connection, transaction

from fulfillment import services
from fulfillment.models import EventRecipientPackage, FulfillmentStatusChange
from tests.concurrency import run_concurrently
from tests.fulfillment.factories import AssignmentFactory
from tests.planning.factories import EventFactory

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        "not __import__('django.db').db.connection.features.has_select_for_update",
        reason="row locks need PostgreSQL",
    ),
]

THREADS = 16


def _slow(locked_reader):
    """Wrap the row reader so every caller lingers between reading and writing: without a
    lock, all of them would read 'pending'."""

    def reader(assignment_id, conn):
        row = locked_reader(assignment_id, conn)
        time.sleep(0.05)
        return row

    return reader


def _unlocked_reader(assignment_id, conn):
    return (
        EventRecipientPackage.objects.using(conn.alias)
        .select_related("recipient", "package", "event")
        .get(pk=assignment_id)
    )


def _mark_ready_concurrently(assignment_id):
    def call(_):
        with transaction.atomic():
            return services.update_fulfillment_status(
                assignment_id, "ready", expected_status="pending", connection=connection
            ).fulfillment_status

    return run_concurrently(THREADS, call)


def test_sixteen_clicks_on_the_same_row_write_one_history_row(monkeypatch):
    assignment = AssignmentFactory()
    monkeypatch.setattr(services, "_locked", _slow(services._locked))

    results = _mark_ready_concurrently(assignment.pk)

    assert results == [("ok", "ready")] * THREADS  # the others were told it is already done
    assert FulfillmentStatusChange.objects.filter(assignment=assignment).count() == 1
    assignment.refresh_from_db()
    assert assignment.fulfillment_status == "ready"


def test_control_without_the_lock_the_same_clicks_write_duplicate_history(monkeypatch):
    assignment = AssignmentFactory()
    monkeypatch.setattr(services, "_locked", _slow(_unlocked_reader))

    _mark_ready_concurrently(assignment.pk)

    assert FulfillmentStatusChange.objects.filter(assignment=assignment).count() > 1


def _overlapping_bulks(event_rows):
    first = [r.pk for r in event_rows[:30]]
    second = [r.pk for r in event_rows[10:]]

    def call(i):
        ids, status = (first, "ready") if i % 2 == 0 else (second, "ready")
        with transaction.atomic():
            return services.bulk_update_fulfillment_status(ids, status, connection=connection)

    return run_concurrently(4, call)


def test_overlapping_bulk_changes_are_each_all_or_nothing_with_consistent_history():
    event = EventFactory()
    rows = AssignmentFactory.create_batch(40, event=event)

    results = _overlapping_bulks(rows)

    assert all(kind == "ok" for kind, _ in results), results
    assert sum(count for _, count in results) == 40  # each row moved exactly once
    statuses = set(EventRecipientPackage.objects.values_list("fulfillment_status", flat=True))
    assert statuses == {"ready"}
    for row in rows:
        assert FulfillmentStatusChange.objects.filter(assignment=row).count() == 1
