"""The benchmark's floors (hand-written SQL) do the same work as the services they stand beside:
same rows, same numbers, same order. A floor that did less would make every ratio a lie."""

import dataclasses
import io
from dataclasses import astuple

import pytest
from django.core.management import call_command
from django.db import connection

from eventplanner.benchmark import floors
from eventplanner.benchmark.seed import event_name
from fulfillment import services as fulfillment_services
from fulfillment.models import EventRecipientPackage
from planning import services as planning_services
from planning.models import Event, EventProductionTarget

pytestmark = pytest.mark.django_db


@pytest.fixture
def season(atomic):
    call_command("seed_bench", scale=0.02, stdout=io.StringIO())
    return {n: Event.objects.get(name=event_name(n)).pk for n in (1, 6)}


def _init_fields(row_type) -> list[str]:
    """A progress row's own fields in order, as its floor selects them after the event id."""
    return [field.name for field in dataclasses.fields(row_type) if field.init]


PRODUCTION_COLUMNS = _init_fields(planning_services.ProductionProgress)
ASSEMBLY_COLUMNS = _init_fields(planning_services.AssemblyProgress)


def _row(event: int, progress, columns: list[str]) -> tuple:
    return (event, *(getattr(progress, column) for column in columns))


@pytest.mark.parametrize("number", [1, 6])
def test_progress_floors_match_the_services(season, number):
    event = season[number]
    production = planning_services.get_production_progress(event, connection=connection)
    assert floors.production_progress(event, connection=connection) == [
        _row(event, p, PRODUCTION_COLUMNS) for p in production
    ]
    assembly = planning_services.get_assembly_progress(event, connection=connection)
    assert floors.assembly_progress(event, connection=connection) == [
        _row(event, a, ASSEMBLY_COLUMNS) for a in assembly
    ]
    # Some targets complete and some not, or the comparison proves little.
    assert {p.is_complete for p in production} == {True, False}


@pytest.mark.parametrize("number", [1, 6])
def test_overall_floor_matches_the_service(season, number):
    event = season[number]
    overall = planning_services.get_event_overall_progress(event, connection=connection)
    assert floors.overall_progress(event, connection=connection) == (
        overall.production_targets_count,
        overall.production_complete_count,
        overall.assembly_targets_count,
        overall.assembly_complete_count,
        overall.packages_pending,
        overall.packages_ready,
        overall.packages_delivered,
    )


def test_events_with_progress_floor_matches_the_service(season):
    rows = planning_services.get_events_with_progress(when="all", connection=connection)
    floor = floors.events_with_progress(connection=connection)
    events = [row for row in floor if row[0] == 0]
    assert [(r[1], r[6], r[7], r[8]) for r in events] == [
        (
            row.event.pk,
            row.overall.packages_pending,
            row.overall.packages_ready,
            row.overall.packages_delivered,
        )
        for row in rows
    ]
    production = sorted((r[1], r[11], r[6], r[7]) for r in floor if r[0] == 1)
    assert production == sorted(
        (row.event.pk, p.target_id, p.produced_batches, p.produced_yield)
        for row in rows
        for p in row.production
    )
    assembly = sorted((r[1], r[11], r[6]) for r in floor if r[0] == 2)
    assert assembly == sorted(
        (row.event.pk, a.target_id, a.assembled_quantity) for row in rows for a in row.assembly
    )


def test_targets_floor_matches_the_service(season):
    event = season[1]
    targets = planning_services.get_production_targets(event, connection=connection)
    rows = floors.production_targets(event, connection=connection)
    assert rows == [(t.pk, t.recipe_id, t.recipe.name, t.target_batches, t.notes) for t in targets]
    assert rows == [
        astuple(row)
        for row in planning_services.list_production_target_rows(event, connection=connection)
    ]


@pytest.mark.parametrize("status", [None, "pending", "ready", "delivered"])
def test_packages_floor_matches_the_service(season, status):
    event = season[1]
    packages = fulfillment_services.list_assignment_rows(event, status, connection=connection)
    rows = floors.packages_by_status(event, status, connection=connection)
    assert packages
    # The same columns (the timestamp aside: SQLite's cursor returns it as text).
    assert [row[:8] + row[9:] for row in rows] == [
        astuple(p)[:8] + astuple(p)[9:] for p in packages
    ]
    models = fulfillment_services.get_packages_by_status(event, status, connection=connection)
    assert [row[0] for row in rows] == [assignment.pk for assignment in models]


def test_write_floors_do_what_the_services_do(season):
    event = season[6]
    target = EventProductionTarget.objects.filter(event_id=event).first()
    floors.upsert_production_target(event, target.recipe_id, 77, connection=connection)
    target.refresh_from_db()
    assert target.target_batches == 77
    count = EventProductionTarget.objects.count()
    untargeted = (
        EventProductionTarget.objects.exclude(event_id=event)
        .exclude(
            recipe_id__in=EventProductionTarget.objects.filter(event_id=event).values("recipe_id")
        )
        .values_list("recipe_id", flat=True)
        .first()
    )
    floors.upsert_production_target(event, untargeted, 3, connection=connection)
    assert EventProductionTarget.objects.count() == count + 1

    pending = list(
        EventRecipientPackage.objects.filter(event_id=season[1], fulfillment_status="pending")
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    floors.set_status(pending[0], "ready", connection=connection)
    assert len(pending) > 2
    floors.set_status_many(pending[1:], "ready", connection=connection)
    assert set(
        EventRecipientPackage.objects.filter(pk__in=pending).values_list(
            "fulfillment_status", flat=True
        )
    ) == {"ready"}
