"""The benchmark season: its exact shape (at a small scale) and that it is deterministic."""

import io
from collections import Counter

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Count

from eventplanner.benchmark.seed import bench_shape, event_name
from fulfillment.models import EventRecipientPackage, FulfillmentStatusChange, Recipient
from planning import models as planning

SCALE = 0.02


def seed(database="default", scale=SCALE):
    out = io.StringIO()
    call_command("seed_bench", scale=scale, database=database, stdout=out)
    return out.getvalue()


def per_event(model, alias="default"):
    rows = model.objects.using(alias).values("event__name").annotate(n=Count("pk"))
    return {row["event__name"]: row["n"] for row in rows}


def test_bench_shape_at_full_scale_is_the_documented_season():
    shape = bench_shape(1)
    assert (shape.events, shape.large_events, shape.small_events) == (20, 5, 15)
    assert (shape.recipes, shape.finished_goods, shape.packages, shape.recipients) == (
        200,
        100,
        50,
        500,
    )
    assert (shape.large.production_targets, shape.large.assembly_targets) == (200, 100)
    assert (shape.large.production_runs, shape.large.assembly_runs) == (5000, 2000)
    assert shape.large.assignments == 2000
    assert (shape.small.production_targets, shape.small.assembly_targets) == (20, 10)
    assert (shape.small.production_runs, shape.small.assembly_runs) == (250, 100)
    assert shape.small.assignments == 100
    assert (shape.standalone_production_runs, shape.standalone_assembly_runs) == (5000, 2000)

    ten = bench_shape(10)
    assert (ten.recipients, ten.large.production_runs, ten.large.assignments) == (
        5000,
        50000,
        20000,
    )
    assert (ten.recipes, ten.large.production_targets) == (200, 200)


@pytest.mark.django_db
def test_seed_bench_builds_the_exact_shape():
    shape = bench_shape(SCALE)
    output = seed()

    assert "Seeded in" in output
    assert planning.Event.objects.count() == shape.events
    assert planning.Recipe.objects.count() == shape.recipes
    assert planning.FinishedGood.objects.count() == shape.finished_goods
    assert Recipient.objects.count() == shape.recipients
    expected = {event_name(n): shape.event(n) for n in range(1, shape.events + 1)}
    assert per_event(planning.EventProductionTarget) == {
        name: size.production_targets for name, size in expected.items()
    }
    assert per_event(planning.EventAssemblyTarget) == {
        name: size.assembly_targets for name, size in expected.items()
    }
    assert per_event(planning.ProductionRun) == {
        None: shape.standalone_production_runs,
        **{name: size.production_runs for name, size in expected.items()},
    }
    assert per_event(planning.AssemblyRun) == {
        None: shape.standalone_assembly_runs,
        **{name: size.assembly_runs for name, size in expected.items()},
    }
    assert per_event(EventRecipientPackage) == {
        name: size.assignments for name, size in expected.items()
    }


@pytest.mark.django_db
def test_seed_bench_spreads_statuses_and_keeps_a_history_for_each_change():
    seed()
    large = planning.Event.objects.get(name=event_name(1))
    statuses = Counter(large.assignments.values_list("fulfillment_status", flat=True))
    total = bench_shape(SCALE).large.assignments
    assert statuses == {
        "pending": round(total * 0.5),
        "ready": round(total * 0.3),
        "delivered": total - round(total * 0.5) - round(total * 0.3),
    }
    # One history row per step taken: ready rows one, delivered rows two.
    assert FulfillmentStatusChange.objects.filter(assignment__event=large).count() == (
        statuses["ready"] + 2 * statuses["delivered"]
    )


@pytest.mark.django_db
def test_seed_bench_attributes_runs_only_to_targeted_items():
    seed()
    for event in planning.Event.objects.all():
        targeted = set(event.production_targets.values_list("recipe_id", flat=True))
        baked = set(event.production_runs.values_list("recipe_id", flat=True))
        assert baked <= targeted
    assert all(
        run.actual_yield <= run.num_batches * run.recipe.yield_per_batch
        for run in planning.ProductionRun.objects.select_related("recipe")
    )


@pytest.mark.django_db
def test_seed_bench_refuses_a_database_that_has_data():
    seed()
    with pytest.raises(CommandError, match="empty"):
        seed()


@pytest.mark.django_db
def test_seed_bench_refuses_a_scale_that_is_not_positive():
    with pytest.raises(CommandError, match="greater than 0"):
        seed(scale=0)
    assert not planning.Event.objects.exists()


def snapshot(alias):
    """The seeded content by natural keys (primary keys depend on the database's sequences)."""
    return {
        "recipes": list(
            planning.Recipe.objects.using(alias)
            .order_by("name")
            .values_list("name", "category", "yield_per_batch", "yield_unit")
        ),
        "targets": sorted(
            planning.EventProductionTarget.objects.using(alias).values_list(
                "event__name", "recipe__name", "target_batches"
            )
        ),
        "runs": sorted(
            planning.ProductionRun.objects.using(alias).values_list(
                "event__name", "recipe__name", "num_batches", "actual_yield", "produced_at"
            ),
            key=repr,
        ),
        "assignments": sorted(
            EventRecipientPackage.objects.using(alias).values_list(
                "event__name",
                "recipient__name",
                "recipient__household",
                "package__name",
                "quantity",
                "fulfillment_status",
            )
        ),
    }


@pytest.mark.django_db(databases=["default", "other"])
def test_seed_bench_is_deterministic():
    seed("default")
    seed("other")
    assert snapshot("default") == snapshot("other")
