"""Concurrent status changes, on PostgreSQL (SQLite serialises writers and hides a missing
lock). Each scenario has a control that runs it through a deliberately unlocked path and
shows the test would catch the lost lock."""

import time

import pytest
from django.db import connection, transaction

from fulfillment import services, workflow
from fulfillment.models import EventRecipientPackage, FulfillmentStatusChange
from tests.concurrency import real_concurrency, run_concurrently
from tests.fulfillment.factories import AssignmentFactory
from tests.planning.factories import EventFactory

pytestmark = real_concurrency("row locks need PostgreSQL")

THREADS = 16


def _slow(locked_reader):
    """Wrap the row reader so every caller lingers between reading and writing: without a
    lock, all of them would read 'pending'."""

    def reader(assignment_id, conn, **permission):
        row = locked_reader(assignment_id, conn, **permission)
        time.sleep(0.05)
        return row

    return reader


def _unlocked_reader(assignment_id, conn, **permission):
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
    monkeypatch.setattr(workflow, "_locked", _slow(workflow._locked))

    results = _mark_ready_concurrently(assignment.pk)

    assert results == [("ok", "ready")] * THREADS  # the others were told it is already done
    assert FulfillmentStatusChange.objects.filter(assignment=assignment).count() == 1
    assignment.refresh_from_db()
    assert assignment.fulfillment_status == "ready"


def test_control_without_the_lock_the_same_clicks_write_duplicate_history(monkeypatch):
    assignment = AssignmentFactory()
    monkeypatch.setattr(workflow, "_locked", _slow(_unlocked_reader))

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


def _slow_history(monkeypatch):
    """Every bulk change lingers after locking its rows, before it writes them and their
    history and commits, so overlapping changes really wait for each other."""
    original = workflow._step_rows

    def slow(*args, **kwargs):
        time.sleep(0.1)
        return original(*args, **kwargs)

    monkeypatch.setattr(workflow, "_step_rows", slow)


def _assert_each_row_moved_once(rows, results):
    assert all(kind == "ok" for kind, _ in results), results
    assert sum(count for _, count in results) == len(rows)
    for row in rows:
        assert FulfillmentStatusChange.objects.filter(assignment=row).count() == 1


def test_overlapping_bulk_changes_that_hold_their_locks_stay_consistent(monkeypatch):
    rows = AssignmentFactory.create_batch(40, event=EventFactory())
    _slow_history(monkeypatch)

    results = _overlapping_bulks(rows)

    _assert_each_row_moved_once(rows, results)


def test_control_overlapping_bulk_changes_without_the_row_lock_move_rows_twice(monkeypatch):
    from django.db.models import QuerySet

    rows = AssignmentFactory.create_batch(40, event=EventFactory())
    _slow_history(monkeypatch)
    monkeypatch.setattr(QuerySet, "select_for_update", lambda self, **kwargs: self)

    results = _overlapping_bulks(rows)

    with pytest.raises(AssertionError):
        _assert_each_row_moved_once(rows, results)


# Deadlocks: rows are locked in primary-key order, so two changes over the same rows, given
# in opposite orders, queue instead of each holding a row the other waits for.


def test_bulk_change_locks_its_rows_in_one_statement_ordered_by_primary_key():
    from django.test.utils import CaptureQueriesContext

    ids = [row.pk for row in AssignmentFactory.create_batch(3)]
    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        services.bulk_update_fulfillment_status(ids[::-1], "ready", connection=connection)
    locking = [q["sql"] for q in queries if "FOR UPDATE" in q["sql"]]
    assert len(locking) == 1
    # The first selected column is the primary key; rows are locked as they are returned.
    assert locking[0].startswith('SELECT "fulfillment_eventrecipientpackage"."id" AS "pk"')
    assert "ORDER BY 1 ASC FOR UPDATE" in locking[0]


def test_bulk_changes_given_the_rows_in_opposite_orders_do_not_deadlock(monkeypatch):
    rows = AssignmentFactory.create_batch(20, event=EventFactory())
    ids = [row.pk for row in rows]
    _slow_history(monkeypatch)

    def call(i):
        order = ids if i % 2 == 0 else ids[::-1]
        with transaction.atomic():
            return services.bulk_update_fulfillment_status(order, "ready", connection=connection)

    results = run_concurrently(6, call)

    _assert_each_row_moved_once(rows, results)


def _lock_one_by_one(ids):
    """Lock rows one statement at a time, as a loop of single-row changes would."""
    with transaction.atomic():
        for pk in ids:
            EventRecipientPackage.objects.select_for_update().get(pk=pk)
            time.sleep(0.05)


def test_row_by_row_locks_in_primary_key_order_do_not_deadlock():
    ids = [row.pk for row in AssignmentFactory.create_batch(4)]

    results = run_concurrently(4, lambda i: _lock_one_by_one(sorted(ids)))

    assert [kind for kind, _ in results] == ["ok"] * 4, results


def test_control_row_by_row_locks_in_opposite_orders_deadlock():
    from django.db import OperationalError

    ids = [row.pk for row in AssignmentFactory.create_batch(4)]

    results = run_concurrently(2, lambda i: _lock_one_by_one(ids if i == 0 else ids[::-1]))

    errors = [exc for kind, exc in results if kind == "error"]
    assert errors, results
    assert all(isinstance(exc, OperationalError) and "deadlock" in str(exc) for exc in errors)
