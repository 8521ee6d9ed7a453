"""What the fulfillment pages share: permissions, the page's filter carried in URLs, loading
the event and one of its rows, how a row is shown, and the words for a refused change.

Nothing here opens a transaction, except the answer for a row removed meanwhile, a whole
phase of a view of its own: the views do, and call these inside them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.db import connection, transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.template.backends.utils import csrf_input
from django.template.defaultfilters import linebreaksbr
from django.urls import reverse
from django.utils import dateformat, timezone

from eventplanner.htmx import Attempt, Outcome, error_text, respond
from fulfillment import services
from fulfillment.forms import FulfillmentFilterForm
from fulfillment.models import FulfillmentStatus
from planning.models import Event

if TYPE_CHECKING:
    from fulfillment.reads import ShownAssignment

PAGE = "fulfillment/event_fulfillment.html"
ASSIGNMENT_PAGE = "fulfillment/assignment_detail.html"
PER_PAGE = 50

PERM_MOVE = services.CHANGE_STATUS_PERM
PERM_UNDO = services.UNDO_STATUS_PERM
PERM_ADD_ASSIGNMENT = "fulfillment.add_eventrecipientpackage"
PERM_EDIT_ASSIGNMENT = "fulfillment.change_eventrecipientpackage"
PERM_REMOVE_ASSIGNMENT = "fulfillment.delete_eventrecipientpackage"

ROW_GONE = "This package was removed from the event meanwhile, so nothing was changed."
ALREADY_REMOVED = "This package was already removed from the event."
CONFLICT = "Changed by {who} at {when}: this package is now {status}. Nothing was changed."


def require(request: HttpRequest, perm: str) -> None:
    if not request.user.has_perm(perm):
        raise PermissionDenied


def abilities(request: HttpRequest) -> dict[str, bool]:
    has = request.user.has_perm
    return {
        "can_move": has(PERM_MOVE),
        "can_undo": has(PERM_UNDO),
        "can_add": has(PERM_ADD_ASSIGNMENT),
        "can_edit": has(PERM_EDIT_ASSIGNMENT),
        "can_remove": has(PERM_REMOVE_ASSIGNMENT),
    }


@contextmanager
def not_found(message: str) -> Iterator[None]:
    """An id the page did not offer (another event's, or deleted meanwhile) is a 404."""
    try:
        yield
    except ObjectDoesNotExist:
        raise Http404(message) from None


# ---------------------------------------------------------------------------------------
# The page's filter, carried on every link and action URL
# ---------------------------------------------------------------------------------------


def filters_of(request: HttpRequest) -> dict[str, Any]:
    """The page's filter from the query string (also carried on POST action URLs)."""
    return FulfillmentFilterForm(request.GET).filters()


def filter_query(filters: dict[str, Any], *, page: bool = True) -> str:
    params = {}
    if filters.get("status"):
        params["status"] = filters["status"]
    if filters.get("search"):
        params["q"] = filters["search"]
    if page and filters.get("page", 1) > 1:
        params["page"] = filters["page"]
    return urlencode(params)


def with_query(url: str, query: str, anchor: str = "") -> str:
    return f"{url}{'?' + query if query else ''}{anchor}"


def page_url(event: Event, filters: dict[str, Any], anchor: str = "") -> str:
    url = reverse("fulfillment:event_fulfillment", args=[event.pk])
    return with_query(url, filter_query(filters), anchor)


# ---------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------


def get_event(event_id: int) -> Event:
    return get_object_or_404(Event, pk=event_id)


def get_row(event: Event, assignment_id: int) -> ShownAssignment:
    """The assignment as the page shows it; one of another event is a 404."""
    with not_found("No such package for this event."):
        return services.get_assignment_row(assignment_id, event_id=event.pk, connection=connection)


def get_row_and_history(event_id: int, assignment_id: int) -> tuple[Event, Any, list]:
    """The event, the row and its status history, for the row's page or one of its forms."""
    event = get_event(event_id)
    row = get_row(event, assignment_id)
    return event, row, services.get_status_history(row.pk, connection=connection)


# ---------------------------------------------------------------------------------------
# One row as the page shows it
# ---------------------------------------------------------------------------------------

STATUS_LABELS = {value: str(label) for value, label in FulfillmentStatus.choices}


@dataclass(frozen=True, slots=True)
class RowDisplay:
    """What the fulfillment page shows of one assignment, worked out once in Python.

    A page renders 50 rows of some thirty values each; resolving model attributes, reversing
    URLs and applying filters per value in the template was most of the page's time.
    """

    pk: str
    url: str
    recipient_url: str
    recipient_name: str
    household: str
    package_name: str
    label: str
    quantity: str
    notes: str
    status: str
    status_label: str
    changed: str
    next_status: str | None
    previous_status: str | None
    removable: bool
    checked: bool


def _url_prefix(name: str, *args: int) -> str:
    """The URL of `name` for `args` plus an id, without that id: a row's URL is this prefix,
    its id and a slash, so a page reverses each URL once instead of once per row."""
    url = reverse(name, args=[*args, 1])
    return url[: url.rindex("/1/") + 1]


class RowDisplayer:
    def __init__(self, event: Event, selected_ids: set[int] | frozenset[int] = frozenset()):
        self.row_prefix = _url_prefix("fulfillment:assignment_detail", event.pk)
        self.recipient_prefix = _url_prefix("fulfillment:recipient_detail")
        self.selected_ids = selected_ids

    def __call__(self, a: ShownAssignment) -> RowDisplay:
        status = a.fulfillment_status
        recipient, package = a.recipient, a.package
        changed = ""
        if a.last_change_source:
            # As the template's `date:"j M H:i"` filter shows it, in the current time zone.
            when = dateformat.format(timezone.localtime(a.status_changed_at), "j M H:i")
            changed = f"by {a.last_changed_by or 'a script'}, {when}"
        return RowDisplay(
            pk=str(a.pk),
            url=f"{self.row_prefix}{a.pk}/",
            recipient_url=f"{self.recipient_prefix}{a.recipient_id}/",
            recipient_name=recipient.name,
            household=recipient.household,
            package_name=package.name,
            label=f"{recipient.name}, {package.name}",
            quantity=str(a.quantity),
            notes=linebreaksbr(a.notes, autoescape=True) if a.notes else "",
            status=status,
            status_label=STATUS_LABELS[status],
            changed=changed,
            next_status=a.next_status,
            previous_status=a.previous_status,
            removable=status == FulfillmentStatus.PENDING and not a.last_change_source,
            checked=a.pk in self.selected_ids,
        )


# What the row fragment asks of a single-row response; the list has none of it, and a name
# missing from the context costs an exception per lookup, per row.
ROW_EXTRAS = {
    "notice": None,
    "error": None,
    "success": None,
    "show_history": False,
    "undo_form": None,
    "edit_form": None,
    "refocus": False,
    "focus_history": False,
    "take_back": False,
}


def filter_context(request: HttpRequest, filters: dict[str, Any]) -> dict[str, Any]:
    """What every part of the page needs to carry the filter and act on rows."""
    query = filter_query(filters)
    return {
        "csrf_input": csrf_input(request),
        "filters": filters,
        "filter_query": query,
        "filter_suffix": f"?{query}" if query else "",
        **abilities(request),
    }


def row_context(request: HttpRequest, event: Event, row: ShownAssignment, **extra) -> dict:
    return {
        "event": event,
        "a": row,
        "r": RowDisplayer(event)(row),
        **filter_context(request, filters_of(request)),
        **ROW_EXTRAS,
        **extra,
    }


def render_row(request: HttpRequest, event: Event, row, **extra) -> HttpResponse:
    return render(request, f"{PAGE}#row", row_context(request, event, row, **extra))


def render_row_update(request: HttpRequest, context: dict, counts) -> HttpResponse:
    """The row and, out of band, the counts: after a status change both are out of date."""
    return render(request, f"{PAGE}#row_update", {**context, "counts": counts, "oob": True})


# ---------------------------------------------------------------------------------------
# Outcomes
# ---------------------------------------------------------------------------------------


def conflict_text(row: ShownAssignment) -> str:
    who = row.last_changed_by or ("a script" if row.last_change_source else "someone")
    changed = timezone.localtime(row.status_changed_at)
    same_day = changed.date() == timezone.localdate()
    when = changed.strftime("%H:%M") if same_day else changed.strftime("%d %b %Y %H:%M")
    return CONFLICT.format(who=who, when=when, status=row.fulfillment_status)


def is_stale(change: Attempt) -> bool:
    return isinstance(change.error, services.StaleStatusError)


def outcome_of(change: Attempt, row: ShownAssignment, success: str) -> Outcome:
    """The outcome of a change to one row, given the row as it now is: a row that moved on
    meanwhile says who moved it and when."""
    if is_stale(change):
        return Outcome("error", conflict_text(row))
    return change.outcome(success)


def refused_on_form(form, change: Attempt) -> bool:
    """Say a refusal (other than a stale row) on the form; True when the form is to be
    shown again, with that or its own errors."""
    if change.error is not None and not is_stale(change):
        form.add_error(None, error_text(change.error))
    return bool(form.errors)


def row_messages(change: Attempt, outcome: Outcome) -> dict[str, Any]:
    """How the row shows a refusal: a stale row as a notice, any other as an error."""
    stale = is_stale(change)
    refused = change.error is not None
    return {
        "conflict": stale,
        "notice": outcome.text if stale else None,
        "error": outcome.text if refused and not stale else None,
    }


def row_gone(request: HttpRequest, event: Event, filters: dict[str, Any], text: str = ROW_GONE):
    """The answer to a change of a row that was removed meanwhile: for htmx the row leaves
    the list (with the counts as they now are), otherwise the page with the message."""
    outcome = Outcome("warning", text)
    with transaction.atomic():
        counts = services.get_status_counts(event.pk, connection=connection)
    context = {"event": event, "counts": counts, "oob": True, "removed_text": text}
    return respond(
        request,
        outcome,
        fragment=lambda: render(request, f"{PAGE}#removed", context),
        redirect_to=page_url(event, filters),
    )
