"""Forms parse what people type; the services decide what is allowed."""

from __future__ import annotations

from django import forms

from eventplanner.domain import MAX_ID
from eventplanner.limits import NOTES, PACKED, max_length
from fulfillment.models import FulfillmentStatus, Package, Recipient
from planning.models import FinishedGood

WHOLE_NUMBER = {
    "invalid": "Enter a whole number, like 2.",
    "min_value": "Enter a whole number of 1 or more.",
    "max_value": PACKED.too_large,
    "required": "Enter how many.",
}
STATUS_CHOICES = FulfillmentStatus.choices


def quantity_field(label: str = "Quantity", **kwargs) -> forms.IntegerField:
    return forms.IntegerField(
        label=label,
        min_value=PACKED.minimum,
        max_value=PACKED.maximum,
        error_messages=WHOLE_NUMBER,
        widget=forms.NumberInput(attrs={"min": PACKED.minimum, "step": 1, "inputmode": "numeric"}),
        **kwargs,
    )


def chosen_id_field(label: str) -> forms.IntegerField:
    """The id of an entry picked from search results: anything else asks to choose again."""
    choose = f"Choose a {label.lower()}."
    return forms.IntegerField(
        label=label,
        min_value=1,
        max_value=MAX_ID,
        error_messages={"required": choose, "invalid": choose, "max_value": choose},
        widget=forms.Select(),
    )


class IdListField(forms.Field):
    """A list of whole-number ids from repeated form values (checkboxes, hidden inputs)."""

    widget = forms.MultipleHiddenInput
    default_error_messages = {"invalid": "Choose packages from the list."}

    def to_python(self, value):
        if not value:
            return []
        try:
            ids = sorted({int(v) for v in value})
        except (TypeError, ValueError):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from None
        if ids and not (ids[0] >= 1 and ids[-1] <= MAX_ID):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return ids


class FulfillmentFilterForm(forms.Form):
    """The page's filter: status, search by recipient, page number. Bad values fall back to
    the defaults instead of failing, so a mangled link still shows the page."""

    status = forms.ChoiceField(
        choices=[("", "All statuses"), *STATUS_CHOICES], required=False, label="Status"
    )
    q = forms.CharField(required=False, max_length=200, label="Search recipient")
    page = forms.IntegerField(required=False, min_value=1, max_value=1_000_000)

    def filters(self) -> dict:
        # Each field on its own: a mangled page number keeps the status and the search.
        self.is_valid()
        data = self.cleaned_data
        return {
            "status": data.get("status") or None,
            "search": (data.get("q") or "").strip(),
            "page": data.get("page") or 1,
        }


class StatusChangeForm(forms.Form):
    new_status = forms.ChoiceField(choices=STATUS_CHOICES)
    expected_status = forms.ChoiceField(choices=STATUS_CHOICES, required=False)


class TakeBackForm(forms.Form):
    """Taking back one's own step: the status the row showed when it was offered."""

    expected_status = forms.ChoiceField(choices=STATUS_CHOICES)


class BulkStatusForm(forms.Form):
    ids = IdListField(required=False)
    new_status = forms.ChoiceField(
        choices=[(FulfillmentStatus.READY, "Ready"), (FulfillmentStatus.DELIVERED, "Delivered")]
    )


class UndoForm(forms.Form):
    reason = forms.CharField(
        label="Reason",
        max_length=500,
        error_messages={"required": "Say why the status goes back (it is kept in the history)."},
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    # The status the page showed: the step goes back from it only, so a repeated post or a
    # row that moved meanwhile never steps twice.
    expected_status = forms.ChoiceField(
        choices=STATUS_CHOICES,
        error_messages={
            "required": "The page did not say which status it showed; reload it.",
            "invalid_choice": "The page did not say which status it showed; reload it.",
        },
    )

    def clean(self):
        cleaned = super().clean()
        # A hidden input: its error belongs to the form, where the page shows it.
        if self.has_error("expected_status"):
            self.add_error(None, self.errors.pop("expected_status"))
        return cleaned


class AssignmentForm(forms.Form):
    """Recipient and package are chosen by id from search results; the service checks that
    they exist, so a stale or crafted id is a form error, never a server error."""

    recipient_q = forms.CharField(required=False, max_length=200, label="Find recipient")
    recipient = chosen_id_field("Recipient")
    package_q = forms.CharField(required=False, max_length=200, label="Find package")
    package = chosen_id_field("Package")
    quantity = quantity_field(initial=1)
    notes = forms.CharField(
        required=False, max_length=NOTES, widget=forms.Textarea(attrs={"rows": 2})
    )

    def set_choices(self, recipients, packages) -> None:
        self.fields["recipient"].widget.choices = [("", "Choose…")] + [
            (r.pk, f"{r.name} ({r.household})" if r.household else r.name) for r in recipients
        ]
        self.fields["package"].widget.choices = [("", "Choose…")] + [
            (p.pk, p.name) for p in packages
        ]


class AssignmentEditForm(forms.Form):
    quantity = quantity_field()
    notes = forms.CharField(
        required=False, max_length=NOTES, widget=forms.Textarea(attrs={"rows": 2})
    )


class SearchForm(forms.Form):
    q = forms.CharField(required=False, max_length=200, label="Search")
    page = forms.IntegerField(required=False, min_value=1, max_value=1_000_000)

    def filters(self) -> dict:
        data = self.cleaned_data if self.is_valid() else {}
        return {"search": (data.get("q") or "").strip(), "page": data.get("page") or 1}


class RecipientForm(forms.Form):
    name = forms.CharField(
        max_length=max_length(Recipient, "name"), error_messages={"required": "Enter a name."}
    )
    household = forms.CharField(
        required=False,
        max_length=max_length(Recipient, "household"),
        help_text="Packages for one household are delivered together.",
    )
    address = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    notes = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Preferences, allergies.",
    )


class PackageForm(forms.Form):
    name = forms.CharField(
        max_length=max_length(Package, "name"), error_messages={"required": "Enter a name."}
    )
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class PackageItemForm(forms.Form):
    finished_good = forms.ModelChoiceField(
        queryset=FinishedGood.objects.order_by("name", "id"),
        label="Finished good",
        empty_label="Choose…",
        required=False,
    )
    quantity = quantity_field(required=False)

    def clean(self):
        data = super().clean()
        if self.cleaned_data.get("DELETE"):
            return data
        good, quantity = data.get("finished_good"), data.get("quantity")
        if good and not quantity and "quantity" not in self.errors:
            self.add_error("quantity", "Enter how many.")
        if quantity and not good:
            self.add_error("finished_good", "Choose a finished good.")
        return data


PackageItemFormSet = forms.formset_factory(
    PackageItemForm,
    extra=3,
    can_delete=True,
    # A package holds a handful of goods; a posted form count beyond this is refused
    # instead of building and rendering thousands of forms (one query each).
    max_num=50,
    absolute_max=50,
    validate_max=True,
)


def package_items_from(formset) -> list[tuple[int, int]]:
    """(finished good id, quantity) for every filled, non-deleted line of a valid formset."""
    items = []
    for form in formset.forms:
        data = form.cleaned_data
        if not data or data.get("DELETE") or not data.get("finished_good"):
            continue
        items.append((data["finished_good"].pk, data["quantity"]))
    return items
