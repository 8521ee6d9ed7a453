"""Runs recorded for an event from the dashboard, and taking back one recorded by mistake."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db import connection, transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_POST

from eventplanner.htmx import apply_form_errors, gone_text
from planning import services
from planning.forms import run_form
from planning.models import Event
from planning.views.common import answer_change, answer_form, event_gone
from planning.views.dashboard import dashboard_part, done
from planning.views.kind_pages import kind_page


@require_POST
@login_required
def run_add(request: HttpRequest, event_id: int, kind: str) -> HttpResponse:
    page = kind_page(request, kind, "add", of_runs=True)
    event = get_object_or_404(Event, pk=event_id)
    fragment = page.run_fragment
    form = run_form(page.kind)(request.POST)
    if form.is_valid():
        try:
            with transaction.atomic():
                message = page.record_run(
                    form.cleaned_data,
                    event_id=event.pk,
                    notes=form.cleaned_data["notes"],
                    recorded_by=request.user,
                    connection=connection,
                )
        except Event.DoesNotExist:
            return event_gone(request, form)
        except ObjectDoesNotExist as gone:
            form.add_error(None, gone_text(gone))
        except ValidationError as error:
            apply_form_errors(form, error)
        else:
            return answer_change(
                request,
                message,
                lambda: done(request, event, fragment, message, oob=(kind, "summary", "runs")),
            )
    return answer_form(
        request,
        form,
        lambda: dashboard_part(request, event, fragment, posted={fragment: form}, oob=()),
    )


@require_POST
@login_required
def run_delete(request: HttpRequest, event_id: int, kind: str, run_id: int) -> HttpResponse:
    """Take back a run recorded by mistake; the progress follows at once."""
    page = kind_page(request, kind, "delete", of_runs=True)
    event = get_object_or_404(Event, pk=event_id)
    try:
        with transaction.atomic():
            run = services.delete_run(page.kind, run_id, event_id=event.pk, connection=connection)
    except ObjectDoesNotExist as missing:
        raise Http404("No such run for this event.") from missing
    amount = getattr(run, page.kind.run_amount_field)
    text = f"Took back the run of {page.run_text(amount, getattr(run, page.kind.item_field).name)}."
    return answer_change(
        request, text, lambda: done(request, event, "runs", text, oob=(kind, "summary"))
    )
