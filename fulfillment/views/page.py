"""The fulfillment page of an event: every assignment, filtered, searched and paged, with the
counts per status."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from eventplanner import live
from eventplanner.htmx import wants_fragment
from fulfillment import services
from fulfillment.forms import FulfillmentFilterForm
from fulfillment.views._common import (
    PAGE,
    PER_PAGE,
    ROW_EXTRAS,
    RowDisplayer,
    filter_context,
    filter_query,
    filters_of,
    get_event,
)
from planning.models import Event


def list_context(
    request: HttpRequest,
    event: Event,
    filters: dict[str, Any],
    selected_ids: set[int] | frozenset[int] = frozenset(),
) -> dict:
    """One page of the event's assignments with the counts, as the list shows them."""
    page = services.list_event_assignments(
        event.pk,
        status=filters["status"],
        search=filters["search"],
        page=filters["page"],
        per_page=PER_PAGE,
        connection=connection,
    )
    filters["page"] = page.page
    return {
        "event": event,
        "page": page,
        "rows": list(map(RowDisplayer(event, selected_ids), page.rows)),
        "counts": page.counts,
        "export_query": filter_query(filters, page=False),
        **filter_context(request, filters),
        **ROW_EXTRAS,
    }


def render_list_update(request: HttpRequest, context: dict) -> HttpResponse:
    """The list with the counts and the tools out of band, which follow the filter."""
    return render(request, f"{PAGE}#list_update", {**context, "oob": True})


@require_GET
@login_required
@vary_on_headers("HX-Request")
@live.conditional_page(live.FULFILLMENT)
def event_fulfillment(request: HttpRequest, event_id: int) -> HttpResponse:
    """All assignments of the event, filtered, searched and paged, with counts per status.
    htmx requests (filter, search, paging) get the list fragment only."""
    filters = filters_of(request)
    with transaction.atomic():
        event = get_event(event_id)
        context = list_context(request, event, filters)
    if wants_fragment(request):
        return render_list_update(request, context)
    context["filter_form"] = FulfillmentFilterForm(
        initial={"status": filters["status"] or "", "q": filters["search"]}
    )
    # The counters were read before the list (by the ETag), as the token needs.
    context.update(live.page_context(request, live.FULFILLMENT, event_id=event.pk))
    return render(request, PAGE, context)
