"""One assignment: its page, its history, editing it, removing it, and assigning a package to
a recipient in the first place.

As everywhere in the app, each phase of a view (load, change, reload) is its own short
transaction in the view's body and nothing is rendered inside one."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db import connection, transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from eventplanner.htmx import (
    DELETED_MEANWHILE,
    Attempt,
    HtmxHttpRequest,
    Outcome,
    error_text,
    keep_typing,
    respond,
    saved_but_not_shown,
    wants_fragment,
)
from eventplanner.middleware import DATABASE_UNAVAILABLE_ERRORS
from fulfillment import services
from fulfillment.forms import AssignmentEditForm, AssignmentForm, UndoForm
from fulfillment.models import EventRecipientPackage, Recipient
from fulfillment.views._common import (
    ALREADY_REMOVED,
    ASSIGNMENT_PAGE,
    PERM_ADD_ASSIGNMENT,
    PERM_EDIT_ASSIGNMENT,
    PERM_REMOVE_ASSIGNMENT,
    ROW_GONE,
    filter_query,
    filters_of,
    get_event,
    get_row,
    get_row_and_history,
    page_url,
    refused_on_form,
    render_row,
    require,
    row_context,
    row_gone,
)
from planning.models import Event

if TYPE_CHECKING:
    from fulfillment.reads import ShownAssignment

NEW_PAGE = "fulfillment/assignment_new.html"
# The search box whose typing asks for its choices, and the part that holds them.
CHOICE_PARTS = {"recipient_q": "recipient_choice", "package_q": "package_choice"}
# How many recipients or packages a choice lists; the search narrows them.
CHOICES = 20


def assignment_page(
    request: HttpRequest, event: Event, row: ShownAssignment, history, **extra
) -> HttpResponse:
    """The no-JavaScript page for one assignment: its history, undo and edit forms."""
    context = row_context(request, event, row, history=history, **extra)
    # Without JavaScript the step's answer is a redirect to the list: its take-back offer is
    # here, while the service would allow it.
    last = history[-1] if history else None
    context["take_back"] = (
        context["can_move"]
        and last is not None
        and last.to_status == row.fulfillment_status
        and last.may_be_taken_back_by(request.user, timezone.now())
    )
    context.setdefault("undo_form", UndoForm(initial={"expected_status": row.fulfillment_status}))
    context.setdefault(
        "edit_form", AssignmentEditForm(initial={"quantity": row.quantity, "notes": row.notes})
    )
    return render(request, ASSIGNMENT_PAGE, context)


def row_or_page(
    request: HttpRequest, event: Event, row, history, *, focus: str, **extra
) -> HttpResponse:
    """A form opened on the row (or shown again with its errors): in place for htmx, on the
    assignment's page otherwise, with the cursor in that form."""
    if wants_fragment(request):
        return render_row(request, event, row, **extra)
    return assignment_page(request, event, row, history, focus=focus, **extra)


def _row_read(
    request: HttpRequest, event_id: int, assignment_id: int, *, show_history: bool
) -> HttpResponse:
    """htmx: the row, with its status history opened below it or closed; otherwise the
    assignment's page, which always shows the history."""
    with transaction.atomic():
        event, row, history = get_row_and_history(event_id, assignment_id)
    if not wants_fragment(request):
        return assignment_page(request, event, row, history)
    opened = {"history": history, "show_history": True} if show_history else {}
    # Back from the history, an edit or an undo, or into the history: focus stays on the
    # row's links.
    return render_row(request, event, row, focus_history=True, **opened)


@require_GET
@login_required
@vary_on_headers("HX-Request")
def assignment_detail(request: HttpRequest, event_id: int, assignment_id: int) -> HttpResponse:
    """htmx: the plain row (e.g. to close the history); otherwise the assignment's page."""
    return _row_read(request, event_id, assignment_id, show_history=False)


@require_GET
@login_required
@vary_on_headers("HX-Request")
def assignment_history(request: HttpRequest, event_id: int, assignment_id: int) -> HttpResponse:
    """The row with its status history opened below it (who, when, from, to, where)."""
    return _row_read(request, event_id, assignment_id, show_history=True)


@require_http_methods(["GET", "POST"])
@login_required
@vary_on_headers("HX-Request")
def assignment_edit(request: HttpRequest, event_id: int, assignment_id: int) -> HttpResponse:
    """Edit the quantity and notes of an assignment in place."""
    require(request, PERM_EDIT_ASSIGNMENT)
    with transaction.atomic():
        event, row, history = get_row_and_history(event_id, assignment_id)
    if request.method == "GET":
        form = AssignmentEditForm(initial={"quantity": row.quantity, "notes": row.notes})
        return row_or_page(request, event, row, history, focus="edit", edit_form=form)
    form = AssignmentEditForm(request.POST)
    with Attempt(ValidationError, ObjectDoesNotExist) as change, transaction.atomic():
        if form.is_valid():
            # The form's fields are the service's: the quantity and the notes.
            services.update_assignment(row.pk, **form.cleaned_data, connection=connection)
    if isinstance(change.error, ObjectDoesNotExist):
        # Removed meanwhile: the form is shown again as typed, on the row as it was.
        form.add_error(None, ROW_GONE)
        return row_or_page(request, event, row, history, focus="edit", edit_form=form)
    if refused_on_form(form, change):
        return row_or_page(request, event, row, history, focus="edit", edit_form=form)
    with transaction.atomic():
        row = get_row(event, assignment_id)
    outcome = Outcome("success", f"Saved {row.package.name} for {row.recipient.name}.")
    return respond(
        request,
        outcome,
        fragment=lambda: render_row(request, event, row, success="Saved."),
        redirect_to=page_url(event, filters_of(request), f"#assignment-{row.pk}"),
    )


@require_POST
@login_required
@vary_on_headers("HX-Request")
def assignment_remove(request: HttpRequest, event_id: int, assignment_id: int) -> HttpResponse:
    """Remove a pending assignment without history; anything else is refused with why."""
    require(request, PERM_REMOVE_ASSIGNMENT)
    filters = filters_of(request)
    confirmed = wants_fragment(request) or request.POST.get("confirm") == "yes"
    with transaction.atomic():
        event = get_event(event_id)
        row = EventRecipientPackage.objects.filter(pk=assignment_id, event=event).first()
    if row is None and confirmed:
        # The second of a double submit lands where the first did.
        return row_gone(request, event, filters, ALREADY_REMOVED)
    if row is None:
        raise Http404("No such package for this event.")
    if not confirmed:
        # The htmx button asks in the browser (hx-confirm); without JavaScript, ask here.
        context = {"event": event, "a": row, "filter_query": filter_query(filters)}
        return render(request, "fulfillment/assignment_confirm_remove.html", context)
    with Attempt(ValidationError, ObjectDoesNotExist) as change, transaction.atomic():
        services.remove_assignment(row.pk, connection=connection)
    if isinstance(change.error, ObjectDoesNotExist):
        return row_gone(request, event, filters, ALREADY_REMOVED)
    outcome = change.outcome(f"Removed {row.package.name} for {row.recipient.name}.")
    if change.error is not None:
        with transaction.atomic():
            row = get_row(event, assignment_id)
        return respond(
            request,
            outcome,
            fragment=lambda: render_row(request, event, row, error=outcome.text),
            redirect_to=page_url(event, filters, f"#assignment-{row.pk}"),
        )
    try:
        return row_gone(request, event, filters, outcome.text)
    except DATABASE_UNAVAILABLE_ERRORS:
        return saved_but_not_shown(request, outcome.text)


def _refused_assignment(form: AssignmentForm, context: dict, error: Exception) -> None:
    """Say on the form why the package was not assigned."""
    if isinstance(error, services.DuplicateAssignmentError):
        context["duplicate"] = error.existing
        form.add_error(None, error_text(error))
    elif isinstance(error, Recipient.DoesNotExist):
        form.add_error("recipient", "That recipient no longer exists; search again.")
    elif isinstance(error, ObjectDoesNotExist):
        form.add_error("package", "That package no longer exists; search again.")
    else:
        form.add_error(None, error_text(error))


def _choice_part(request: HtmxHttpRequest) -> str | None:
    """The part of the form a search box asks for while someone types in it."""
    if request.method != "GET" or not wants_fragment(request):
        return None
    return CHOICE_PARTS.get(request.htmx.trigger_name or "")


def _new_form(request: HttpRequest, context: dict[str, Any]) -> HttpResponse:
    if wants_fragment(request):
        return render(request, f"{NEW_PAGE}#form", context)
    return render(request, NEW_PAGE, context)


@require_http_methods(["GET", "POST"])
@login_required
@vary_on_headers("HX-Request", "HX-Trigger-Name")
def assignment_new(request: HtmxHttpRequest, event_id: int) -> HttpResponse:
    """Assign a package to a recipient, both chosen by search. Typing in a search box asks
    this view (htmx) for just that box's choices; without JavaScript the Search button posts
    the form back with the narrowed choices and saves nothing. Assigning the same package to
    the same recipient again offers to edit the existing row."""
    require(request, PERM_ADD_ASSIGNMENT)
    data = request.POST if request.method == "POST" else request.GET
    # The Search button posts the form (so the CSRF token never lands in a URL) only to
    # narrow the choices: nothing is saved.
    saving = request.method == "POST" and "search" not in request.POST
    form = AssignmentForm(data if saving else None, initial=data.dict())
    with transaction.atomic():
        event = get_event(event_id)
        # One more than is shown, to say when there are more matches than the list shows.
        recipients = services.search_recipients(
            (data.get("recipient_q") or "")[:200], connection=connection, limit=CHOICES + 1
        )
        packages = services.search_packages(
            (data.get("package_q") or "")[:200], connection=connection, limit=CHOICES + 1
        )
    context: dict[str, Any] = {
        "event": event,
        "form": form,
        "shown": CHOICES,
        "more_recipients": len(recipients) > CHOICES,
        "more_packages": len(packages) > CHOICES,
    }
    recipients, packages = recipients[:CHOICES], packages[:CHOICES]
    form.set_choices(recipients, packages)
    if part := _choice_part(request):
        return render(request, f"{NEW_PAGE}#{part}", context)
    if not (saving and form.is_valid()):
        return _new_form(request, context)
    with Attempt(ValidationError, ObjectDoesNotExist) as change, transaction.atomic():
        choice = form.cleaned_data
        created = services.assign_package(
            event.pk,
            choice["recipient"],
            choice["package"],
            choice["quantity"],
            choice["notes"],
            connection=connection,
        )
    if isinstance(change.error, Event.DoesNotExist):
        return _event_gone(request, form)
    if change.error is not None:
        _refused_assignment(form, context, change.error)
        return _new_form(request, context)
    outcome = Outcome("success", f"Assigned {created.package.name} to {created.recipient.name}.")
    # For htmx the form stays open, empty, for the next package.
    fresh = AssignmentForm(initial={"quantity": 1})
    fresh.set_choices(recipients, packages)
    context.update(form=fresh, success=outcome.text, created=created)
    return respond(
        request,
        outcome,
        fragment=lambda: render(request, f"{NEW_PAGE}#form", context),
        redirect_to=page_url(event, {}, f"#assignment-{created.pk}"),
    )


def _event_gone(request: HttpRequest, form: AssignmentForm) -> HttpResponse:
    """The event was deleted while the package was being assigned: nothing was saved; for
    htmx the form stays as chosen, otherwise a page says so."""
    text = DELETED_MEANWHILE.format(what="This event")
    context = {"message": text, "typed": [], "nav": "events"}
    return keep_typing(
        request, text, lambda: render(request, "planning/event_gone.html", context, status=410)
    )
