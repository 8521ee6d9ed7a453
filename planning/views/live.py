"""The live parts of the events list (each card's counts and bars) and of the dashboard (the
summary strip, the target rows of the pages shown with their progress, the latest runs),
answered 204 while nothing they show changed (eventplanner.live)."""

from __future__ import annotations

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from eventplanner import live
from planning.models import Event
from planning.views.common import DASHBOARD
from planning.views.dashboard import dashboard_context
from planning.views.events import list_context

LIVE = {"oob": True, "live_oob": True}


@live.poll_view(live.EVENTS)
def events_live(request: HttpRequest) -> HttpResponse:
    context = list_context(request)
    response = render(request, "planning/event_list.html#live_update", {**context, **LIVE})
    ids = [f"event-card-{item['row'].event.pk}" for item in context["events"]]
    return live.row_ids_header(response, ids)


@live.poll_view(live.DASHBOARD)
def dashboard_live(request: HttpRequest, event_id: int) -> HttpResponse:
    event = get_object_or_404(Event, pk=event_id)
    with transaction.atomic():
        context = dashboard_context(request, event)
    response = render(request, f"{DASHBOARD}#live_update", {**context, **LIVE})
    ids = [
        f"{name}-row-{row.item_id}"
        for name, section in context["sections"].items()
        for row in section.rows
    ]
    return live.row_ids_header(response, ids)
