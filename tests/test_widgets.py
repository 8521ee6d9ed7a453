"""ListSelect writes exactly the HTML of Django's Select (it only skips the templates)."""

import pytest
from django import forms

from eventplanner.widgets import ListSelect
from planning.forms import run_form, target_form
from planning.kinds import PRODUCTION
from tests.planning.factories import RecipeFactory

CHOICES = [("", "Choose…"), (1, "Stollen & <Biscotti>"), (2, 'Say "hi"'), (30, "Zimtsterne")]
GROUPED = [("Cookies <b>", [(1, "Biscotti"), (2, "Stollen")]), (3, "Plain")]


@pytest.mark.parametrize("choices", [CHOICES, GROUPED, []])
@pytest.mark.parametrize("value", [None, "", "1", 2, 30, "missing"])
@pytest.mark.parametrize(
    "attrs",
    [
        None,
        {"id": "id_recipe", "required": True},
        {"id": "x", "aria-invalid": "true", "aria-describedby": "x_error", "disabled": False},
    ],
)
def test_list_select_renders_what_django_select_renders(choices, value, attrs):
    expected = forms.Select(choices=choices).render("recipe", value, attrs)
    assert ListSelect(choices=choices).render("recipe", value, attrs) == expected


@pytest.mark.django_db
@pytest.mark.parametrize("form_class", [target_form(PRODUCTION), run_form(PRODUCTION)])
@pytest.mark.parametrize("data", [None, {"recipe": "nonsense"}])
def test_dashboard_item_selects_render_as_before(form_class, data):
    RecipeFactory(name="Stollen & Co")
    RecipeFactory(name="Biscotti")
    form = form_class(data)
    if data:
        form.is_valid()  # errors set aria-invalid on the select
    field = form.fields["recipe"]
    bound = form["recipe"]
    rendered = str(bound)
    field.widget = forms.Select(choices=field.choices)
    assert rendered == str(form["recipe"])
