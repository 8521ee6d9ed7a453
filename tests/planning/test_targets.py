import pytest
from django.core.exceptions import ValidationError

from planning import services
from planning.kinds import ASSEMBLY, PRODUCTION
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


@pytest.mark.parametrize("kind", [PRODUCTION, ASSEMBLY], ids=lambda kind: kind.name)
@pytest.mark.parametrize("amount", BAD_AMOUNTS)
def test_set_target_refuses_non_positive_whole_numbers_naming_the_field(atomic, kind, amount):
    """Through the contract's name for each kind (set_production_target's target_batches,
    set_assembly_target's target_quantity), nothing is written."""
    event = EventFactory()
    item = (RecipeFactory if kind is PRODUCTION else FinishedGoodFactory)()
    set_kind = getattr(services, f"set_{kind.name}_target")
    with pytest.raises(ValidationError) as excinfo:
        set_kind(event.pk, item.pk, amount, connection=atomic)
    assert kind.amount_field in excinfo.value.message_dict
    assert not kind.target_model.objects.exists()


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

    assert [t.recipe.name for t in production] == ["Biscotti", "Gingerbread", "Stollen"]
    assert [t.finished_good.name for t in assembly] == ["Box", "Tin"]
    stollen = EventProductionTarget.objects.get(event=event, recipe__name="Stollen")
    assert production[2] == stollen
    assert (production[2].target_batches, production[2].notes) == (
        stollen.target_batches,
        stollen.notes,
    )


def test_target_lists_return_model_objects_with_their_item_loaded(
    atomic, django_assert_num_queries
):
    """What a caller of the contract does: read the items' fields off the returned targets
    without a query per target."""
    event = EventFactory()
    ProductionTargetFactory.create_batch(3, event=event)
    AssemblyTargetFactory.create_batch(2, event=event)

    with django_assert_num_queries(2):
        production = services.get_production_targets(event.pk, connection=atomic)
        assembly = services.get_assembly_targets(event.pk, connection=atomic)
        names = [t.recipe.name for t in production] + [t.finished_good.name for t in assembly]
        units = [t.recipe.yield_unit for t in production]
    expected_units = list(
        Recipe.objects.filter(production_targets__event=event)
        .order_by("name", "production_targets__id")
        .values_list("yield_unit", flat=True)
    )

    assert all(isinstance(t, EventProductionTarget) for t in production)
    assert all(isinstance(t, EventAssemblyTarget) for t in assembly)
    assert all(isinstance(t.recipe, Recipe) for t in production)
    assert all(isinstance(t.finished_good, FinishedGood) for t in assembly)
    assert len(names) == 5
    assert units == expected_units
    assert {t.event_id for t in [*production, *assembly]} == {event.pk}


def test_target_row_reads_list_the_same_targets_as_the_model_reads(atomic):
    event = EventFactory()
    for name in ["Stollen", "Biscotti"]:
        ProductionTargetFactory(event=event, recipe=RecipeFactory(name=name), notes=name[:3])
    AssemblyTargetFactory(event=event)

    production = services.get_production_targets(event.pk, connection=atomic)
    assert services.list_production_target_rows(event.pk, connection=atomic) == [
        services.TargetListRow(t.pk, t.recipe_id, t.recipe.name, t.target_batches, t.notes)
        for t in production
    ]
    assert [
        row.notes for row in services.list_production_target_rows(event.pk, connection=atomic)
    ] == ["Bis", "Sto"]
    assembly = services.get_assembly_targets(event.pk, connection=atomic)
    assert services.list_assembly_target_rows(event.pk, connection=atomic) == [
        services.TargetListRow(
            t.pk, t.finished_good_id, t.finished_good.name, t.target_quantity, t.notes
        )
        for t in assembly
    ]
    with pytest.raises(Event.DoesNotExist):
        services.list_production_target_rows(event.pk + 1, connection=atomic)


def test_targets_of_unknown_event_is_not_found_but_of_empty_event_is_empty(atomic):
    event = EventFactory()
    assert services.get_production_targets(event.pk, connection=atomic) == []
    assert services.get_assembly_targets(event.pk, connection=atomic) == []
    with pytest.raises(Event.DoesNotExist):
        services.get_production_targets(event.pk + 1, connection=atomic)
    with pytest.raises(Event.DoesNotExist):
        services.get_assembly_targets(event.pk + 1, connection=atomic)


def test_targets_read_in_one_query_at_any_size(atomic, django_assert_num_queries):
    for size in (3, 30):
        event = EventFactory()
        ProductionTargetFactory.create_batch(size, event=event)
        with django_assert_num_queries(1):
            targets = services.get_production_targets(event.pk, connection=atomic)
            assert all(target.recipe.name for target in targets)
        with django_assert_num_queries(1):
            rows = services.list_production_target_rows(event.pk, connection=atomic)
            assert all(row.item_name for row in rows)
        assert len(targets) == len(rows) == size


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


def test_set_target_returns_the_row_as_stored_and_whether_it_was_created(
    atomic, django_assert_num_queries
):
    event, recipe = EventFactory(), RecipeFactory()
    with django_assert_num_queries(2):
        first, created = services.set_target(
            PRODUCTION, event.pk, recipe.pk, 4, "for the boxes", connection=atomic
        )
        assert first.recipe.name == recipe.name
    assert created
    with django_assert_num_queries(2):
        second, created = services.set_target(PRODUCTION, event.pk, recipe.pk, 6, connection=atomic)
    assert not created
    stored = EventProductionTarget.objects.get()
    assert second.pk == first.pk == stored.pk
    # Notes not given are kept, and the row comes back as it is stored, not as it was sent.
    assert (second.target_batches, second.notes) == (6, "for the boxes")
    assert second.created_at == stored.created_at == first.created_at
    assert second.updated_at == stored.updated_at
    assert second.updated_at >= first.updated_at


def test_set_target_of_an_unknown_event_and_item_names_the_event_first(atomic):
    event, good = EventFactory(), FinishedGoodFactory()
    with pytest.raises(Event.DoesNotExist):
        services.set_target(ASSEMBLY, event.pk + 1, good.pk + 1, 1, connection=atomic)
    with pytest.raises(FinishedGood.DoesNotExist):
        services.set_target(ASSEMBLY, event.pk, good.pk + 1, 1, connection=atomic)
    assert not EventAssemblyTarget.objects.exists()
