"""What an event's packages need, worked out on request, and turning the planner's choice of
suggestions into targets."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_GET, require_POST

from eventplanner.htmx import apply_form_errors, gone_text
from planning import services
from planning.forms import ApplyNeedsForm
from planning.kinds import KINDS
from planning.models import Event
from planning.views.common import answer_change, answer_form, event_gone, page_or_part
from planning.views.dashboard import dashboard_part, done, needs_context

# Applying the suggestions creates and raises targets of both kinds.
APPLY_NEEDS_PERMS = [kind.perm(action) for kind in KINDS.values() for action in ("add", "change")]


@require_GET
@login_required
def event_needs(request: HttpRequest, event_id: int) -> HttpResponse:
    """The dashboard's needs section, worked out when asked for; without JavaScript, a page
    of its own."""
    event = get_object_or_404(Event, pk=event_id)
    with transaction.atomic():
        needs = services.get_event_needs(event.pk, connection=connection)
    context = {"nav": "events", "event": event} | needs_context(needs)
    return page_or_part(request, "planning/event_needs.html", "needs", context)


@require_POST
@login_required
@permission_required(APPLY_NEEDS_PERMS, raise_exception=True)
def needs_apply(request: HttpRequest, event_id: int) -> HttpResponse:
    event = get_object_or_404(Event, pk=event_id)
    with transaction.atomic():
        needs = services.get_event_needs(event.pk, connection=connection)
    form = ApplyNeedsForm(request.POST, needs=needs)
    if form.is_valid():
        try:
            with transaction.atomic():
                applied = services.apply_event_needs(
                    event.pk,
                    recipe_ids=form.cleaned_data["recipe_ids"],
                    finished_good_ids=form.cleaned_data["finished_good_ids"],
                    connection=connection,
                )
        except Event.DoesNotExist:
            return event_gone(request)
        except ObjectDoesNotExist as gone:
            form.add_error(None, gone_text(gone))
        except ValidationError as error:
            apply_form_errors(form, error)
        else:
            message = (
                f"Applied the suggestions: {applied.created} target"
                f"{'s' if applied.created != 1 else ''} created, {applied.raised} raised."
            )
            return answer_change(
                request,
                message,
                lambda: done(request, event, "needs", message, oob=(*KINDS, "summary")),
            )
    # Re-show the planner's own ticks, not the defaults.
    extra = {
        "needs_form": form,
        "needs_selected_recipes": _posted_ids(request, "recipe_ids"),
        "needs_selected_goods": _posted_ids(request, "finished_good_ids"),
    }
    return answer_form(
        request, form, lambda: dashboard_part(request, event, "needs", oob=(), extra=extra)
    )


def _posted_ids(request: HttpRequest, name: str) -> set[int]:
    # "²".isdigit() is true and int("²") fails: only ASCII digits are ids.
    return {
        int(v) for v in request.POST.getlist(name) if v.isascii() and v.isdigit() and len(v) < 19
    }
