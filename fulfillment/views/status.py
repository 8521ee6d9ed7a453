"""Moving rows through the workflow: one row to its next status, the selected rows at once,
and one row a step back with a reason.

Each view reads in four beats, each phase its own short transaction in the view's body: load
what the URL names, try the change (a refusal is rolled back and kept as the outcome), reload
what the answer shows, respond. Nothing is rendered while a transaction is open: on SQLite
every transaction holds the write lock."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from eventplanner.htmx import Attempt, Outcome, error_text, respond, wants_fragment
from fulfillment import services
from fulfillment.forms import BulkStatusForm, StatusChangeForm, TakeBackForm, UndoForm
from fulfillment.models import ChangeSource
from fulfillment.views._common import (
    PERM_MOVE,
    PERM_UNDO,
    filter_query,
    filters_of,
    get_event,
    get_row,
    get_row_and_history,
    not_found,
    outcome_of,
    page_url,
    refused_on_form,
    render_row_update,
    require,
    row_context,
    row_gone,
    row_messages,
    with_query,
)
from fulfillment.views.assignments import row_or_page
from fulfillment.views.page import list_context, render_list_update

NOT_A_STATUS = "That is not a status this page can set; reload the page."
SELECT_SOMETHING = "Select at least one package first."
CHOOSE_A_STATUS = "Choose what to mark the selected packages as."
NOT_THIS_EVENT = "Some selected packages do not belong to this event."
TAKEN_BACK = "Taken back: {recipient}, {package} is {status} again."


def _requested(form: StatusChangeForm) -> tuple[str, str | None]:
    """The status asked for and the one the page showed; a form no button of the page
    posts is refused like any other change."""
    if not form.is_valid():
        raise ValidationError(NOT_A_STATUS)
    return form.cleaned_data["new_status"], form.cleaned_data["expected_status"] or None


@require_POST
@login_required
@vary_on_headers("HX-Request")
def assignment_status(request: HttpRequest, event_id: int, assignment_id: int) -> HttpResponse:
    """Move one row to the next status. The form posts the status the row showed; if the row
    moved meanwhile it comes back as it now is with who changed it and when. Asking for the
    status the row already has (a double click) changes nothing and is not an error."""
    require(request, PERM_MOVE)
    form = StatusChangeForm(request.POST)
    with transaction.atomic():
        event = get_event(event_id)
        get_row(event, assignment_id)
    with Attempt(ValidationError, ObjectDoesNotExist) as change, transaction.atomic():
        new_status, expected = _requested(form)
        services.update_fulfillment_status(
            assignment_id,
            new_status,
            expected_status=expected,
            changed_by=request.user,
            source=ChangeSource.PAGE,
            connection=connection,
        )
        # Read in the change's own transaction: the answer to a saved change never hangs on
        # a second transaction that could fail and show "nothing was changed".
        row, counts = _shown(event, assignment_id)
    if isinstance(change.error, ObjectDoesNotExist):
        return row_gone(request, event, filters_of(request))
    if change.error is not None:
        with transaction.atomic():  # nothing was saved: a failure here is an honest 503
            row, counts = _shown(event, assignment_id)
    moved = f"{row.recipient.name}: {row.package.name} is now {row.fulfillment_status}."
    outcome = outcome_of(change, row, moved)
    context = {"take_back": _offers_take_back(request, change, row)}
    return _answer_row_change(request, event, row, counts, change, outcome, context)


def _answer_row_change(request, event, row, counts, change, outcome, extra) -> HttpResponse:
    """The answer to a change of one row: for htmx the row (on the page, with the counts,
    or on the checklist) with the focus on its next step; otherwise a redirect to it."""
    checklist = request.POST.get("view") == "checklist"

    def fragment() -> HttpResponse:
        messages = {**row_messages(change, outcome), **extra}
        context = row_context(request, event, row, **messages, refocus=True)
        context["live_text"] = outcome.text
        if checklist:
            return render(request, "fulfillment/checklist.html#stop_row", context)
        return render_row_update(request, context, counts)

    if checklist:
        back = reverse("fulfillment:delivery_checklist", args=[event.pk])
    else:
        back = page_url(event, filters_of(request), f"#assignment-{row.pk}")
    return respond(request, outcome, fragment=fragment, redirect_to=back)


def _offers_take_back(request: HttpRequest, change: Attempt, row) -> bool:
    """Whether the row's answer offers to take the step back: the step just asked for is
    the row's latest change and it was this user's (the service decides when it is used)."""
    return change.error is None and row.last_changed_by == request.user.get_username()


def _shown(event, assignment_id: int) -> tuple:
    """The row as it now is and the page's counts, inside the caller's transaction."""
    return get_row(event, assignment_id), services.get_status_counts(
        event.pk, connection=connection
    )


def _shown_with_history(event, assignment_id: int) -> tuple:
    row, counts = _shown(event, assignment_id)
    return row, services.get_status_history(row.pk, connection=connection), counts


def _nothing_to_try(form: BulkStatusForm) -> Outcome | None:
    if not form.is_valid():
        errors = form.errors
        # An ErrorList item is its message; the stubs also allow the ValidationError.
        return Outcome("error", str(errors["ids"][0]) if "ids" in errors else CHOOSE_A_STATUS)
    if not form.cleaned_data["ids"]:
        return Outcome("warning", SELECT_SOMETHING)
    return None


def _bulk_outcome(change: Attempt, selected: int, new_status: str, changed: int) -> Outcome:
    if change.error is not None:
        return Outcome("error", error_text(change.error))
    text = f"{changed} package{'' if changed == 1 else 's'} marked {new_status}."
    unchanged = selected - changed
    if unchanged:
        text += f" {unchanged} already {new_status} left as they were."
    return Outcome("success", text)


def _bulk_result(change: Attempt, outcome: Outcome, new_status: str) -> dict:
    """The message above the list; a refusal lists the rows that blocked it."""
    error = change.error
    if isinstance(error, services.BulkTransitionError):
        text = (
            f"Nothing was changed: {len(error.blocked)} of the selected packages "
            f"cannot go to {new_status}:"
        )
        return {"level": "error", "text": text, "blocked": error.blocked}
    return {"level": outcome.level, "text": outcome.text}


@require_POST
@login_required
@vary_on_headers("HX-Request")
def bulk_status(request: HttpRequest, event_id: int) -> HttpResponse:
    """Apply the next status to every selected row, all or nothing; a refusal lists the rows
    that blocked it (and keeps them selected)."""
    require(request, PERM_MOVE)
    filters = filters_of(request)
    form = BulkStatusForm(request.POST)
    with transaction.atomic():
        event = get_event(event_id)
    change, new_status, kept = Attempt(), "", set()
    outcome = _nothing_to_try(form)
    if outcome is None:
        ids, new_status = form.cleaned_data["ids"], form.cleaned_data["new_status"]
        changed = 0
        with change, not_found(NOT_THIS_EVENT), transaction.atomic():
            changed = services.bulk_update_fulfillment_status(
                ids,
                new_status,
                changed_by=request.user,
                source=ChangeSource.PAGE,
                event_id=event.pk,
                connection=connection,
            )
            # As for one row: the list a saved change shows is read before it commits.
            listed = _listed(request, event, filters, set())
        outcome = _bulk_outcome(change, len(ids), new_status, changed)
        kept = set(ids) if change.error else set()
    if outcome.level != "success":
        with transaction.atomic():  # nothing was saved
            listed = _listed(request, event, filters, kept)
    context = {"result": _bulk_result(change, outcome, new_status), **listed}
    return respond(
        request,
        outcome,
        fragment=lambda: render_list_update(request, context),
        redirect_to=page_url(event, filters),
    )


def _listed(request: HttpRequest, event, filters: dict, kept: set[int]) -> dict:
    """The list for htmx, inside the caller's transaction; without JavaScript the page is
    loaded anew."""
    return list_context(request, event, filters, kept) if wants_fragment(request) else {}


def _offer_undo(request: HttpRequest, event_id: int, assignment_id: int) -> HttpResponse:
    with transaction.atomic():
        event, row, history = get_row_and_history(event_id, assignment_id)
    form = UndoForm(initial={"expected_status": row.fulfillment_status})
    return row_or_page(request, event, row, history, focus="undo", undo_form=form)


@require_http_methods(["GET", "POST"])
@login_required
@vary_on_headers("HX-Request")
def assignment_undo(request: HttpRequest, event_id: int, assignment_id: int) -> HttpResponse:
    """Step the row back one status with a required reason (undo permission only)."""
    require(request, PERM_UNDO)
    if request.method == "GET":
        return _offer_undo(request, event_id, assignment_id)
    with transaction.atomic():
        event = get_event(event_id)
        row = get_row(event, assignment_id)
    form = UndoForm(request.POST)
    with Attempt(ValidationError, ObjectDoesNotExist) as change, transaction.atomic():
        if form.is_valid():
            services.undo_fulfillment_status(
                row.pk,
                reason=form.cleaned_data["reason"],
                expected_status=form.cleaned_data["expected_status"],
                changed_by=request.user,
                source=ChangeSource.PAGE,
                connection=connection,
            )
            # Read before the step back commits (see assignment_status).
            row, history, counts = _shown_with_history(event, assignment_id)
    if isinstance(change.error, ObjectDoesNotExist):
        return row_gone(request, event, filters_of(request))
    if change.error is not None or not form.is_valid():
        with transaction.atomic():  # nothing was saved
            row, history, counts = _shown_with_history(event, assignment_id)
    # Nothing to undo, or a reason of only spaces: said on the form, like a blank reason.
    if refused_on_form(form, change):
        return row_or_page(request, event, row, history, focus="undo", undo_form=form)
    outcome = outcome_of(change, row, f"Stepped back to {row.fulfillment_status}.")

    def fragment() -> HttpResponse:
        context = row_context(
            request,
            event,
            row,
            **row_messages(change, outcome),
            success=None if change.error else outcome.text,
            history=history,
            show_history=True,
        )
        return render_row_update(request, context, counts)

    detail = reverse("fulfillment:assignment_detail", args=[event.pk, row.pk])
    back = with_query(detail, filter_query(filters_of(request)))
    return respond(request, outcome, fragment=fragment, redirect_to=back)


def _taken_back_text(row) -> str:
    names = {"recipient": row.recipient.name, "package": row.package.name}
    return TAKEN_BACK.format(status=row.fulfillment_status, **names)


@require_POST
@login_required
@vary_on_headers("HX-Request")
def assignment_take_back(request: HttpRequest, event_id: int, assignment_id: int) -> HttpResponse:
    """Take back the step this user just made (services.take_back_fulfillment_status): no
    reason needed within the window; a colleague's or an older step is refused with the
    way to a coordinator's undo, and the row is shown as it now is."""
    require(request, PERM_MOVE)
    form = TakeBackForm(request.POST)
    with transaction.atomic():
        event = get_event(event_id)
        get_row(event, assignment_id)
    refusals = (ValidationError, ObjectDoesNotExist, PermissionDenied)
    with Attempt(*refusals) as change, transaction.atomic():
        if not form.is_valid():
            raise ValidationError(NOT_A_STATUS)
        services.take_back_fulfillment_status(
            assignment_id,
            expected_status=form.cleaned_data["expected_status"],
            changed_by=request.user,
            connection=connection,
        )
        row, counts = _shown(event, assignment_id)  # read before it commits
    if isinstance(change.error, ObjectDoesNotExist):
        return row_gone(request, event, filters_of(request))
    if change.error is not None:
        with transaction.atomic():  # nothing was saved
            row, counts = _shown(event, assignment_id)
    outcome = outcome_of(change, row, _taken_back_text(row))
    short = None if change.error else f"Taken back to {row.fulfillment_status}."
    return _answer_row_change(request, event, row, counts, change, outcome, {"success": short})
