import pytest
from django.core.exceptions import ValidationError

from planning import services
from planning.models import (
    Event,
    EventAssemblyTarget,
    EventProductionTarget,
    FinishedGood,
    Recipe,
)
from tests.planning.factories import (
    AssemblyTargetFactory,
    EventFactory,
    FinishedGoodFactory,
    ProductionTargetFactory,
    RecipeFactory,
)

pytestmark = pytest.mark.django_db

BAD_AMOUNTS = [0, -1, 2.5, 3.0, True, False, "3", None]


def test_set_production_target_creates_then_updates_one_row(atomic):
    event, recipe = EventFactory(), RecipeFactory()
    first = services.set_production_target(
        event.pk, recipe.pk, 4, "for the boxes", connection=atomic
    )
    second = services.set_production_target(event.pk, recipe.pk, 6, connection=atomic)

    assert EventProductionTarget.objects.count() == 1
    assert first.pk == second.pk
    assert second.target_batches == 6
    assert second.recipe == recipe


def test_set_production_target_keeps_notes_when_not_given(atomic):
    target = ProductionTargetFactory(notes="double chocolate")
    services.set_production_target(target.event_id, target.recipe_id, 9, connection=atomic)
    target.refresh_from_db()
    assert (target.target_batches, target.notes) == (9, "double chocolate")


def test_set_production_target_replaces_notes_when_given_even_empty(atomic):
    target = ProductionTargetFactory(notes="old")
    services.set_production_target(target.event_id, target.recipe_id, 4, "", connection=atomic)
    target.refresh_from_db()
    assert target.notes == ""


@pytest.mark.parametrize("amount", BAD_AMOUNTS)
def test_set_production_target_refuses_non_positive_whole_numbers(atomic, amount):
    event, recipe = EventFactory(), RecipeFactory()
    with pytest.raises(ValidationError) as excinfo:
        services.set_production_target(event.pk, recipe.pk, amount, connection=atomic)
    assert "target_batches" in excinfo.value.message_dict
    assert not EventProductionTarget.objects.exists()


@pytest.mark.parametrize("amount", BAD_AMOUNTS)
def test_set_assembly_target_refuses_non_positive_whole_numbers(atomic, amount):
    event, good = EventFactory(), FinishedGoodFactory()
    with pytest.raises(ValidationError) as excinfo:
        services.set_assembly_target(event.pk, good.pk, amount, connection=atomic)
    assert "target_quantity" in excinfo.value.message_dict
    assert not EventAssemblyTarget.objects.exists()


def test_set_production_target_unknown_ids_are_not_found(atomic):
    event, recipe = EventFactory(), RecipeFactory()
    with pytest.raises(Event.DoesNotExist):
        services.set_production_target(event.pk + 100, recipe.pk, 2, connection=atomic)
    with pytest.raises(Recipe.DoesNotExist):
        services.set_production_target(event.pk, recipe.pk + 100, 2, connection=atomic)
    assert not EventProductionTarget.objects.exists()


def test_set_assembly_target_upserts_and_rejects_unknown_ids(atomic):
    event, good = EventFactory(), FinishedGoodFactory()
    services.set_assembly_target(event.pk, good.pk, 10, "ribbons", connection=atomic)
    target = services.set_assembly_target(event.pk, good.pk, 12, connection=atomic)
    assert (target.target_quantity, target.notes) == (12, "ribbons")
    assert EventAssemblyTarget.objects.count() == 1
    with pytest.raises(FinishedGood.DoesNotExist):
        services.set_assembly_target(event.pk, good.pk + 1, 1, connection=atomic)
    with pytest.raises(Event.DoesNotExist):
        services.set_assembly_target(event.pk + 1, good.pk, 1, connection=atomic)


def test_targets_listed_by_item_name_then_id(atomic):
    event = EventFactory()
    for name in ["Stollen", "Gingerbread", "Biscotti"]:
        ProductionTargetFactory(event=event, recipe=RecipeFactory(name=name))
    ProductionTargetFactory(recipe=RecipeFactory(name="Aardvark cookies"))  # other event
    for name in ["Tin", "Box"]:
        AssemblyTargetFactory(event=event, finished_good=FinishedGoodFactory(name=name))

    production = services.get_production_targets(event.pk, connection=atomic)
    assembly = services.get_assembly_targets(event.pk, connection=atomic)

    assert [t.recipe_name for t in production] == ["Biscotti", "Gingerbread", "Stollen"]
    assert [t.finished_good_name for t in assembly] == ["Box", "Tin"]
    stollen = EventProductionTarget.objects.get(event=event, recipe__name="Stollen")
    assert production[2] == services.ProductionTargetRow(
        stollen.pk, stollen.recipe_id, "Stollen", stollen.target_batches, stollen.notes
    )


def test_targets_of_unknown_event_is_not_found_but_of_empty_event_is_empty(atomic):
    event = EventFactory()
    assert services.get_production_targets(event.pk, connection=atomic) == []
    assert services.get_assembly_targets(event.pk, connection=atomic) == []
    with pytest.raises(Event.DoesNotExist):
        services.get_production_targets(event.pk + 1, connection=atomic)
    with pytest.raises(Event.DoesNotExist):
        services.get_assembly_targets(event.pk + 1, connection=atomic)


def test_targets_read_in_one_query(atomic, django_assert_num_queries):
    event = EventFactory()
    ProductionTargetFactory.create_batch(30, event=event)
    with django_assert_num_queries(1):
        rows = services.get_production_targets(event.pk, connection=atomic)
        assert all(row.recipe_name for row in rows)


def test_delete_target_returns_whether_something_was_deleted(atomic):
    production = ProductionTargetFactory()
    assembly = AssemblyTargetFactory()
    assert services.delete_production_target(
        production.event_id, production.recipe_id, connection=atomic
    )
    assert not services.delete_production_target(
        production.event_id, production.recipe_id, connection=atomic
    )
    assert services.delete_assembly_target(
        assembly.event_id, assembly.finished_good_id, connection=atomic
    )
    assert not services.delete_assembly_target(
        assembly.event_id, assembly.finished_good_id, connection=atomic
    )
    assert not EventProductionTarget.objects.exists()
    assert not EventAssemblyTarget.objects.exists()
    assert Recipe.objects.filter(pk=production.recipe_id).exists()


def test_target_amount_is_a_database_constraint():
    from django.db import IntegrityError, transaction

    target = ProductionTargetFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        EventProductionTarget.objects.filter(pk=target.pk).update(target_batches=0)


def test_recipe_with_a_target_cannot_be_deleted():
    from django.db.models import ProtectedError

    target = ProductionTargetFactory()
    with pytest.raises(ProtectedError):
        target.recipe.delete()
