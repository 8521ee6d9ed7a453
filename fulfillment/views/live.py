"""The fulfillment page's live part: the counts and the rows of the page the user is on
(status, search and page number from the query string, as on the page), answered 204 while
the event is unchanged (eventplanner.live)."""

from __future__ import annotations

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from eventplanner import live
from fulfillment.views._common import PAGE, filters_of, get_event
from fulfillment.views.page import list_context


@live.poll_view(live.FULFILLMENT)
def fulfillment_live(request: HttpRequest, event_id: int) -> HttpResponse:
    filters = filters_of(request)
    with transaction.atomic():
        event = get_event(event_id)
        context = list_context(request, event, filters)
    response = render(request, f"{PAGE}#live_update", {**context, "oob": True, "live_oob": True})
    return live.row_ids_header(response, [f"assignment-{r.pk}" for r in context["rows"]])
