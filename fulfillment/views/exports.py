"""What leaves the screen: the CSV export, the printable packing list and the delivery-day
checklist of an event."""

from __future__ import annotations

import csv
import unicodedata
from typing import Any

from django.contrib.auth.decorators import login_required
from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.text import slugify
from django.views.decorators.http import require_GET

from fulfillment import services
from fulfillment.views._common import abilities, filters_of, get_event

# What a spreadsheet may read as the start of a formula or a command, checked after NFKC
# folds the fullwidth and small forms (＝ ＋ － ＠, ﹦ ...) into these and after leading
# spaces, which some spreadsheets skip; U+2212 (−) is a minus sign that NFKC leaves alone.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\n", "\u2212")
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
    if isinstance(value, str) and formula_like(value):
        return "'" + value
    return value


def formula_like(text: str) -> bool:
    folded = unicodedata.normalize("NFKC", text).lstrip(" \u00a0\u3000")
    return folded.startswith(FORMULA_PREFIXES) or text.startswith(("\t", "\r"))


@require_GET
@login_required
def export_csv(request: HttpRequest, event_id: int) -> HttpResponse:
    """The event's assignments as CSV, with the page's current filter applied."""
    filters = filters_of(request)
    with transaction.atomic():
        event = get_event(event_id)
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
    filters = filters_of(request)
    with transaction.atomic():
        event = get_event(event_id)
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
        event = get_event(event_id)
        stops = services.get_delivery_checklist(event.pk, connection=connection)
    return render(
        request,
        "fulfillment/checklist.html",
        {"event": event, "stops": stops, **abilities(request)},
    )
