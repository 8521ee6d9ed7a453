import pytest
from django.urls import reverse

from planning.models import FinishedGood, FinishedGoodComponent, Recipe
from tests.planning.factories import (
    FinishedGoodComponentFactory,
    FinishedGoodFactory,
    ProductionRunFactory,
    ProductionTargetFactory,
    RecipeFactory,
)

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def test_recipe_list_search_as_page_and_fragment(planner_client):
    RecipeFactory(name="Gingerbread", category="Cookies")
    RecipeFactory(name="Stollen", category="Bread")
    page = planner_client.get(reverse("planning:recipe_list"), {"q": "cook"}).content.decode()
    assert "Gingerbread" in page
    assert "Stollen" not in page
    assert "<html" in page
    fragment = planner_client.get(reverse("planning:recipe_list"), {"q": "stol"}, **HTMX)
    body = fragment.content.decode()
    assert "<html" not in body
    assert "Stollen" in body
    none = planner_client.get(reverse("planning:recipe_list"), {"q": "zzz"}).content.decode()
    assert "No recipe matches" in none


def test_create_recipe_and_validation(planner_client):
    response = planner_client.post(
        reverse("planning:recipe_create"),
        {"name": "Rum balls", "category": "Candy", "yield_per_batch": "40", "yield_unit": "balls"},
    )
    assert response.status_code == 302
    assert Recipe.objects.get().yield_per_batch == 40
    bad = planner_client.post(
        reverse("planning:recipe_create"),
        {"name": "Rum balls", "yield_per_batch": "0", "yield_unit": "balls"},
    )
    body = bad.content.decode()
    assert bad.status_code == 200
    assert "Recipe with this Name already exists." in body
    assert "Enter a whole number of 1 or more." in body
    assert Recipe.objects.count() == 1


def test_edit_recipe(planner_client):
    recipe = RecipeFactory(name="Sugar cookies")
    planner_client.post(
        reverse("planning:recipe_edit", args=[recipe.pk]),
        {"name": "Sugar cookies", "yield_per_batch": "36", "yield_unit": "cookies"},
    )
    recipe.refresh_from_db()
    assert recipe.yield_per_batch == 36


def test_delete_unused_recipe(planner_client):
    recipe = RecipeFactory()
    assert (
        planner_client.post(reverse("planning:recipe_delete", args=[recipe.pk])).status_code == 302
    )
    assert not Recipe.objects.exists()


def test_delete_recipe_in_use_explains_why_in_plain_words(planner_client):
    recipe = RecipeFactory(name="Stollen")
    ProductionTargetFactory(recipe=recipe)
    ProductionRunFactory(recipe=recipe)
    confirm = planner_client.get(reverse("planning:recipe_delete", args=[recipe.pk]))
    assert "cannot be deleted" in confirm.content.decode()  # said before the click
    assert "Delete</button>" not in confirm.content.decode()
    response = planner_client.post(reverse("planning:recipe_delete", args=[recipe.pk]))
    body = response.content.decode()
    assert response.status_code == 409
    assert "Stollen cannot be deleted because it is still used by" in body
    assert "1 event production target, 1 production run" in body
    assert "something with recorded runs is kept" in body
    assert Recipe.objects.filter(pk=recipe.pk).exists()


def test_finished_good_with_components(planner_client):
    ginger = RecipeFactory(name="Gingerbread")
    response = planner_client.post(
        reverse("planning:finished_good_create"),
        {
            "name": "Cookie box",
            "description": "",
            "components-TOTAL_FORMS": "2",
            "components-INITIAL_FORMS": "0",
            "components-0-recipe": ginger.pk,
            "components-0-quantity": "6",
            "components-1-recipe": "",
            "components-1-quantity": "",
        },
    )
    assert response.status_code == 302
    good = FinishedGood.objects.get()
    assert list(good.components.values_list("recipe__name", "quantity")) == [("Gingerbread", 6)]
    listing = planner_client.get(reverse("planning:finished_good_list")).content.decode()
    assert "6 × Gingerbread" in listing


def test_finished_good_component_quantity_must_be_positive(planner_client):
    ginger = RecipeFactory()
    response = planner_client.post(
        reverse("planning:finished_good_create"),
        {
            "name": "Cookie box",
            "components-TOTAL_FORMS": "1",
            "components-INITIAL_FORMS": "0",
            "components-0-recipe": ginger.pk,
            "components-0-quantity": "0",
        },
    )
    assert response.status_code == 200
    assert "Enter a whole number of 1 or more." in response.content.decode()
    assert not FinishedGood.objects.exists()


def test_delete_finished_good_removes_its_components(planner_client):
    component = FinishedGoodComponentFactory()
    planner_client.post(reverse("planning:finished_good_delete", args=[component.finished_good_id]))
    assert not FinishedGood.objects.exists()
    assert not FinishedGoodComponent.objects.exists()


def test_catalog_permissions_and_404(packer_client):
    recipe = RecipeFactory()
    assert packer_client.get(reverse("planning:recipe_list")).status_code == 200
    assert packer_client.get(reverse("planning:recipe_create")).status_code == 403
    assert (
        packer_client.post(reverse("planning:recipe_delete", args=[recipe.pk])).status_code == 403
    )
    assert packer_client.get(reverse("planning:finished_good_create")).status_code == 403
    assert Recipe.objects.exists()


def test_catalog_unknown_ids_are_404(planner_client):
    for name in ["recipe_edit", "recipe_delete", "finished_good_edit", "finished_good_delete"]:
        assert planner_client.get(reverse(f"planning:{name}", args=[4242])).status_code == 404


def test_finished_good_in_use_cannot_be_deleted(planner_client):
    from tests.planning.factories import AssemblyTargetFactory

    good = FinishedGoodFactory(name="Tin")
    AssemblyTargetFactory(finished_good=good)
    response = planner_client.post(reverse("planning:finished_good_delete", args=[good.pk]))
    assert "Tin cannot be deleted" in response.content.decode()
    assert FinishedGood.objects.exists()


def test_recipe_names_are_unique_ignoring_case_and_yield_is_bounded(planner_client):
    RecipeFactory(name="Biscotti")
    response = planner_client.post(
        reverse("planning:recipe_create"),
        {"name": "biscotti", "yield_per_batch": "99999999999", "yield_unit": "items"},
    )
    body = response.content.decode()
    assert "There is already a recipe with this name" in body
    assert "That is more than 100,000 per batch." in body
    assert Recipe.objects.count() == 1


def test_recipe_name_case_rule_is_a_database_constraint():
    from django.db import IntegrityError, transaction

    RecipeFactory(name="Stollen")
    with pytest.raises(IntegrityError), transaction.atomic():
        Recipe.objects.create(name="STOLLEN")
