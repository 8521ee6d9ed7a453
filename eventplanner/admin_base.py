"""What every ModelAdmin of the project shares."""

from __future__ import annotations

from collections.abc import Iterable
from contextvars import ContextVar

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.exceptions import ValidationError
from django.db import models
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.template.response import TemplateResponse
from django.utils.html import format_html
from django.utils.translation import gettext

from eventplanner.domain import MAX_ID

SELECTION_INVALID = "That selection is not a list of rows; select the rows again."
NUL_IN_QUERY = "A filter or search value contains a NUL character, which no value can hold."
DATE_OUT_OF_RANGE = "That date is not one the calendar can show: {name}={value!r}."
# What the date hierarchy's year, month and day may be (datetime.date's own limits).
DATE_PARTS = {"year": (1, 9999), "month": (1, 12), "day": (1, 31)}


class ValidOnlyAutocompleteSelect(AutocompleteSelect):
    """An autocomplete that shows a posted value which is not an id (1.5, abc, a Unicode
    digit) as no choice: the form already says the value is invalid, and looking it up
    would be a server error while the form is shown again."""

    def optgroups(self, name, value, attr=None):
        if isinstance(self.field.target_field, models.IntegerField):
            value = [item for item in value if item in ("", None) or _is_id(item)]
        return super().optgroups(name, value, attr)


class IdChoiceField(forms.ModelChoiceField):
    """A foreign key chosen by a whole-number id: anything else, or an id past the id
    column, is "Select a valid choice" before the lookup (which would fail in the
    database: SQLite cannot bind an int past 2^63)."""

    def to_python(self, value):
        if value not in self.empty_values and not _is_id(value):
            raise ValidationError(
                self.error_messages["invalid_choice"],
                code="invalid_choice",
                params={"value": value},
            )
        return super().to_python(value)


def _is_id(value) -> bool:
    text = str(value)
    return text.isascii() and text.isdigit() and int(text) <= MAX_ID


class SafeAutocompleteMixin:
    """For a ModelAdmin or an inline: its foreign keys take whole-number ids only, and its
    autocomplete fields use ValidOnlyAutocompleteSelect."""

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if isinstance(db_field.target_field, models.IntegerField):
            kwargs.setdefault("form_class", IdChoiceField)
        formfield = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if formfield is not None and type(formfield.widget) is AutocompleteSelect:
            formfield.widget.__class__ = ValidOnlyAutocompleteSelect
        return formfield


def refused_query(request: HttpRequest, date_field: str | None) -> str | None:
    """Why a list's query string cannot be answered, or None: a NUL (PostgreSQL text cannot
    hold one), or a date-hierarchy part that is no date (a year past 9999 or past 2^31)."""
    if any("\x00" in key or "\x00" in value for key, value in request.GET.items()):
        return NUL_IN_QUERY
    for part, (low, high) in DATE_PARTS.items() if date_field else ():
        name = f"{date_field}__{part}"
        value = request.GET.get(name)
        if value is None:
            continue
        if not (
            value.isascii() and value.isdigit() and len(value) <= 4 and low <= int(value) <= high
        ):
            return DATE_OUT_OF_RANGE.format(name=name, value=value[:20])
    return None


# The rows a refused action was asked for, ticked again on the list it returns to (kept in
# the session across the redirect, read while that list is rendered).
KEPT_SELECTION = "admin_kept_selection"
_kept_selection: ContextVar[frozenset[str]] = ContextVar("kept_selection", default=frozenset())


class ModelAdmin(SafeAutocompleteMixin, admin.ModelAdmin):
    def keep_selection(self, request: HttpRequest, ids: Iterable[int]) -> None:
        """After a refusal: the list shown next has these rows still ticked, so the user
        can change the selection instead of building it again."""
        request.session[KEPT_SELECTION] = {"model": self.opts.label, "ids": [str(i) for i in ids]}

    def action_checkbox(self, obj):
        checked = str(obj.pk) in _kept_selection.get()
        label = format_html(gettext("Select this object for an action - {}"), str(obj))
        attrs = {"class": "action-select", "aria-label": label}
        checkbox = forms.CheckboxInput(attrs, lambda value: checked)
        return checkbox.render(helpers.ACTION_CHECKBOX_NAME, str(obj.pk))

    def response_action(self, request: HttpRequest, queryset):
        # Django filters by the posted selection as it is: a word, or a number beyond the id
        # column, would be a server error instead of a message.
        selected = request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)
        if not all(v.isascii() and v.isdigit() and int(v) <= MAX_ID for v in selected):
            self.message_user(request, SELECTION_INVALID, messages.WARNING)
            return None
        return super().response_action(request, queryset)

    def changelist_view(self, request: HttpRequest, extra_context=None) -> HttpResponse:
        refusal = refused_query(request, self.date_hierarchy)
        if refusal is not None:
            return HttpResponseBadRequest(refusal, content_type="text/plain; charset=utf-8")
        kept = request.session.pop(KEPT_SELECTION, None) if request.method == "GET" else None
        ids = kept["ids"] if kept and kept.get("model") == self.opts.label else []
        token = _kept_selection.set(frozenset(ids))
        try:
            response = super().changelist_view(request, extra_context)
            if isinstance(response, TemplateResponse):
                response.render()  # while the kept selection is set
            return response
        finally:
            _kept_selection.reset(token)

    def get_search_results(self, request: HttpRequest, queryset, search_term: str):
        # The list's search and every autocomplete of the admin come here; PostgreSQL text
        # cannot hold NUL, so a NUL is no part of what is searched for.
        return super().get_search_results(request, queryset, search_term.replace("\x00", ""))


class TabularInline(SafeAutocompleteMixin, admin.TabularInline):
    """An inline whose autocomplete fields are safe like the ModelAdmins' (see above)."""


class MadeOfItemsAdmin(ModelAdmin):
    """A catalog entry made of items (a package of finished goods, a finished good of
    recipes): listed and searched by name and description, its items edited inline."""

    list_display = ["name", "description"]
    search_fields = ["name", "description"]


def items_inline(item_model: type[models.Model], item_field: str) -> type[TabularInline]:
    """The inline of an entry's items: one empty row to add, the item chosen by autocomplete."""

    class ItemsInline(TabularInline):
        model = item_model
        extra = 1
        autocomplete_fields = [item_field]

    return ItemsInline
