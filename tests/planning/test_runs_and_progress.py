import datetime

import pytest
from django.core.exceptions import ValidationError

from fulfillment.models import FulfillmentStatus
from planning import services
from planning.models import AssemblyRun, Event, FinishedGood, ProductionRun, Recipe
from tests.fulfillment.factories import AssignmentFactory
from tests.planning.factories import (
    AssemblyRunFactory,
    AssemblyTargetFactory,
    EventFactory,
    FinishedGoodFactory,
    ProductionRunFactory,
    ProductionTargetFactory,
    RecipeFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def test_record_production_run_defaults_yield_to_batches_times_recipe_yield(atomic):
    recipe = RecipeFactory(yield_per_batch=24)
    event = EventFactory()
    user = UserFactory()
    run = services.record_production_run(
        recipe.pk, 3, event_id=event.pk, recorded_by=user, notes="oven 2", connection=atomic
    )
    run.refresh_from_db()
    assert (run.num_batches, run.actual_yield, run.event_id) == (3, 72, event.pk)
    assert (run.recorded_by, run.notes) == (user, "oven 2")


def test_record_production_run_keeps_an_actual_yield_of_zero(atomic):
    run = services.record_production_run(RecipeFactory().pk, 2, actual_yield=0, connection=atomic)
    run.refresh_from_db()
    assert run.actual_yield == 0
    assert run.event_id is None


@pytest.mark.parametrize("batches", [0, -2, 1.5, True, "2"])
def test_record_production_run_refuses_bad_batches(atomic, batches):
    with pytest.raises(ValidationError) as excinfo:
        services.record_production_run(RecipeFactory().pk, batches, connection=atomic)
    assert "num_batches" in excinfo.value.message_dict
    assert not ProductionRun.objects.exists()


@pytest.mark.parametrize("actual_yield", [-1, 2.0, False, "10"])
def test_record_production_run_refuses_bad_yield(atomic, actual_yield):
    with pytest.raises(ValidationError) as excinfo:
        services.record_production_run(
            RecipeFactory().pk, 1, actual_yield=actual_yield, connection=atomic
        )
    assert "actual_yield" in excinfo.value.message_dict


def test_record_runs_refuse_unknown_ids(atomic):
    recipe, good = RecipeFactory(), FinishedGoodFactory()
    with pytest.raises(Recipe.DoesNotExist):
        services.record_production_run(recipe.pk + 1, 1, connection=atomic)
    with pytest.raises(Event.DoesNotExist):
        services.record_production_run(recipe.pk, 1, event_id=999_999, connection=atomic)
    with pytest.raises(FinishedGood.DoesNotExist):
        services.record_assembly_run(good.pk + 1, 1, connection=atomic)
    with pytest.raises(Event.DoesNotExist):
        services.record_assembly_run(good.pk, 1, event_id=999_999, connection=atomic)
    assert not ProductionRun.objects.exists()
    assert not AssemblyRun.objects.exists()


@pytest.mark.parametrize("quantity", [0, -1, 2.5, True, "1"])
def test_record_assembly_run_refuses_bad_quantity(atomic, quantity):
    with pytest.raises(ValidationError) as excinfo:
        services.record_assembly_run(FinishedGoodFactory().pk, quantity, connection=atomic)
    assert "quantity" in excinfo.value.message_dict


def test_production_progress_half_done(atomic):
    target = ProductionTargetFactory(target_batches=4, recipe__yield_per_batch=12)
    services.record_production_run(target.recipe_id, 2, event_id=target.event_id, connection=atomic)
    [row] = services.get_production_progress(target.event_id, connection=atomic)
    assert row.recipe_id == target.recipe_id
    assert row.recipe_name == target.recipe.name
    assert (row.target_batches, row.produced_batches, row.produced_yield) == (4, 2, 24)
    assert row.progress_pct == 50.0
    assert row.is_complete is False


def test_production_progress_is_not_capped_and_complete_when_exceeded(atomic):
    target = ProductionTargetFactory(target_batches=4)
    ProductionRunFactory(event=target.event, recipe=target.recipe, num_batches=3, actual_yield=30)
    ProductionRunFactory(event=target.event, recipe=target.recipe, num_batches=2, actual_yield=5)
    [row] = services.get_production_progress(target.event_id, connection=atomic)
    assert (row.produced_batches, row.produced_yield) == (5, 35)
    assert row.progress_pct == 125.0
    assert row.is_complete is True


def test_only_the_events_own_runs_count(atomic):
    target = ProductionTargetFactory(target_batches=4)
    other_event = EventFactory()
    ProductionRunFactory(event=other_event, recipe=target.recipe, num_batches=3)
    ProductionRunFactory(event=None, recipe=target.recipe, num_batches=3)
    ProductionRunFactory(event=target.event, recipe=RecipeFactory(), num_batches=3)
    ProductionRunFactory(event=target.event, recipe=target.recipe, num_batches=1)
    [row] = services.get_production_progress(target.event_id, connection=atomic)
    assert row.produced_batches == 1
    assert row.progress_pct == 25.0


def test_target_without_runs_has_zero_progress(atomic):
    target = AssemblyTargetFactory(target_quantity=8)
    [row] = services.get_assembly_progress(target.event_id, connection=atomic)
    assert (row.assembled_quantity, row.progress_pct, row.is_complete) == (0, 0.0, False)


def test_assembly_progress_counts_only_the_events_runs(atomic):
    target = AssemblyTargetFactory(target_quantity=4)
    services.record_assembly_run(
        target.finished_good_id, 2, event_id=target.event_id, connection=atomic
    )
    services.record_assembly_run(target.finished_good_id, 7, connection=atomic)
    AssemblyRunFactory(finished_good=target.finished_good, quantity=9)  # another event
    [row] = services.get_assembly_progress(target.event_id, connection=atomic)
    assert row.finished_good_id == target.finished_good_id
    assert row.finished_good_name == target.finished_good.name
    assert (row.target_quantity, row.assembled_quantity) == (4, 2)
    assert (row.progress_pct, row.is_complete) == (50.0, False)


def test_progress_rows_are_ordered_by_name(atomic):
    event = EventFactory()
    for name in ["Zimtsterne", "Anise", "Macarons"]:
        ProductionTargetFactory(event=event, recipe=RecipeFactory(name=name))
    names = [r.recipe_name for r in services.get_production_progress(event.pk, connection=atomic)]
    assert names == ["Anise", "Macarons", "Zimtsterne"]


def test_progress_of_unknown_event_is_not_found(atomic):
    with pytest.raises(Event.DoesNotExist):
        services.get_production_progress(123456, connection=atomic)
    with pytest.raises(Event.DoesNotExist):
        services.get_assembly_progress(123456, connection=atomic)
    with pytest.raises(Event.DoesNotExist):
        services.get_event_overall_progress(123456, connection=atomic)


def test_progress_of_event_without_targets_is_empty(atomic):
    event = EventFactory()
    assert services.get_production_progress(event.pk, connection=atomic) == []
    assert services.get_assembly_progress(event.pk, connection=atomic) == []


def _event_with_targets(n: int) -> Event:
    event = EventFactory()
    for target in ProductionTargetFactory.create_batch(n, event=event):
        ProductionRunFactory(event=event, recipe=target.recipe, num_batches=2)
    for target in AssemblyTargetFactory.create_batch(n, event=event):
        AssemblyRunFactory(event=event, finished_good=target.finished_good, quantity=3)
    AssignmentFactory.create_batch(3, event=event)
    return event


@pytest.mark.parametrize("size", [5, 300])
def test_progress_query_counts_do_not_grow_with_targets(
    atomic, django_assert_max_num_queries, size
):
    event = _event_with_targets(size)
    with django_assert_max_num_queries(1):
        assert len(services.get_production_progress(event.pk, connection=atomic)) == size
    with django_assert_max_num_queries(1):
        assert len(services.get_assembly_progress(event.pk, connection=atomic)) == size
    with django_assert_max_num_queries(3):
        overall = services.get_event_overall_progress(event.pk, connection=atomic)
    assert overall.production_targets_count == size
    assert overall.packages_total == 3


def test_overall_progress_counts_targets_and_packages(atomic):
    event = EventFactory()
    done = ProductionTargetFactory(event=event, target_batches=2)
    ProductionRunFactory(event=event, recipe=done.recipe, num_batches=2)
    ProductionTargetFactory(event=event, target_batches=2)
    assembled = AssemblyTargetFactory(event=event, target_quantity=1)
    AssemblyRunFactory(event=event, finished_good=assembled.finished_good, quantity=1)
    AssignmentFactory.create_batch(3, event=event)
    AssignmentFactory.create_batch(2, event=event, ready=True)
    AssignmentFactory(event=event, delivered=True, quantity=5)
    AssignmentFactory(delivered=True)  # another event

    overall = services.get_event_overall_progress(event.pk, connection=atomic)

    assert (overall.production_targets_count, overall.production_complete_count) == (2, 1)
    assert overall.production_complete is False
    assert (overall.assembly_targets_count, overall.assembly_complete_count) == (1, 1)
    assert overall.assembly_complete is True
    assert (overall.packages_pending, overall.packages_ready, overall.packages_delivered) == (
        3,
        2,
        1,
    )
    assert overall.packages_total == 6


def test_event_without_targets_is_never_complete(atomic):
    event = EventFactory()
    overall = services.get_event_overall_progress(event.pk, connection=atomic)
    assert overall.production_targets_count == 0
    assert overall.production_complete is False
    assert overall.assembly_complete is False
    assert overall.packages_total == 0


TODAY = datetime.date(2026, 12, 1)


def _dated_events():
    return {
        "past": EventFactory(name="Thanksgiving", event_date=datetime.date(2026, 11, 26)),
        "today_b": EventFactory(name="Bake sale", event_date=TODAY),
        "today_a": EventFactory(name="Advent fair", event_date=TODAY),
        "future": EventFactory(name="Christmas", event_date=datetime.date(2026, 12, 24)),
    }


def _names(rows):
    return [row.event.name for row in rows]


def test_events_with_progress_upcoming_includes_today_in_date_then_name_order(atomic):
    _dated_events()
    rows = services.get_events_with_progress(connection=atomic, today=TODAY)
    assert _names(rows) == ["Advent fair", "Bake sale", "Christmas"]


def test_events_with_progress_past_and_all(atomic):
    _dated_events()
    past = services.get_events_with_progress(connection=atomic, when="past", today=TODAY)
    every = services.get_events_with_progress(connection=atomic, when="all", today=TODAY)
    assert _names(past) == ["Thanksgiving"]
    assert _names(every) == ["Thanksgiving", "Advent fair", "Bake sale", "Christmas"]


def test_events_with_progress_inclusive_date_range(atomic):
    _dated_events()
    rows = services.get_events_with_progress(
        connection=atomic,
        when="all",
        date_from=datetime.date(2026, 11, 26),
        date_to=TODAY,
        today=TODAY,
    )
    assert _names(rows) == ["Thanksgiving", "Advent fair", "Bake sale"]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"when": "soon"}, "when"),
        ({"date_from": "2026-01-01"}, "date_from"),
        ({"date_to": datetime.datetime(2026, 1, 1)}, "date_to"),  # noqa: DTZ001
        (
            {"date_from": datetime.date(2026, 2, 1), "date_to": datetime.date(2026, 1, 1)},
            "date_to",
        ),
    ],
)
def test_events_with_progress_refuses_bad_filters(atomic, kwargs, field):
    with pytest.raises(ValidationError) as excinfo:
        services.get_events_with_progress(connection=atomic, **kwargs)
    assert field in excinfo.value.message_dict


def test_events_with_progress_carries_each_events_own_progress(atomic):
    first = EventFactory(event_date=TODAY)
    second = EventFactory(event_date=TODAY + datetime.timedelta(days=1))
    target = ProductionTargetFactory(event=first, target_batches=4)
    ProductionRunFactory(event=first, recipe=target.recipe, num_batches=2)
    ProductionTargetFactory(event=second, recipe=target.recipe, target_batches=1)
    AssignmentFactory(event=second, fulfillment_status=FulfillmentStatus.READY)

    rows = services.get_events_with_progress(connection=atomic, today=TODAY)

    assert [r.event for r in rows] == [first, second]
    assert rows[0].production[0].progress_pct == 50.0
    assert rows[1].production[0].produced_batches == 0
    assert rows[0].assembly == []
    assert rows[1].overall.packages_ready == 1
    assert rows[0].overall.packages_total == 0


@pytest.mark.parametrize("n_events", [3, 50])
def test_events_with_progress_query_count_is_constant(
    atomic, django_assert_max_num_queries, n_events
):
    for _ in range(n_events):
        event = EventFactory(event_date=TODAY)
        target = ProductionTargetFactory(event=event)
        ProductionRunFactory(event=event, recipe=target.recipe)
        AssemblyTargetFactory(event=event)
        AssignmentFactory(event=event)
    with django_assert_max_num_queries(3):
        rows = services.get_events_with_progress(connection=atomic, when="all", today=TODAY)
        assert len(rows) == n_events
        assert all(r.overall.production_targets_count == 1 for r in rows)


def test_events_with_progress_average_caps_each_target_at_100(atomic):
    event = EventFactory(event_date=TODAY)
    half = ProductionTargetFactory(event=event, target_batches=4)
    ProductionRunFactory(event=event, recipe=half.recipe, num_batches=2)  # 50%
    over = ProductionTargetFactory(event=event, target_batches=1)
    ProductionRunFactory(event=event, recipe=over.recipe, num_batches=3)  # 300% -> 100%
    AssemblyTargetFactory(event=event)  # 0%
    [row] = services.get_events_with_progress(connection=atomic, today=TODAY)
    assert row.average_pct == 50.0
