from __future__ import annotations

from django import forms

from eventplanner.widgets import ListSelect
from planning.models import Event, FinishedGood, FinishedGoodComponent, Recipe

WHOLE_NUMBER = {
    "invalid": "Enter a whole number, like 4.",
    "min_value": "Enter a whole number of 1 or more.",
    # A number field with letters typed in arrives empty: the same words fit both cases.
    "required": "Enter a whole number, like 4.",
}


CHOOSE_RECIPE = {
    "required": "Choose a recipe.",
    "invalid_choice": "That recipe no longer exists; choose another.",
}
CHOOSE_GOOD = {
    "required": "Choose a finished good.",
    "invalid_choice": "That finished good no longer exists; choose another.",
}


def positive_int_field(label: str, **kwargs) -> forms.IntegerField:
    return forms.IntegerField(
        label=label,
        min_value=1,
        max_value=1_000_000,
        error_messages={**WHOLE_NUMBER, "max_value": "That is more than 1,000,000."},
        widget=forms.NumberInput(attrs={"min": 1, "step": 1, "inputmode": "numeric"}),
        **kwargs,
    )


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%d", **kwargs)


class EventForm(forms.Form):
    name = forms.CharField(max_length=200)
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


class _ItemChoiceForm(_UniqueIdsForm):
    """A form whose item select offers only `available` items, while still accepting any
    existing item: a stale page that posts an item that meanwhile got a target is turned into
    an edit of that target instead of an error."""

    item_field = ""

    def __init__(self, *args, available=None, **kwargs):
        super().__init__(*args, **kwargs)
        if available is not None:
            self.fields[self.item_field].choices = [("", "Choose…")] + [
                (item.pk, item.name) for item in available
            ]


class ProductionTargetForm(_ItemChoiceForm):
    id_prefix = "production-target"
    item_field = "recipe"
    recipe = forms.ModelChoiceField(
        queryset=Recipe.objects.all(),
        empty_label="Choose…",
        error_messages=CHOOSE_RECIPE,
        widget=ListSelect,
    )
    target_batches = positive_int_field("Batches")
    notes = forms.CharField(required=False, max_length=2000)


class AssemblyTargetForm(_ItemChoiceForm):
    id_prefix = "assembly-target"
    item_field = "finished_good"
    finished_good = forms.ModelChoiceField(
        queryset=FinishedGood.objects.all(),
        label="Finished good",
        empty_label="Choose…",
        error_messages=CHOOSE_GOOD,
        widget=ListSelect,
    )
    target_quantity = positive_int_field("Quantity")
    notes = forms.CharField(required=False, max_length=2000)


class ProductionTargetEditForm(_UniqueIdsForm):
    target_batches = positive_int_field("Batches")
    notes = forms.CharField(required=False, max_length=2000)


class AssemblyTargetEditForm(_UniqueIdsForm):
    target_quantity = positive_int_field("Quantity")
    notes = forms.CharField(required=False, max_length=2000)


class ProductionRunForm(_UniqueIdsForm):
    id_prefix = "production-run"
    recipe = forms.ModelChoiceField(
        queryset=Recipe.objects.all(),
        empty_label="Choose…",
        error_messages=CHOOSE_RECIPE,
        widget=ListSelect,
    )
    num_batches = positive_int_field("Batches")
    actual_yield = forms.IntegerField(
        label="Actual yield",
        required=False,
        min_value=0,
        max_value=100_000_000,
        help_text="Leave empty for batches × the recipe's yield.",
        error_messages={"invalid": "Enter a whole number.", "min_value": "Enter 0 or more."},
        widget=forms.NumberInput(attrs={"min": 0, "step": 1, "inputmode": "numeric"}),
    )
    notes = forms.CharField(required=False, max_length=2000)


class AssemblyRunForm(_UniqueIdsForm):
    id_prefix = "assembly-run"
    finished_good = forms.ModelChoiceField(
        queryset=FinishedGood.objects.all(),
        label="Finished good",
        empty_label="Choose…",
        error_messages=CHOOSE_GOOD,
        widget=ListSelect,
    )
    quantity = positive_int_field("Quantity")
    notes = forms.CharField(required=False, max_length=2000)


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
        if value is not None and value < 1:
            raise forms.ValidationError(WHOLE_NUMBER["min_value"])
        if value is not None and value > 100_000:
            raise forms.ValidationError("That is more than 100,000 per batch.")
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
