"""What the planner's pages share: the dashboard's address and its target tables' pages, and
the words and links more than one page uses."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import patch_vary_headers

from eventplanner.htmx import (
    DELETED_MEANWHILE,
    answer_after_commit,
    apply_form_errors,
    gone_text,
    keep_typing,
    wants_fragment,
)
from planning import services
from planning.kinds import KINDS
from planning.models import Event

DASHBOARD = "planning/event_detail.html"

# A large event has hundreds of targets; the dashboard shows them a page at a time, so that
# every view of it (and every change, which re-renders a section) stays quick.
TARGETS_PER_PAGE = 25

SAVED_MEANWHILE = (
    "Someone saved the same thing at the same moment, so this was not saved. "
    "Check the current data and try again."
)


EVENT_GONE = DELETED_MEANWHILE.format(what="This event")


def answer_change(
    request: HttpRequest, text: str, read: Callable[[], HttpResponse]
) -> HttpResponse:
    """The answer to a committed change of an event's plan (see answer_after_commit); an
    event deleted right after the change is said, not a server error."""
    try:
        return answer_after_commit(request, text, read)
    except Event.DoesNotExist:
        return event_gone(request, text="This event was deleted meanwhile.")


def answer_form(
    request: HttpRequest, form: forms.Form, read: Callable[[], HttpResponse]
) -> HttpResponse:
    """A refused or invalid form shown again in its part of the dashboard; if the event is
    gone by then, what was typed is kept (see event_gone)."""
    try:
        with transaction.atomic():
            return read()
    except Event.DoesNotExist:
        return event_gone(request, form)


@contextmanager
def refusal_shown_on(form: forms.Form) -> Iterator[None]:
    """Show a refused save on the form instead of raising: a ValidationError per field, and a
    unique row that someone else saved at the same moment, and a row it refers to that was
    deleted meanwhile (the form keeps what was typed). Enter it outside the write's atomic
    block, so the write is rolled back before the form is shown again."""
    try:
        yield
    except ValidationError as error:
        apply_form_errors(form, error)
    except ObjectDoesNotExist as gone:
        form.add_error(None, gone_text(gone))
    except IntegrityError:
        form.add_error(None, SAVED_MEANWHILE)


def relative_day(date: datetime.date, today: datetime.date) -> str:
    days = (date - today).days
    if days == 0:
        return "today"
    if days == 1:
        return "tomorrow"
    if days == -1:
        return "yesterday"
    return f"in {days} days" if days > 0 else f"{-days} days ago"


def fulfillment_url(event_id: int, status: str | None = None) -> str:
    url = reverse("fulfillment:event_fulfillment", args=[event_id])
    return f"{url}?status={status}" if status else url


def fulfillment_urls(event: Event) -> dict[str, str]:
    return {
        status: fulfillment_url(event.pk, status) for status in ("pending", "ready", "delivered")
    } | {"all": fulfillment_url(event.pk)}


@dataclass(frozen=True)
class TargetSummary:
    """One kind's part of the summary: how many targets, how many of them complete."""

    title: str
    targets: int
    complete: int
    all_complete: bool


def summary_context(overall: services.OverallProgress) -> dict[str, Any]:
    """What the summary shows besides the package counts of `overall`."""
    summaries = [
        TargetSummary(
            title=name.capitalize(),
            targets=getattr(overall, f"{name}_targets_count"),
            complete=getattr(overall, f"{name}_complete_count"),
            all_complete=getattr(overall, f"{name}_complete"),
        )
        for name in KINDS
    ]
    return {"overall": overall, "target_summaries": summaries}


def page_numbers(request: HttpRequest) -> dict[str, int]:
    """The page of each target table the planner is on: sent along (hx-include of the pagers'
    hidden fields) by a form or link whose answer re-renders a table, else in the query
    string (the page's URL, or a form's action without JavaScript). Anything but a whole
    number of 1 or more is page 1; a number past the end is the last page."""
    numbers = {}
    for kind in KINDS:
        name = f"{kind}_page"
        value = request.POST.get(name) or request.GET.get(name) or ""
        if not (value.isascii() and value.isdigit()):
            numbers[kind] = 1
        elif len(value) > 9:  # past any last page (and int() refuses thousands of digits)
            numbers[kind] = 10**9
        else:
            numbers[kind] = max(int(value), 1)
    return numbers


def page_holding(ids: list[int], item_id: int) -> int:
    return ids.index(item_id) // TARGETS_PER_PAGE + 1 if item_id in ids else 1


def page_query(numbers: dict[str, int]) -> str:
    """ "?production_page=2&..." for the target tables not on page 1, or ""."""
    query = urlencode(sorted((f"{k}_page", n) for k, n in numbers.items() if n > 1))
    return f"?{query}" if query else ""


def dashboard_url(event: Event, numbers: dict[str, int], anchor: str = "") -> str:
    """The dashboard's URL with the pages of its target tables."""
    base = reverse("planning:event_detail", args=[event.pk])
    return f"{base}{page_query(numbers)}{anchor}"


def page_or_part(request: HttpRequest, page: str, part: str, context: dict) -> HttpResponse:
    """For htmx the dashboard's `part`; otherwise `page`, a page of its own that does without
    JavaScript what the dashboard does in place."""
    template = f"{DASHBOARD}#{part}" if wants_fragment(request) else page
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


def event_gone(
    request: HttpRequest, form: forms.Form | None = None, text: str = EVENT_GONE
) -> HttpResponse:
    """The event was deleted after the page was shown, so nothing was saved: for htmx the
    form stays as typed; without JavaScript a page says so and lists what was typed, so it
    can be entered again elsewhere."""

    def page() -> HttpResponse:
        context = {"message": text, "typed": typed_values(form), "nav": "events"}
        return render(request, "planning/event_gone.html", context, status=410)

    return keep_typing(request, text, page)


def typed_values(form: forms.Form | None) -> list[tuple[str, str]]:
    """(label, value) of each filled field of a posted form, as the user typed or chose it."""
    if form is None or not form.is_bound:
        return []
    cleaned = getattr(form, "cleaned_data", {})
    values = [
        (field.label, cleaned.get(name, form.data.get(name))) for name, field in form.fields.items()
    ]
    return [(str(label), str(value)) for label, value in values if value not in (None, "")]
