import datetime

import pytest
from django.core.exceptions import ValidationError

from fulfillment.models import EventRecipientPackage
from planning import services
from planning.models import Event, EventAssemblyTarget, EventProductionTarget
from tests.fulfillment.factories import (
    AssignmentFactory,
    PackageFactory,
    PackageItemFactory,
    StatusChangeFactory,
)
from tests.planning import factories

pytestmark = pytest.mark.django_db
DATE = datetime.date(2026, 12, 24)


def test_create_event_trims_name_and_refuses_duplicates(atomic):
    event = services.create_event("  Christmas  ", DATE, connection=atomic)
    assert event.name == "Christmas"
    assert event.year == 2026
    with pytest.raises(ValidationError) as excinfo:
        services.create_event("Christmas", DATE, connection=atomic)
    assert "already an event" in excinfo.value.message_dict["name"][0]
    services.create_event("Christmas", DATE.replace(year=2027), connection=atomic)
    assert Event.objects.count() == 2


@pytest.mark.parametrize(
    ("name", "date", "field"),
    [
        ("", DATE, "name"),
        ("x" * 201, DATE, "name"),
        ("Fair", None, "event_date"),
        ("Fair", "2026-12-24", "event_date"),
        (None, DATE, "name"),
    ],
)
def test_create_event_refuses_bad_input(atomic, name, date, field):
    with pytest.raises(ValidationError) as excinfo:
        services.create_event(name, date, connection=atomic)
    assert field in excinfo.value.message_dict
    assert not Event.objects.exists()


def test_update_event_refuses_clash_with_another_event(atomic):
    factories.EventFactory(name="Christmas", event_date=DATE)
    other = factories.EventFactory(name="Advent", event_date=DATE)
    with pytest.raises(ValidationError):
        services.update_event(
            other.pk, name="Christmas", event_date=DATE, notes="", connection=atomic
        )
    same = services.update_event(
        other.pk, name="Advent", event_date=DATE, notes="new", connection=atomic
    )
    assert same.notes == "new"


def test_delete_event_removes_targets_and_assignments(atomic):
    event = factories.EventFactory()
    factories.ProductionTargetFactory(event=event)
    factories.AssemblyTargetFactory(event=event)
    AssignmentFactory.create_batch(2, event=event)
    check = services.delete_event(event.pk, connection=atomic)
    assert (check.production_targets, check.assembly_targets, check.assignments) == (1, 1, 2)
    assert not Event.objects.exists()
    assert not EventRecipientPackage.objects.exists()


@pytest.mark.parametrize("blocker", ["production_run", "assembly_run", "history"])
def test_delete_event_refused_while_runs_or_history_exist(atomic, blocker):
    event = factories.EventFactory(name="Christmas")
    if blocker == "production_run":
        factories.ProductionRunFactory(event=event)
    elif blocker == "assembly_run":
        factories.AssemblyRunFactory(event=event)
    else:
        StatusChangeFactory(assignment__event=event)
    with pytest.raises(ValidationError) as excinfo:
        services.delete_event(event.pk, connection=atomic)
    assert "cannot be deleted" in excinfo.value.message
    assert Event.objects.filter(pk=event.pk).exists()


def test_clone_event_refuses_existing_name_and_date(atomic):
    event = factories.EventFactory(name="Christmas", event_date=DATE)
    with pytest.raises(ValidationError):
        services.clone_event(event.pk, name="Christmas", event_date=DATE, connection=atomic)
    with pytest.raises(Event.DoesNotExist):
        services.clone_event(event.pk + 9, name="X", event_date=DATE, connection=atomic)


def _gift_setup(event):
    """A package with 2 gift boxes; a box holds 6 gingerbread (24 per batch) and 1 stollen
    (2 per batch); a second package has 1 tin of 8 fudge pieces (36 per batch)."""
    ginger = factories.RecipeFactory(name="Gingerbread", yield_per_batch=24)
    stollen = factories.RecipeFactory(name="Stollen", yield_per_batch=2)
    fudge = factories.RecipeFactory(name="Fudge", yield_per_batch=36)
    box = factories.FinishedGoodFactory(name="Gift box")
    tin = factories.FinishedGoodFactory(name="Tin")
    factories.FinishedGoodComponentFactory(finished_good=box, recipe=ginger, quantity=6)
    factories.FinishedGoodComponentFactory(finished_good=box, recipe=stollen, quantity=1)
    factories.FinishedGoodComponentFactory(finished_good=tin, recipe=fudge, quantity=8)
    hamper = PackageFactory(name="Hamper")
    PackageItemFactory(package=hamper, finished_good=box, quantity=2)
    small = PackageFactory(name="Small")
    PackageItemFactory(package=small, finished_good=tin, quantity=1)
    AssignmentFactory(event=event, package=hamper, quantity=1)
    AssignmentFactory(event=event, package=hamper, quantity=2)  # another recipient
    AssignmentFactory(event=event, package=small, quantity=1)
    AssignmentFactory(package=hamper, quantity=50)  # another event: never counted
    return ginger, stollen, fudge, box, tin


def test_needs_follow_assignments_packages_and_components(atomic):
    event = factories.EventFactory()
    ginger, stollen, fudge, box, tin = _gift_setup(event)
    factories.ProductionTargetFactory(event=event, recipe=stollen, target_batches=1)

    needs = services.get_event_needs(event.pk, connection=atomic)

    # 3 hampers x 2 boxes = 6 boxes; 1 tin.
    assert [(n.finished_good_name, n.units_needed) for n in needs.finished_goods] == [
        ("Gift box", 6),
        ("Tin", 1),
    ]
    # 6 boxes x 6 = 36 gingerbread -> 2 batches; 6 stollen -> 3 batches; 8 fudge -> 1 batch.
    assert [(n.recipe_name, n.items_needed, n.batches_needed) for n in needs.recipes] == [
        ("Fudge", 8, 1),
        ("Gingerbread", 36, 2),
        ("Stollen", 6, 3),
    ]
    assert {n.recipe_name: n.suggestion for n in needs.recipes} == {
        "Fudge": "create",
        "Gingerbread": "create",
        "Stollen": "raise",
    }


def test_apply_needs_creates_and_raises_but_never_lowers(atomic):
    event = factories.EventFactory()
    ginger, stollen, fudge, box, tin = _gift_setup(event)
    factories.ProductionTargetFactory(event=event, recipe=stollen, target_batches=1)
    factories.ProductionTargetFactory(
        event=event, recipe=fudge, target_batches=5
    )  # more than needed
    factories.AssemblyTargetFactory(event=event, finished_good=box, target_quantity=2)

    applied = services.apply_event_needs(
        event.pk,
        recipe_ids=[ginger.pk, stollen.pk, fudge.pk],
        finished_good_ids=[box.pk],
        connection=atomic,
    )

    assert (applied.created, applied.raised) == (1, 2)
    targets = dict(
        EventProductionTarget.objects.filter(event=event).values_list(
            "recipe__name", "target_batches"
        )
    )
    assert targets == {"Gingerbread": 2, "Stollen": 3, "Fudge": 5}
    assert EventAssemblyTarget.objects.get(event=event).target_quantity == 6


def test_needs_of_event_without_assignments_are_empty_and_unknown_is_not_found(atomic):
    event = factories.EventFactory()
    needs = services.get_event_needs(event.pk, connection=atomic)
    assert (needs.recipes, needs.finished_goods, needs.changes) == ([], [], 0)
    with pytest.raises(Event.DoesNotExist):
        services.get_event_needs(event.pk + 1, connection=atomic)


@pytest.mark.parametrize("size", [3, 100])
def test_dashboard_read_is_five_queries(atomic, django_assert_num_queries, size):
    event = factories.EventFactory()
    for target in factories.ProductionTargetFactory.create_batch(size, event=event):
        factories.ProductionRunFactory(event=event, recipe=target.recipe)
    _gift_setup(event)
    with django_assert_num_queries(5):
        dashboard = services.get_event_dashboard(event.pk, connection=atomic)
    assert len(dashboard.production) == size
    assert dashboard.overall.packages_total == 3
    assert len(dashboard.needs.recipes) == 3

    with django_assert_num_queries(3):
        without = services.get_event_dashboard(event.pk, connection=atomic, include_needs=False)
    assert without.needs is None
    assert (without.production, without.overall) == (dashboard.production, dashboard.overall)
