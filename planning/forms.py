from __future__ import annotations

from functools import cache

from django import forms
from django.db.models import Model

from eventplanner.limits import ACTUAL_YIELD, AMOUNT, NOTES, YIELD_PER_BATCH, max_length
from eventplanner.widgets import ListSelect
from planning.kinds import ASSEMBLY, PRODUCTION, TargetKind
from planning.models import Event, FinishedGood, FinishedGoodComponent, Recipe

WHOLE_NUMBER = {
    "invalid": "Enter a whole number, like 4.",
    "min_value": "Enter a whole number of 1 or more.",
    # A number field with letters typed in arrives empty: the same words fit both cases.
    "required": "Enter a whole number, like 4.",
}


def choose_messages(model: type[Model]) -> dict[str, str]:
    """The errors of a select of `model`'s items, in its own words."""
    name = model._meta.verbose_name
    return {
        "required": f"Choose a {name}.",
        "invalid_choice": f"That {name} no longer exists; choose another.",
    }


CHOOSE_RECIPE = choose_messages(Recipe)


def positive_int_field(label: str, **kwargs) -> forms.IntegerField:
    return forms.IntegerField(
        label=label,
        min_value=AMOUNT.minimum,
        max_value=AMOUNT.maximum,
        error_messages={**WHOLE_NUMBER, "max_value": AMOUNT.too_large},
        widget=forms.NumberInput(attrs={"min": AMOUNT.minimum, "step": 1, "inputmode": "numeric"}),
        **kwargs,
    )


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%d", **kwargs)


class EventForm(forms.Form):
    name = forms.CharField(max_length=max_length(Event, "name"))
    event_date = forms.DateField(label="Date", widget=DateInput())
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))

    @classmethod
    def for_event(cls, event: Event, **kwargs) -> EventForm:
        return cls(
            initial={"name": event.name, "event_date": event.event_date, "notes": event.notes},
            **kwargs,
        )


class EventFilterForm(forms.Form):
    WHEN = [("upcoming", "Upcoming"), ("past", "Past"), ("all", "All")]

    when = forms.ChoiceField(choices=WHEN, required=False, widget=forms.RadioSelect)
    date_from = forms.DateField(label="From", required=False, widget=DateInput())
    date_to = forms.DateField(label="To", required=False, widget=DateInput())

    def clean_when(self) -> str:
        return self.cleaned_data.get("when") or "upcoming"

    def clean(self):
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            self.add_error("date_to", "The end date is before the start date.")
        return data


class _UniqueIdsForm(forms.Form):
    """Several forms share the dashboard: each gets its own id prefix (field names stay
    plain), so every label points at its own input."""

    id_prefix = "id"

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", f"{self.id_prefix}_%s")
        super().__init__(*args, **kwargs)


# The amount of a target, and of a run, of each kind as its field is labelled.
AMOUNT_LABELS = {PRODUCTION.name: "Batches", ASSEMBLY.name: "Quantity"}


def _item_field(kind: TargetKind) -> forms.ModelChoiceField:
    """The item select. It offers what the view puts in its choices, but accepts any existing
    item: a stale page that posts an item that meanwhile got a target turns into an edit of
    that target instead of an error."""
    return forms.ModelChoiceField(
        queryset=kind.item_model._default_manager.all(),
        label=kind.label,
        empty_label="Choose…",
        error_messages=choose_messages(kind.item_model),
        widget=ListSelect,
    )


def _notes_field() -> forms.CharField:
    return forms.CharField(required=False, max_length=NOTES)


def _actual_yield_field() -> forms.IntegerField:
    return forms.IntegerField(
        label="Actual yield",
        required=False,
        min_value=ACTUAL_YIELD.minimum,
        max_value=ACTUAL_YIELD.maximum,
        help_text="Leave empty for batches × the recipe's yield.",
        error_messages={"invalid": "Enter a whole number.", "min_value": "Enter 0 or more."},
        widget=forms.NumberInput(attrs={"min": 0, "step": 1, "inputmode": "numeric"}),
    )


def _amount_field(kind: TargetKind) -> forms.IntegerField:
    return positive_int_field(AMOUNT_LABELS[kind.name])


def _form_class(
    kind: TargetKind, role: str, id_prefix: str, fields: dict[str, forms.Field]
) -> type[forms.Form]:
    """The form class for `role` ("Target", "TargetEdit", "Run") of `kind`: `fields`, then
    notes."""
    attrs = {"__module__": __name__, "id_prefix": id_prefix, **fields, "notes": _notes_field()}
    return type(f"{kind.name.capitalize()}{role}Form", (_UniqueIdsForm,), attrs)


@cache
def target_form(kind: TargetKind) -> type[forms.Form]:
    """Add a target of this kind: the item, the amount, notes."""
    fields = {kind.item_field: _item_field(kind), kind.amount_field: _amount_field(kind)}
    return _form_class(kind, "Target", f"{kind.name}-target", fields)


@cache
def target_edit_form(kind: TargetKind) -> type[forms.Form]:
    """Change a target's amount and notes (its item stays)."""
    fields: dict[str, forms.Field] = {kind.amount_field: _amount_field(kind)}
    return _form_class(kind, "TargetEdit", _UniqueIdsForm.id_prefix, fields)


@cache
def run_form(kind: TargetKind) -> type[forms.Form]:
    """Record a run of this kind; a production run may give what the batches really made."""
    fields = {kind.item_field: _item_field(kind), kind.run_amount_field: _amount_field(kind)}
    if kind is PRODUCTION:
        fields["actual_yield"] = _actual_yield_field()
    return _form_class(kind, "Run", f"{kind.name}-run", fields)


CHANGED_SUGGESTIONS = {
    "invalid_choice": (
        "The suggestions changed since the page was loaded (%(value)s is no longer one of "
        "them). Check the ticks against the list below and apply again."
    )
}


class ApplyNeedsForm(forms.Form):
    recipe_ids = forms.TypedMultipleChoiceField(
        coerce=int, required=False, error_messages=CHANGED_SUGGESTIONS
    )
    finished_good_ids = forms.TypedMultipleChoiceField(
        coerce=int, required=False, error_messages=CHANGED_SUGGESTIONS
    )

    def __init__(self, *args, needs=None, **kwargs):
        super().__init__(*args, **kwargs)
        if needs is not None:
            self.fields["recipe_ids"].choices = [
                (n.recipe_id, n.recipe_name) for n in needs.recipes if n.suggestion != "ok"
            ]
            self.fields["finished_good_ids"].choices = [
                (n.finished_good_id, n.finished_good_name)
                for n in needs.finished_goods
                if n.suggestion != "ok"
            ]

    def clean(self):
        data = super().clean()
        if not data.get("recipe_ids") and not data.get("finished_good_ids") and not self.errors:
            raise forms.ValidationError("Tick at least one suggested target to apply.")
        return data


class RecipeForm(forms.ModelForm):
    class Meta:
        model = Recipe
        fields = ["name", "category", "yield_per_batch", "yield_unit", "notes"]
        widgets = {"notes": forms.Textarea(attrs={"rows": 3})}
        error_messages = {"yield_per_batch": WHOLE_NUMBER}

    def clean_yield_per_batch(self):
        value = self.cleaned_data["yield_per_batch"]
        if value is not None and value < YIELD_PER_BATCH.minimum:
            raise forms.ValidationError(WHOLE_NUMBER["min_value"])
        if value is not None and value > YIELD_PER_BATCH.maximum:
            raise forms.ValidationError(f"{YIELD_PER_BATCH.too_large[:-1]} per batch.")
        return value


class FinishedGoodForm(forms.ModelForm):
    class Meta:
        model = FinishedGood
        fields = ["name", "description"]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}


class ComponentForm(forms.ModelForm):
    # No initial value, so an untouched extra row counts as empty and is skipped.
    quantity = positive_int_field("Items per unit")
    recipe = forms.ModelChoiceField(
        queryset=Recipe.objects.all(),
        empty_label="Choose…",
        error_messages=CHOOSE_RECIPE,
        widget=ListSelect,
    )

    class Meta:
        model = FinishedGoodComponent
        fields = ["recipe", "quantity"]


ComponentFormSet = forms.inlineformset_factory(
    FinishedGood,
    FinishedGoodComponent,
    form=ComponentForm,
    extra=3,
    can_delete=True,
    can_delete_extra=False,
    # A finished good has a handful of components; a posted form count beyond this is
    # refused instead of building and rendering thousands of forms.
    max_num=50,
    absolute_max=50,
    validate_max=True,
)
