"""A target of either kind: adding it from its table's form, and changing or removing it in
its own row."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db import connection, transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import trigger_client_event

from eventplanner.htmx import (
    DELETED_MEANWHILE,
    Outcome,
    apply_form_errors,
    gone_text,
    respond,
    wants_fragment,
)
from planning import services
from planning.forms import target_edit_form, target_form
from planning.kinds import Target
from planning.models import Event
from planning.views.common import (
    DASHBOARD,
    answer_change,
    answer_form,
    dashboard_url,
    event_gone,
    fulfillment_urls,
    page_numbers,
    page_or_part,
    page_query,
    summary_context,
)
from planning.views.dashboard import TARGETS_CHANGED, TargetRow, dashboard_part, done, target_rows
from planning.views.kind_pages import KindPage, kind_page


@require_POST
@login_required
def target_add(request: HttpRequest, event_id: int, kind: str) -> HttpResponse:
    page = kind_page(request, kind, "add")
    event = get_object_or_404(Event, pk=event_id)
    form = target_form(page.kind)(request.POST)
    if form.is_valid():
        item = form.cleaned_data[page.kind.item_field]
        try:
            with transaction.atomic():
                target, created = services.set_target(
                    page.kind,
                    event.pk,
                    item.pk,
                    form.cleaned_data[page.kind.amount_field],
                    form.cleaned_data["notes"],
                    connection=connection,
                )
        except Event.DoesNotExist:
            return event_gone(request, form)
        except ObjectDoesNotExist as gone:
            form.add_error(page.kind.item_field, gone_text(gone))
        except ValidationError as error:
            apply_form_errors(form, error)
        else:
            amount = page.amount_text(getattr(target, page.kind.amount_field))
            if created:
                message = f"Added {item.name}: {amount}."
            else:
                message = f"{item.name} already had a target, so it was updated to {amount}."
            return answer_change(
                request, message, lambda: done(request, event, kind, message, show=(kind, item.pk))
            )
    return answer_form(
        request, form, lambda: dashboard_part(request, event, kind, posted={kind: form}, oob=())
    )


def _row(request: HttpRequest, event: Event, page: KindPage, item_id: int) -> TargetRow:
    """The target's row as its table shows it; call it inside the view's transaction."""
    rows = services.get_target_progress(page.kind, event.pk, connection=connection)
    found = [row for row in rows if getattr(row, page.kind.item_id_field) == item_id]
    if not found:
        raise Http404("No such target.")
    return target_rows(request, event, page, found)[0]


def _row_response(request: HttpRequest, part: str, context: dict[str, Any]) -> HttpResponse:
    # Back on the row's Edit link after saving or cancelling.
    response = render(request, f"{DASHBOARD}#{part}", {**context, "refocus": True})
    patch_vary_headers(response, ["HX-Request"])
    return response


def _edit_response(
    request: HttpRequest, event: Event, page: KindPage, item_id: int, form: forms.Form
) -> HttpResponse:
    """The row as an inline form for htmx, else the edit page; inside the view's
    transaction."""
    # Keyboard users land in the amount field when the row turns into a form.
    form.fields[page.kind.amount_field].widget.attrs["autofocus"] = True
    numbers = page_numbers(request)
    context = {
        "event": event,
        "row": _row(request, event, page, item_id),
        "form": form,
        "kind": page.name,
        "item_id": item_id,
        "nav": "events",
        "back_url": dashboard_url(event, numbers, f"#{page.name}"),
        "page_query": page_query(numbers),
    }
    return page_or_part(request, "planning/target_edit.html", "target-row-edit", context)


def _saved_row(request: HttpRequest, event: Event, page: KindPage, item_id: int) -> HttpResponse:
    """The row shown again with the summary and the message; inside the view's
    transaction."""
    context = {
        "event": event,
        "row": _row(request, event, page, item_id),
        **summary_context(services.get_event_overall_progress(event.pk, connection=connection)),
        "fulfillment": fulfillment_urls(event),
        "flash": "Target saved.",
    }
    response = _row_response(request, "target-row-saved", context)
    return trigger_client_event(response, TARGETS_CHANGED)


@require_http_methods(["GET", "POST"])
@login_required
def target_edit(request: HttpRequest, event_id: int, kind: str, item_id: int) -> HttpResponse:
    """GET: the row as an inline form. POST: save its amount and notes."""
    page = kind_page(request, kind, "change")
    event = get_object_or_404(Event, pk=event_id)
    amount_field = page.kind.amount_field
    # A row of the kind's model: the stubs solve a union of models to their common base.
    target = cast(
        Target,
        get_object_or_404(
            page.kind.target_model, event=event, **{page.kind.item_id_field: item_id}
        ),
    )
    form_class, auto_id = target_edit_form(page.kind), f"edit-{kind}-{item_id}_%s"
    if request.method == "GET":
        initial = {amount_field: getattr(target, amount_field), "notes": target.notes}
        form = form_class(initial=initial, auto_id=auto_id)
    else:
        form = form_class(request.POST, auto_id=auto_id)
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                services.set_target(
                    page.kind,
                    event.pk,
                    item_id,
                    form.cleaned_data[amount_field],
                    form.cleaned_data["notes"],
                    connection=connection,
                )
        except ObjectDoesNotExist:
            # The event or the item was deleted meanwhile, and the target with it.
            return event_gone(request, form, DELETED_MEANWHILE.format(what="This target"))
        except ValidationError as error:
            apply_form_errors(form, error)
        else:
            return answer_change(
                request,
                "Target saved.",
                lambda: respond(
                    request,
                    Outcome("success", "Target saved."),
                    fragment=lambda: _saved_row(request, event, page, item_id),
                    redirect_to=dashboard_url(event, page_numbers(request), f"#{kind}"),
                ),
            )
    return answer_form(request, form, lambda: _edit_response(request, event, page, item_id, form))


@require_GET
@login_required
def target_row(request: HttpRequest, event_id: int, kind: str, item_id: int) -> HttpResponse:
    """The row in display mode (the inline form's Cancel)."""
    page = kind_page(request, kind)
    event = get_object_or_404(Event, pk=event_id)
    if not wants_fragment(request):
        return redirect(dashboard_url(event, page_numbers(request), f"#{kind}"))
    with transaction.atomic():
        context = {"event": event, "row": _row(request, event, page, item_id)}
    return _row_response(request, "target-row", context)


@require_http_methods(["GET", "POST"])
@login_required
def target_delete(request: HttpRequest, event_id: int, kind: str, item_id: int) -> HttpResponse:
    """GET: a confirmation page (the no-JavaScript path). POST: delete."""
    page = kind_page(request, kind, "delete")
    event = get_object_or_404(Event, pk=event_id)
    target = get_object_or_404(
        page.kind.target_model.objects.select_related(page.kind.item_field),
        event=event,
        **{page.kind.item_id_field: item_id},
    )
    item = getattr(target, page.kind.item_field)
    if request.method == "GET":
        context = {
            "event": event,
            "target": target,
            "item": item,
            "kind": kind,
            "nav": "events",
            "back_url": dashboard_url(event, page_numbers(request), f"#{kind}"),
        }
        return render(request, "planning/target_confirm_delete.html", context)
    with transaction.atomic():
        services.delete_target(page.kind, event.pk, item_id, connection=connection)
    # Deleted by this request or just before it by another (a double click): gone either way.
    text = f"Removed the target for {item.name}."
    return answer_change(request, text, lambda: done(request, event, kind, text))
