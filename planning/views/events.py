"""The events list and an event's own pages: create, edit, copy for next season, delete."""

from __future__ import annotations

import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from eventplanner import live
from eventplanner.htmx import ALREADY_DELETED, page_or_fragment
from planning import services
from planning.forms import EventFilterForm, EventForm
from planning.models import Event
from planning.views.common import fulfillment_url, refusal_shown_on, relative_day


@require_GET
@login_required
@live.conditional_page(live.EVENTS)
def event_list(request: HttpRequest) -> HttpResponse:
    context = list_context(request)
    context.update(live.page_context(request, live.EVENTS))
    return page_or_fragment(request, "planning/event_list.html", "event-list", context)


def list_context(request: HttpRequest) -> dict:
    """The events of the filter in the query string, with their progress, as the list and
    its live part show them."""
    data = request.GET.copy()
    data.setdefault("when", "upcoming")
    form = EventFilterForm(data)
    when, date_from, date_to = "upcoming", None, None
    if form.is_valid():
        when = form.cleaned_data["when"]
        date_from = form.cleaned_data["date_from"]
        date_to = form.cleaned_data["date_to"]
    today = timezone.localdate()
    with transaction.atomic():
        rows = services.get_events_with_progress(
            connection=connection, when=when, date_from=date_from, date_to=date_to, today=today
        )
    return {
        "nav": "events",
        "form": form,
        "when": when,
        "filtered": bool(date_from or date_to),
        "events": [
            {
                "row": row,
                "relative": relative_day(row.event.event_date, today),
                "fulfillment_url": fulfillment_url(row.event.pk),
            }
            for row in rows
        ],
    }


@require_http_methods(["GET", "POST"])
@login_required
@permission_required("planning.add_event", raise_exception=True)
def event_create(request: HttpRequest) -> HttpResponse:
    form = EventForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with refusal_shown_on(form), transaction.atomic():
            event = services.create_event(**form.cleaned_data, connection=connection)
        if not form.errors:
            messages.success(request, f"Created {event.name}. Next: set what to bake.")
            _warn_if_past(request, event)
            return redirect("planning:event_detail", event.pk)
    return render(
        request, "planning/event_form.html", {"form": form, "title": "New event", "nav": "events"}
    )


@require_http_methods(["GET", "POST"])
@login_required
@permission_required("planning.change_event", raise_exception=True)
def event_edit(request: HttpRequest, event_id: int) -> HttpResponse:
    event = get_object_or_404(Event, pk=event_id)
    form = EventForm(request.POST) if request.method == "POST" else EventForm.for_event(event)
    if request.method == "POST" and form.is_valid():
        with refusal_shown_on(form), transaction.atomic():
            event = services.update_event(event.pk, **form.cleaned_data, connection=connection)
        if not form.errors:
            messages.success(request, f"Saved {event.name}.")
            _warn_if_past(request, event)
            return redirect("planning:event_detail", event.pk)
    context = {"form": form, "event": event, "title": f"Edit {event.name}", "nav": "events"}
    return render(request, "planning/event_form.html", context)


@require_http_methods(["GET", "POST"])
@login_required
@permission_required("planning.add_event", raise_exception=True)
def event_clone(request: HttpRequest, event_id: int) -> HttpResponse:
    source = get_object_or_404(Event, pk=event_id)
    if request.method == "POST":
        form = EventForm(request.POST)
    else:
        next_date = _same_day_next_year(source.event_date)
        name = source.name.replace(str(source.event_date.year), str(next_date.year))
        if name == source.name:
            name = f"{source.name} ({next_date.year})"
        form = EventForm(initial={"name": name, "event_date": next_date, "notes": source.notes})
    if request.method == "POST" and form.is_valid():
        with refusal_shown_on(form), transaction.atomic():
            clone = services.clone_event(source.pk, **form.cleaned_data, connection=connection)
        if not form.errors:
            messages.success(
                request,
                f"Created {clone.name} from {source.name}: targets and assignments copied, "
                "all packages pending, no runs.",
            )
            return redirect("planning:event_detail", clone.pk)
    context = {
        "form": form,
        "event": source,
        "title": f"Copy {source.name} for next season",
        "clone": True,
        "nav": "events",
    }
    return render(request, "planning/event_form.html", context)


def _warn_if_past(request: HttpRequest, event: Event) -> None:
    # A past date is allowed (recording last season), but a year typo should not go unseen.
    today = timezone.localdate()
    if event.event_date < today:
        messages.warning(
            request,
            f"Note: the date of {event.name} is in the past "
            f"({relative_day(event.event_date, today)}). Edit it if that was a typo.",
        )


def _same_day_next_year(date: datetime.date) -> datetime.date:
    if date.year == datetime.MAXYEAR:
        return date  # no next year to suggest; the planner picks a date
    try:
        return date.replace(year=date.year + 1)
    except ValueError:  # 29 February
        return date.replace(year=date.year + 1, day=28)


@require_http_methods(["GET", "POST"])
@login_required
@permission_required("planning.delete_event", raise_exception=True)
def event_delete(request: HttpRequest, event_id: int) -> HttpResponse:
    event = Event.objects.filter(pk=event_id).first()
    if event is None and request.method == "POST":
        return _already_deleted(request, "This event")
    if event is None:
        raise Http404("No such event.")
    error = None
    if request.method == "POST":
        try:
            with transaction.atomic():
                services.delete_event(event.pk, connection=connection)
        except Event.DoesNotExist:
            # A double submit: the first request deleted it while this one waited.
            return _already_deleted(request, event.name)
        except ValidationError as refused:
            error = " ".join(refused.messages)
        else:
            messages.success(request, f"Deleted {event.name}.")
            return redirect("planning:event_list")
    try:
        with transaction.atomic():
            check = services.check_event_deletion(event.pk, connection=connection)
    except Event.DoesNotExist:
        return _already_deleted(request, event.name)
    context = {"event": event, "check": check, "error": error, "nav": "events"}
    return render(request, "planning/event_confirm_delete.html", context)


def _already_deleted(request: HttpRequest, what: str) -> HttpResponse:
    messages.info(request, ALREADY_DELETED.format(what=what))
    return redirect("planning:event_list")
