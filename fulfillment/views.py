"""Fulfillment pages: the packing page of an event, assignments, history and undo, exports,
the delivery-day checklist, and the recipient and package catalogs.

Every view parses its input, does its work inside `transaction.atomic()` passing the
connection to the services, and catches domain errors outside that block, so a refused change
has rolled back before the error is shown. One view serves the whole page and, for htmx, only
the fragment it changed (django-template-partials). Non-htmx POSTs redirect after success.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.db import connection, transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.backends.utils import csrf_input
from django.template.defaultfilters import linebreaksbr
from django.urls import reverse
from django.utils import dateformat, timezone
from django.utils.text import slugify
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRedirect

from eventplanner.htmx import apply_form_errors, wants_fragment
from fulfillment import services
from fulfillment.forms import (
    AssignmentEditForm,
    AssignmentForm,
    BulkStatusForm,
    FulfillmentFilterForm,
    PackageForm,
    PackageItemFormSet,
    RecipientForm,
    SearchForm,
    StatusChangeForm,
    UndoForm,
    package_items_from,
)
from fulfillment.models import ChangeSource, EventRecipientPackage, FulfillmentStatus, Recipient
from planning.models import Event

PAGE = "fulfillment/event_fulfillment.html"
ASSIGNMENT_PAGE = "fulfillment/assignment_detail.html"
PER_PAGE = 50

PERM_MOVE = services.CHANGE_STATUS_PERM
PERM_UNDO = services.UNDO_STATUS_PERM
PERM_ADD_ASSIGNMENT = "fulfillment.add_eventrecipientpackage"
PERM_EDIT_ASSIGNMENT = "fulfillment.change_eventrecipientpackage"
PERM_REMOVE_ASSIGNMENT = "fulfillment.delete_eventrecipientpackage"

SELECT_SOMETHING = "Select at least one package first."
CONFLICT = "Changed by {who} at {when}: this package is now {status}. Nothing was changed."


def _require(request: HttpRequest, perm: str) -> None:
    if not request.user.has_perm(perm):
        raise PermissionDenied


def _abilities(request: HttpRequest) -> dict[str, bool]:
    has = request.user.has_perm
    return {
        "can_move": has(PERM_MOVE),
        "can_undo": has(PERM_UNDO),
        "can_add": has(PERM_ADD_ASSIGNMENT),
        "can_edit": has(PERM_EDIT_ASSIGNMENT),
        "can_remove": has(PERM_REMOVE_ASSIGNMENT),
    }


def _error_text(error: Exception) -> str:
    if isinstance(error, ValidationError):
        return " ".join(error.messages)
    return str(error)


def _filters(request: HttpRequest) -> dict[str, Any]:
    """The page's filter from the query string (also carried on POST action URLs)."""
    return FulfillmentFilterForm(request.GET).filters()


def _filter_query(filters: dict[str, Any], *, page: bool = True) -> str:
    params = {}
    if filters.get("status"):
        params["status"] = filters["status"]
    if filters.get("search"):
        params["q"] = filters["search"]
    if page and filters.get("page", 1) > 1:
        params["page"] = filters["page"]
    return urlencode(params)


def _page_url(event: Event, filters: dict[str, Any], anchor: str = "") -> str:
    url = reverse("fulfillment:event_fulfillment", args=[event.pk])
    query = _filter_query(filters)
    return f"{url}{'?' + query if query else ''}{anchor}"


def _get_event(event_id: int) -> Event:
    return get_object_or_404(Event, pk=event_id)


def _get_row(event: Event, assignment_id: int) -> EventRecipientPackage:
    """The assignment as the page shows it; one of another event is a 404."""
    try:
        return services.get_assignment_row(assignment_id, event_id=event.pk, connection=connection)
    except EventRecipientPackage.DoesNotExist:
        raise Http404("No such package for this event.") from None


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

    def __call__(self, a: EventRecipientPackage) -> RowDisplay:
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
}


def _row_context(request: HttpRequest, event: Event, row: EventRecipientPackage, **extra) -> dict:
    filters = _filters(request)
    query = _filter_query(filters)
    return {
        "event": event,
        "a": row,
        "r": RowDisplayer(event)(row),
        "csrf_input": csrf_input(request),
        "filters": filters,
        "filter_query": query,
        "filter_suffix": f"?{query}" if query else "",
        **_abilities(request),
        **ROW_EXTRAS,
        **extra,
    }


def _row_response(request: HttpRequest, context: dict, *, with_counts: bool = False):
    """The row fragment, plus the counts swapped out-of-band when a status changed."""
    if with_counts:
        with transaction.atomic():
            context["counts"] = services.get_status_counts(
                context["event"].pk, connection=connection
            )
        context["oob"] = True
        return render(request, f"{PAGE}#row_update", context)
    return render(request, f"{PAGE}#row", context)


# ---------------------------------------------------------------------------------------
# The fulfillment page
# ---------------------------------------------------------------------------------------


def _list_context(
    request: HttpRequest,
    event: Event,
    filters: dict[str, Any],
    selected_ids: set[int] | frozenset[int] = frozenset(),
) -> dict:
    """One page of the event's assignments with the counts, as the list shows them (call it
    inside the view's transaction)."""
    page = services.list_event_assignments(
        event.pk,
        status=filters["status"],
        search=filters["search"],
        page=filters["page"],
        per_page=PER_PAGE,
        connection=connection,
    )
    filters["page"] = page.page
    query = _filter_query(filters)
    return {
        "event": event,
        "page": page,
        "rows": list(map(RowDisplayer(event, selected_ids), page.rows)),
        "csrf_input": csrf_input(request),
        "counts": page.counts,
        "filters": filters,
        "filter_query": query,
        "filter_suffix": f"?{query}" if query else "",
        "export_query": _filter_query(filters, page=False),
        **_abilities(request),
        **ROW_EXTRAS,
    }


@require_GET
@login_required
@vary_on_headers("HX-Request")
def event_fulfillment(request: HttpRequest, event_id: int) -> HttpResponse:
    """All assignments of the event, filtered, searched and paged, with counts per status.
    htmx requests (filter, search, paging) get the list fragment only."""
    filters = _filters(request)
    with transaction.atomic():
        event = _get_event(event_id)
        context = _list_context(request, event, filters)
    context["filter_form"] = FulfillmentFilterForm(
        initial={"status": filters["status"] or "", "q": filters["search"]}
    )
    if wants_fragment(request):
        return render(request, f"{PAGE}#list_update", {**context, "oob": True})
    return render(request, PAGE, context)


@require_POST
@login_required
def assignment_status(request: HttpRequest, event_id: int, assignment_id: int) -> HttpResponse:
    """Move one row to the next status. The form posts the status the row showed; if the row
    moved meanwhile it comes back as it now is with who changed it and when. Asking for the
    status the row already has (a double click) changes nothing and is not an error."""
    _require(request, PERM_MOVE)
    checklist = request.POST.get("view") == "checklist"
    with transaction.atomic():
        event = _get_event(event_id)
        _get_row(event, assignment_id)
    form = StatusChangeForm(request.POST)
    notice = error = None
    conflict = False
    if not form.is_valid():
        error = "That is not a status this page can set; reload the page."
    else:
        try:
            with transaction.atomic():
                services.update_fulfillment_status(
                    assignment_id,
                    form.cleaned_data["new_status"],
                    expected_status=form.cleaned_data["expected_status"] or None,
                    changed_by=request.user,
                    source=ChangeSource.PAGE,
                    connection=connection,
                )
        except services.StaleStatusError:
            conflict = True
        except services.InvalidTransitionError as exc:
            error = _error_text(exc)
    with transaction.atomic():
        row = _get_row(event, assignment_id)
    if conflict:
        notice = _conflict_text(row)
    if not request.htmx:
        if conflict or error:
            messages.error(request, notice or error)
        else:
            messages.success(
                request,
                f"{row.recipient.name}: {row.package.name} is now {row.fulfillment_status}.",
            )
        if checklist:
            return redirect("fulfillment:delivery_checklist", event_id=event.pk)
        return redirect(_page_url(event, _filters(request), f"#assignment-{row.pk}"))
    live_text = (
        notice
        or error
        or f"{row.recipient.name}: {row.package.name} is now {row.fulfillment_status}."
    )
    context = _row_context(
        request,
        event,
        row,
        conflict=conflict,
        notice=notice,
        error=error,
        refocus=True,
        live_text=live_text,
    )
    if checklist:
        return render(request, "fulfillment/checklist.html#stop_row", context)
    return _row_response(request, context, with_counts=True)


def _conflict_text(row: EventRecipientPackage) -> str:
    who = row.last_changed_by or ("a script" if row.last_change_source else "someone")
    changed = timezone.localtime(row.status_changed_at)
    same_day = changed.date() == timezone.localdate()
    when = changed.strftime("%H:%M") if same_day else changed.strftime("%d %b %Y %H:%M")
    return CONFLICT.format(who=who, when=when, status=row.fulfillment_status)


@require_POST
@login_required
def bulk_status(request: HttpRequest, event_id: int) -> HttpResponse:
    """Apply the next status to every selected row, all or nothing; a refusal lists the rows
    that blocked it."""
    _require(request, PERM_MOVE)
    filters = _filters(request)
    with transaction.atomic():
        event = _get_event(event_id)
    form = BulkStatusForm(request.POST)
    result: dict[str, Any] = {}
    ids: list[int] = []
    if not form.is_valid():
        text = (
            form.errors["ids"][0]
            if "ids" in form.errors
            else "Choose what to mark the selected packages as."
        )
        result = {"level": "error", "text": text}
    else:
        ids = form.cleaned_data["ids"]
        new_status = form.cleaned_data["new_status"]
        if not ids:
            result = {"level": "warning", "text": SELECT_SOMETHING}
        else:
            try:
                with transaction.atomic():
                    changed = services.bulk_update_fulfillment_status(
                        ids,
                        new_status,
                        changed_by=request.user,
                        source=ChangeSource.PAGE,
                        event_id=event.pk,
                        connection=connection,
                    )
            except EventRecipientPackage.DoesNotExist:
                raise Http404("Some selected packages do not belong to this event.") from None
            except services.BulkTransitionError as exc:
                result = {
                    "level": "error",
                    "text": (
                        f"Nothing was changed: {len(exc.blocked)} of the selected packages "
                        f"cannot go to {new_status}:"
                    ),
                    "blocked": exc.blocked,
                    "plain": _error_text(exc),
                }
            else:
                text = f"{changed} package{'' if changed == 1 else 's'} marked {new_status}."
                unchanged = len(ids) - changed
                if unchanged:
                    text += f" {unchanged} already {new_status} left as they were."
                result = {"level": "success", "text": text}
                ids = []
    if not request.htmx:
        level = {"success": messages.SUCCESS, "warning": messages.WARNING}.get(
            result["level"], messages.ERROR
        )
        messages.add_message(request, level, result.get("plain", result["text"]))
        return redirect(_page_url(event, filters))
    with transaction.atomic():
        context = _list_context(request, event, filters, selected_ids=set(ids))
    context.update(result=result, oob=True)
    return render(request, f"{PAGE}#list_update", context)


# ---------------------------------------------------------------------------------------
# One assignment: detail, history, undo, edit, remove
# ---------------------------------------------------------------------------------------


def _assignment_page(request: HttpRequest, event: Event, row, status: int = 200, **extra):
    """The no-JavaScript page for one assignment: its history, undo and edit forms."""
    with transaction.atomic():
        history = services.get_status_history(row.pk, connection=connection)
    context = _row_context(request, event, row, history=history, **extra)
    context.setdefault("undo_form", UndoForm(initial={"expected_status": row.fulfillment_status}))
    context.setdefault(
        "edit_form", AssignmentEditForm(initial={"quantity": row.quantity, "notes": row.notes})
    )
    return render(request, ASSIGNMENT_PAGE, context, status=status)


@require_GET
@login_required
@vary_on_headers("HX-Request")
def assignment_detail(request: HttpRequest, event_id: int, assignment_id: int) -> HttpResponse:
    """htmx: the plain row (e.g. to close the history); otherwise the assignment's page."""
    with transaction.atomic():
        event = _get_event(event_id)
        row = _get_row(event, assignment_id)
    if request.htmx:
        # Back from the history, an edit or an undo: focus returns to the row's links.
        return _row_response(request, _row_context(request, event, row, focus_history=True))
    return _assignment_page(request, event, row)


@require_GET
@login_required
@vary_on_headers("HX-Request")
def assignment_history(request: HttpRequest, event_id: int, assignment_id: int) -> HttpResponse:
    """The row with its status history opened below it (who, when, from, to, where)."""
    with transaction.atomic():
        event = _get_event(event_id)
        row = _get_row(event, assignment_id)
        history = services.get_status_history(row.pk, connection=connection)
    if request.htmx:
        context = _row_context(
            request, event, row, history=history, show_history=True, focus_history=True
        )
        return _row_response(request, context)
    return _assignment_page(request, event, row)


@require_http_methods(["GET", "POST"])
@login_required
@vary_on_headers("HX-Request")
def assignment_undo(request: HttpRequest, event_id: int, assignment_id: int) -> HttpResponse:
    """Step the row back one status with a required reason (undo permission only)."""
    _require(request, PERM_UNDO)
    with transaction.atomic():
        event = _get_event(event_id)
        row = _get_row(event, assignment_id)
    if request.method == "GET":
        form = UndoForm(initial={"expected_status": row.fulfillment_status})
        if request.htmx:
            return _row_response(request, _row_context(request, event, row, undo_form=form))
        return _assignment_page(request, event, row, undo_form=form, focus="undo")

    form = UndoForm(request.POST)
    error = None
    conflict = False
    if form.is_valid():
        try:
            with transaction.atomic():
                services.undo_fulfillment_status(
                    row.pk,
                    reason=form.cleaned_data["reason"],
                    expected_status=form.cleaned_data["expected_status"] or None,
                    changed_by=request.user,
                    source=ChangeSource.PAGE,
                    connection=connection,
                )
        except services.StaleStatusError:
            conflict = True
        except ValidationError as exc:  # nothing to undo, or a reason of only spaces
            form.add_error(None, _error_text(exc))
            error = True
    else:
        error = True
    with transaction.atomic():
        fresh = _get_row(event, assignment_id)
    if error:
        if request.htmx:
            return _row_response(request, _row_context(request, event, fresh, undo_form=form))
        return _assignment_page(request, event, fresh, undo_form=form, focus="undo")
    notice = _conflict_text(fresh) if conflict else None
    if not request.htmx:
        if conflict:
            messages.error(request, notice)
        else:
            messages.success(request, f"Stepped back to {fresh.fulfillment_status}.")
        detail = reverse("fulfillment:assignment_detail", args=[event.pk, fresh.pk])
        query = _filter_query(_filters(request))
        return redirect(f"{detail}?{query}" if query else detail)
    with transaction.atomic():
        history = services.get_status_history(fresh.pk, connection=connection)
    context = _row_context(
        request,
        event,
        fresh,
        conflict=conflict,
        notice=notice,
        success=None if conflict else f"Stepped back to {fresh.fulfillment_status}.",
        history=history,
        show_history=True,
    )
    return _row_response(request, context, with_counts=True)


@require_http_methods(["GET", "POST"])
@login_required
@vary_on_headers("HX-Request")
def assignment_edit(request: HttpRequest, event_id: int, assignment_id: int) -> HttpResponse:
    """Edit the quantity and notes of an assignment in place."""
    _require(request, PERM_EDIT_ASSIGNMENT)
    with transaction.atomic():
        event = _get_event(event_id)
        row = _get_row(event, assignment_id)
    if request.method == "GET":
        form = AssignmentEditForm(initial={"quantity": row.quantity, "notes": row.notes})
    else:
        form = AssignmentEditForm(request.POST)
        if form.is_valid():
            try:
                with transaction.atomic():
                    services.update_assignment(
                        row.pk,
                        quantity=form.cleaned_data["quantity"],
                        notes=form.cleaned_data["notes"],
                        connection=connection,
                    )
            except ValidationError as exc:
                form.add_error(None, _error_text(exc))
            else:
                with transaction.atomic():
                    row = _get_row(event, assignment_id)
                if not request.htmx:
                    messages.success(request, f"Saved {row.package.name} for {row.recipient.name}.")
                    return redirect(_page_url(event, _filters(request), f"#assignment-{row.pk}"))
                return _row_response(request, _row_context(request, event, row, success="Saved."))
    if request.htmx:
        return _row_response(request, _row_context(request, event, row, edit_form=form))
    return _assignment_page(request, event, row, edit_form=form, focus="edit")


@require_POST
@login_required
def assignment_remove(request: HttpRequest, event_id: int, assignment_id: int) -> HttpResponse:
    """Remove a pending assignment without history; anything else is refused with why."""
    _require(request, PERM_REMOVE_ASSIGNMENT)
    with transaction.atomic():
        event = _get_event(event_id)
        row = _get_row(event, assignment_id)
    if not request.htmx and request.POST.get("confirm") != "yes":
        # The htmx button asks in the browser (hx-confirm); without JavaScript, ask here.
        return render(
            request,
            "fulfillment/assignment_confirm_remove.html",
            {"event": event, "a": row, "filter_query": _filter_query(_filters(request))},
        )
    try:
        with transaction.atomic():
            services.remove_assignment(row.pk, connection=connection)
    except ValidationError as exc:
        error = _error_text(exc)
        if not request.htmx:
            messages.error(request, error)
            return redirect(_page_url(event, _filters(request), f"#assignment-{row.pk}"))
        with transaction.atomic():
            row = _get_row(event, assignment_id)
        return _row_response(request, _row_context(request, event, row, error=error))
    text = f"Removed {row.package.name} for {row.recipient.name}."
    if not request.htmx:
        messages.success(request, text)
        return redirect(_page_url(event, _filters(request)))
    with transaction.atomic():
        counts = services.get_status_counts(event.pk, connection=connection)
    context = {"event": event, "counts": counts, "oob": True, "removed_text": text}
    return render(request, f"{PAGE}#removed", context)


# ---------------------------------------------------------------------------------------
# Assign a package
# ---------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@login_required
@vary_on_headers("HX-Request", "HX-Trigger-Name")
def assignment_new(request: HttpRequest, event_id: int) -> HttpResponse:
    """Assign a package to a recipient, both chosen by search. Typing in a search box asks
    this view (htmx) for just that box's choices; without JavaScript the Search button posts
    the form back with the narrowed choices and saves nothing. Assigning the same package to
    the same recipient again offers to edit the existing row."""
    _require(request, PERM_ADD_ASSIGNMENT)
    with transaction.atomic():
        event = _get_event(event_id)
    data = request.POST if request.method == "POST" else request.GET
    # The Search button posts the form (so the CSRF token never lands in a URL) only to
    # narrow the choices: nothing is saved.
    saving = request.method == "POST" and "search" not in request.POST
    form = AssignmentForm(data if saving else None, initial=data.dict())
    recipient_q = (data.get("recipient_q") or "")[:200]
    package_q = (data.get("package_q") or "")[:200]
    with transaction.atomic():
        recipients = services.search_recipients(recipient_q, connection=connection)
        packages = services.search_packages(package_q, connection=connection)
    form.set_choices(recipients, packages)
    context: dict[str, Any] = {"event": event, "form": form}

    if (
        request.method == "GET"
        and request.htmx
        and request.htmx.trigger_name
        in (
            "recipient_q",
            "package_q",
        )
    ):
        part = (
            "recipient_choice" if request.htmx.trigger_name == "recipient_q" else "package_choice"
        )
        return render(request, f"fulfillment/assignment_new.html#{part}", context)

    if saving and form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():
                created = services.assign_package(
                    event.pk,
                    data["recipient"],
                    data["package"],
                    data["quantity"],
                    data["notes"],
                    connection=connection,
                )
        except services.DuplicateAssignmentError as exc:
            context["duplicate"] = exc.existing
            form.add_error(None, _error_text(exc))
        except Recipient.DoesNotExist:
            form.add_error("recipient", "That recipient no longer exists; search again.")
        except ObjectDoesNotExist:
            form.add_error("package", "That package no longer exists; search again.")
        except ValidationError as exc:
            form.add_error(None, _error_text(exc))
        else:
            text = f"Assigned {created.package.name} to {created.recipient.name}."
            if not request.htmx:
                messages.success(request, text)
                return redirect(_page_url(event, {}, f"#assignment-{created.pk}"))
            fresh = AssignmentForm(initial={"quantity": 1})
            fresh.set_choices(recipients, packages)
            context.update(form=fresh, success=text, created=created)
            return render(request, "fulfillment/assignment_new.html#form", context)
    if request.htmx:
        return render(request, "fulfillment/assignment_new.html#form", context)
    return render(request, "fulfillment/assignment_new.html", context)


# ---------------------------------------------------------------------------------------
# Exports, packing list, delivery checklist
# ---------------------------------------------------------------------------------------

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
CSV_HEADER = [
    "Recipient",
    "Household",
    "Address",
    "Package",
    "Quantity",
    "Status",
    "Last status change",
    "Changed by",
]


def csv_safe(value: Any) -> Any:
    """Text that a spreadsheet would read as a formula is prefixed with an apostrophe, so a
    recipient called =HYPERLINK(...) stays text. Numbers are written as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


@require_GET
@login_required
def export_csv(request: HttpRequest, event_id: int) -> HttpResponse:
    """The event's assignments as CSV, with the page's current filter applied."""
    filters = _filters(request)
    with transaction.atomic():
        event = _get_event(event_id)
        rows = services.get_export_rows(
            event.pk, status=filters["status"], search=filters["search"], connection=connection
        )
    # The file name comes from the event name, which is user text: keep only a slug.
    name = slugify(f"{event.name} {event.event_date:%Y-%m-%d}") or "event"
    suffix = f"-{filters['status']}" if filters["status"] else ""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}-packages{suffix}.csv"'
    response["X-Content-Type-Options"] = "nosniff"
    # A byte-order mark, so spreadsheet programs read accented names as UTF-8.
    response.write("\ufeff")
    writer = csv.writer(response)
    writer.writerow(CSV_HEADER)
    for row in rows:
        changed_at = (
            timezone.localtime(row.last_changed_at).strftime("%Y-%m-%d %H:%M")
            if row.last_changed_at
            else ""
        )
        writer.writerow(
            [
                csv_safe(value)
                for value in (
                    row.recipient,
                    row.household,
                    row.address,
                    row.package,
                    row.quantity,
                    row.status,
                    changed_at,
                    row.last_changed_by,
                )
            ]
        )
    return response


@require_GET
@login_required
def packing_list(request: HttpRequest, event_id: int) -> HttpResponse:
    """Printable: one section per recipient with each package's contents, no prices; the
    print stylesheet starts every recipient on a new page."""
    filters = _filters(request)
    with transaction.atomic():
        event = _get_event(event_id)
        sections = services.get_packing_list(
            event.pk, status=filters["status"], connection=connection
        )
    return render(
        request,
        "fulfillment/packing_list.html",
        {"event": event, "sections": sections, "filters": filters},
    )


@require_GET
@login_required
def delivery_checklist(request: HttpRequest, event_id: int) -> HttpResponse:
    """Delivery day on a phone: ready packages grouped by household, big buttons."""
    with transaction.atomic():
        event = _get_event(event_id)
        stops = services.get_delivery_checklist(event.pk, connection=connection)
    return render(
        request,
        "fulfillment/checklist.html",
        {"event": event, "stops": stops, **_abilities(request)},
    )


# ---------------------------------------------------------------------------------------
# Catalog: recipients
# ---------------------------------------------------------------------------------------


def _catalog_list(request: HttpRequest, template: str, list_service, extra: dict) -> HttpResponse:
    filters = SearchForm(request.GET).filters()
    with transaction.atomic():
        page = list_service(
            search=filters["search"], page=filters["page"], per_page=PER_PAGE, connection=connection
        )
    context = {
        "page": page,
        "search": filters["search"],
        "search_query": urlencode({"q": filters["search"]}) if filters["search"] else "",
        **extra,
    }
    if wants_fragment(request):
        return render(request, f"{template}#results", context)
    return render(request, template, context)


@require_GET
@login_required
@vary_on_headers("HX-Request")
def recipient_list(request: HttpRequest) -> HttpResponse:
    return _catalog_list(
        request,
        "fulfillment/recipient_list.html",
        services.list_recipients,
        {"nav": "recipients", "can_add": request.user.has_perm("fulfillment.add_recipient")},
    )


def _form_response(
    request: HttpRequest, template: str, context: dict, success_url: str, text: str | None
) -> HttpResponse:
    if text is not None:
        messages.success(request, text)
        if request.htmx:
            return HttpResponseClientRedirect(success_url)
        return redirect(success_url)
    if request.htmx:
        return render(request, f"{template}#form", context)
    return render(request, template, context)


def _recipient_form_view(request: HttpRequest, recipient: Recipient | None) -> HttpResponse:
    template = "fulfillment/recipient_form.html"
    if request.method == "GET":
        initial = (
            {f: getattr(recipient, f) for f in ("name", "household", "address", "notes")}
            if recipient
            else {}
        )
        form = RecipientForm(initial=initial)
        context = {"form": form, "recipient": recipient, "nav": "recipients"}
        return render(request, template, context)
    form = RecipientForm(request.POST)
    context = {"form": form, "recipient": recipient, "nav": "recipients"}
    text = None
    if form.is_valid():
        try:
            with transaction.atomic():
                if recipient is None:
                    saved = services.create_recipient(**form.cleaned_data, connection=connection)
                else:
                    saved = services.update_recipient(
                        recipient.pk, **form.cleaned_data, connection=connection
                    )
        except ValidationError as exc:
            apply_form_errors(form, exc)
        else:
            text = f"Saved {saved.name}."
            recipient = saved
    url = reverse("fulfillment:recipient_detail", args=[recipient.pk]) if text else ""
    return _form_response(request, template, context, url, text)


@require_http_methods(["GET", "POST"])
@login_required
@vary_on_headers("HX-Request")
def recipient_new(request: HttpRequest) -> HttpResponse:
    _require(request, "fulfillment.add_recipient")
    return _recipient_form_view(request, None)


@require_http_methods(["GET", "POST"])
@login_required
@vary_on_headers("HX-Request")
def recipient_edit(request: HttpRequest, recipient_id: int) -> HttpResponse:
    _require(request, "fulfillment.change_recipient")
    with transaction.atomic():
        recipient = get_object_or_404(Recipient, pk=recipient_id)
    return _recipient_form_view(request, recipient)


@require_GET
@login_required
def recipient_detail(request: HttpRequest, recipient_id: int) -> HttpResponse:
    """A recipient and everything they were given, newest event first."""
    with transaction.atomic():
        recipient = get_object_or_404(Recipient, pk=recipient_id)
        history = services.get_recipient_history(recipient.pk, connection=connection)
    return render(
        request,
        "fulfillment/recipient_detail.html",
        {
            "recipient": recipient,
            "history": history,
            "nav": "recipients",
            "can_edit": request.user.has_perm("fulfillment.change_recipient"),
            "can_delete": request.user.has_perm("fulfillment.delete_recipient"),
        },
    )


@require_http_methods(["GET", "POST"])
@login_required
@vary_on_headers("HX-Request")
def recipient_delete(request: HttpRequest, recipient_id: int) -> HttpResponse:
    """Confirm, then delete; a recipient with assignments is kept and the page says why."""
    _require(request, "fulfillment.delete_recipient")
    with transaction.atomic():
        recipient = get_object_or_404(Recipient, pk=recipient_id)
        in_use = recipient.assignments.count()
    template = "fulfillment/confirm_delete.html"
    context = {
        "object": recipient,
        "kind": "recipient",
        "in_use": in_use,
        "cancel_url": reverse("fulfillment:recipient_detail", args=[recipient.pk]),
        "action_url": reverse("fulfillment:recipient_delete", args=[recipient.pk]),
        "refusal": services.RECIPIENT_IN_USE.format(name=recipient, count=in_use) if in_use else "",
        "nav": "recipients",
    }
    if request.method == "GET":
        return render(request, template, context)
    try:
        with transaction.atomic():
            services.delete_recipient(recipient.pk, connection=connection)
    except ValidationError as exc:
        context["error"] = _error_text(exc)
        return _form_response(request, template, context, "", None)
    return _form_response(
        request, template, context, reverse("fulfillment:recipient_list"), f"Deleted {recipient}."
    )


# ---------------------------------------------------------------------------------------
# Catalog: packages
# ---------------------------------------------------------------------------------------


@require_GET
@login_required
@vary_on_headers("HX-Request")
def package_list(request: HttpRequest) -> HttpResponse:
    return _catalog_list(
        request,
        "fulfillment/package_list.html",
        services.list_packages,
        {"nav": "packages", "can_add": request.user.has_perm("fulfillment.add_package")},
    )


@require_GET
@login_required
def package_detail(request: HttpRequest, package_id: int) -> HttpResponse:
    with transaction.atomic():
        try:
            package = services.get_package(package_id, connection=connection)
        except ObjectDoesNotExist:
            raise Http404("No such package.") from None
    return render(
        request,
        "fulfillment/package_detail.html",
        {
            "package": package,
            "nav": "packages",
            "can_edit": request.user.has_perm("fulfillment.change_package"),
            "can_delete": request.user.has_perm("fulfillment.delete_package"),
        },
    )


def _package_form_view(request: HttpRequest, package) -> HttpResponse:
    template = "fulfillment/package_form.html"
    if request.method == "GET":
        if package is None:
            form, items = PackageForm(), PackageItemFormSet(prefix="items")
        else:
            form = PackageForm(initial={"name": package.name, "description": package.description})
            items = PackageItemFormSet(
                prefix="items",
                initial=[
                    {"finished_good": item.finished_good, "quantity": item.quantity}
                    for item in package.items.all()
                ],
            )
        context = {"form": form, "items": items, "package": package, "nav": "packages"}
        return render(request, template, context)
    form = PackageForm(request.POST)
    items = PackageItemFormSet(request.POST, prefix="items")
    context = {"form": form, "items": items, "package": package, "nav": "packages"}
    text = None
    saved = None
    if form.is_valid() and items.is_valid():
        try:
            with transaction.atomic():
                fields = {**form.cleaned_data, "items": package_items_from(items)}
                if package is None:
                    saved = services.create_package(**fields, connection=connection)
                else:
                    saved = services.update_package(package.pk, **fields, connection=connection)
        except ValidationError as exc:
            apply_form_errors(form, exc)
        except ObjectDoesNotExist:
            form.add_error(None, "A chosen finished good no longer exists; choose again.")
        else:
            text = f"Saved {saved.name}."
    url = reverse("fulfillment:package_detail", args=[saved.pk]) if saved else ""
    return _form_response(request, template, context, url, text)


@require_http_methods(["GET", "POST"])
@login_required
@vary_on_headers("HX-Request")
def package_new(request: HttpRequest) -> HttpResponse:
    _require(request, "fulfillment.add_package")
    return _package_form_view(request, None)


@require_http_methods(["GET", "POST"])
@login_required
@vary_on_headers("HX-Request")
def package_edit(request: HttpRequest, package_id: int) -> HttpResponse:
    _require(request, "fulfillment.change_package")
    with transaction.atomic():
        try:
            package = services.get_package(package_id, connection=connection)
        except ObjectDoesNotExist:
            raise Http404("No such package.") from None
    return _package_form_view(request, package)


@require_http_methods(["GET", "POST"])
@login_required
@vary_on_headers("HX-Request")
def package_delete(request: HttpRequest, package_id: int) -> HttpResponse:
    """Confirm, then delete; a package in use by an assignment is kept and the page says why."""
    _require(request, "fulfillment.delete_package")
    with transaction.atomic():
        try:
            package = services.get_package(package_id, connection=connection)
        except ObjectDoesNotExist:
            raise Http404("No such package.") from None
    template = "fulfillment/confirm_delete.html"
    in_use = package.assignment_count
    context = {
        "object": package,
        "kind": "package",
        "in_use": in_use,
        "cancel_url": reverse("fulfillment:package_detail", args=[package.pk]),
        "action_url": reverse("fulfillment:package_delete", args=[package.pk]),
        "refusal": services.PACKAGE_IN_USE.format(name=package.name, count=in_use)
        if in_use
        else "",
        "nav": "packages",
    }
    if request.method == "GET":
        return render(request, template, context)
    try:
        with transaction.atomic():
            services.delete_package(package.pk, connection=connection)
    except ValidationError as exc:
        context["error"] = _error_text(exc)
        return _form_response(request, template, context, "", None)
    return _form_response(
        request, template, context, reverse("fulfillment:package_list"), f"Deleted {package.name}."
    )
