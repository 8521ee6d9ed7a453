"""The event dashboard: its target tables a page at a time, the run forms, the latest runs and
the summary; and the answers the dashboard's actions share (a refreshed part, or a redirect
back to the pages the planner was on)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.template.defaultfilters import floatformat
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import lazy
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import push_url, trigger_client_event

from eventplanner import live
from eventplanner.htmx import HtmxHttpRequest, Outcome, page_or_fragment, respond, wants_fragment
from planning import services
from planning.forms import ApplyNeedsForm, run_form, target_form
from planning.kinds import ASSEMBLY, KINDS, PRODUCTION, TargetKind
from planning.models import Event
from planning.views.common import (
    DASHBOARD,
    TARGETS_PER_PAGE,
    dashboard_url,
    fulfillment_urls,
    page_holding,
    page_numbers,
    page_query,
    relative_day,
    summary_context,
)
from planning.views.kind_pages import PAGES, KindPage

# After a change on the dashboard, these parts are refreshed out of band.
SIDE_PARTS = ("summary",)
# Sent after a target changes: a needs section on the page (it shows the current targets)
# reloads itself on it; the needs are not worked out for a page that does not show them.
TARGETS_CHANGED = "targets-changed"


@dataclass(frozen=True, slots=True)
class TargetRow:
    """A target row as the dashboard shows it. Its display values are worked out here once,
    instead of by template filters, conditions and tags for every row."""

    kind: TargetKind
    item_id: int
    name: str
    target: int
    done: int
    yield_text: str  # production only: what the batches made, e.g. "48 cookies"
    notes: str
    url: str  # the row's own URL; its actions are under it
    pct_text: str
    exceeded: bool
    badge_class: str
    badge_text: str
    can_edit: bool
    can_delete: bool


@dataclass(frozen=True)
class TargetSection:
    """A target table with its pager and its add form."""

    page: KindPage
    rows: list[TargetRow]
    pager: dict[str, Any]
    form: forms.Form
    items_left: bool
    can_add: bool
    add_url: str


@dataclass(frozen=True)
class RunCard:
    page: KindPage
    form: forms.Form
    can_add: bool
    add_url: str


def _badge(pct: float, complete: bool) -> tuple[str, str]:
    if pct > 100:
        return "exceeded", "Exceeded"
    if complete:
        return "complete", "✓ Complete"
    if pct == 0:
        return "", "Not started"
    return "in-progress", "In progress"


def target_rows(request: HttpRequest, event: Event, page: KindPage, rows: list) -> list[TargetRow]:
    """Progress rows of one kind as the table shows them."""
    kind = page.kind
    can_edit = request.user.has_perm(kind.perm("change"))
    can_delete = request.user.has_perm(kind.perm("delete"))
    result = []
    for row in rows:
        item_id = getattr(row, kind.item_id_field)
        pct = row.progress_pct
        badge_class, badge_text = _badge(pct, row.is_complete)
        result.append(
            TargetRow(
                kind=kind,
                item_id=item_id,
                name=getattr(row, f"{kind.item_field}_name"),
                target=getattr(row, kind.amount_field),
                done=getattr(row, page.done_field),
                yield_text=page.yield_text(row),
                notes=row.notes,
                url=reverse("planning:target_row", args=[event.pk, kind.name, item_id]),
                pct_text=floatformat(pct, 0),
                exceeded=pct > 100,
                badge_class=badge_class,
                badge_text=badge_text,
                can_edit=can_edit,
                can_delete=can_delete,
            )
        )
    return result


def _item_ids(kind: TargetKind, rows: list) -> list[int]:
    return [getattr(row, kind.item_id_field) for row in rows]


def _target_pages(
    request: HttpRequest, event: Event, progress: dict[str, list], show: tuple[str, int] | None
) -> dict[str, Any]:
    """Each target table's page of progress rows, by kind. `show` (kind, item id) picks the
    page with that item, e.g. a target just added."""
    numbers = page_numbers(request)
    if show is not None:
        name, item_id = show
        numbers[name] = page_holding(_item_ids(KINDS[name], progress[name]), item_id)
    return {
        name: Paginator(progress[name], TARGETS_PER_PAGE).get_page(numbers[name]) for name in KINDS
    }


def _pagers(event: Event, pages: dict[str, Any]) -> dict[str, dict[str, Any]]:
    current = {name: page.number for name, page in pages.items()}
    base = reverse("planning:event_detail", args=[event.pk])
    other = dict(zip(KINDS, reversed(KINDS), strict=True))

    def links(name: str, number: int) -> dict[str, str]:
        # Without JavaScript the whole page is shown again: the link names both tables'
        # pages. With htmx only this table is swapped and the other one may have moved since
        # this link was drawn: the request names this table's page, adds the other's from its
        # pager (hx-include), and the answer sets the address bar (HX-Push-Url).
        return {
            "href": dashboard_url(event, current | {name: number}, f"#{name}"),
            "hx": f"{base}?{name}_page={number}",
        }

    return {
        name: {
            "kind": name,
            "other": other[name],
            "page": page,
            "previous": links(name, page.number - 1) if page.has_previous() else None,
            "next": links(name, page.number + 1) if page.has_next() else None,
        }
        for name, page in pages.items()
    }


def _choose(form: forms.Form, field: str, items: list[tuple[int, str]]) -> forms.Form:
    # The item select, a ModelChoiceField (planning/forms.py); form.fields says only Field.
    cast(forms.ChoiceField, form.fields[field]).choices = [("", "Choose…"), *items]
    return form


def _kind_parts(
    request: HttpRequest, event: Event, page: KindPage, progress: list, pager: dict, posted: dict
) -> tuple[TargetSection, RunCard]:
    """A kind's target section and run card. `posted` holds a form that did not go through,
    by the part it is shown in: it is shown again, with its errors."""
    kind = page.kind
    # (id, name) pairs for the item selects: hundreds of them, and no instance is needed.
    items = list(kind.item_model.objects.order_by("name", "id").values_list("id", "name"))
    targeted = set(_item_ids(kind, progress))
    available = [item for item in items if item[0] not in targeted]
    # Runs are recorded mostly for targeted items: list those first.
    for_runs = [item for item in items if item[0] in targeted] + available
    section = TargetSection(
        page=page,
        rows=target_rows(request, event, page, pager["page"].object_list),
        pager=pager,
        form=_choose(posted.get(kind.name) or target_form(kind)(), kind.item_field, available),
        items_left=bool(available),
        can_add=request.user.has_perm(kind.perm("add")),
        add_url=reverse(f"planning:{kind.name}_target_add", args=[event.pk]),
    )
    card = RunCard(
        page=page,
        form=_choose(posted.get(page.run_fragment) or run_form(kind)(), kind.item_field, for_runs),
        can_add=request.user.has_perm(page.run_perm("add")),
        add_url=reverse(f"planning:{kind.name}_run_add", args=[event.pk]),
    )
    return section, card


def needs_context(needs: services.EventNeeds) -> dict[str, Any]:
    return {"needs": needs, "needs_form": ApplyNeedsForm(needs=needs)}


def dashboard_context(
    request: HttpRequest,
    event: Event,
    posted: dict[str, forms.Form] | None = None,
    *,
    with_needs: bool = False,
    show: tuple[str, int] | None = None,
) -> dict[str, Any]:
    """Everything the dashboard shows, in a constant number of queries; call it inside the
    view's transaction. The needs section is shown closed unless `with_needs`; `show` (kind,
    item id) picks the target page."""
    dashboard = services.get_event_dashboard(
        event.pk, connection=connection, include_needs=with_needs
    )
    runs = services.get_recent_runs(event.pk, connection=connection)
    progress: dict[str, list] = {
        PRODUCTION.name: dashboard.production,
        ASSEMBLY.name: dashboard.assembly,
    }
    pages = _target_pages(request, event, progress, show)
    pagers = _pagers(event, pages)
    parts = {
        name: _kind_parts(request, event, page, progress[name], pagers[name], posted or {})
        for name, page in PAGES.items()
    }
    numbers = {name: page.number for name, page in pages.items()}
    today = timezone.localdate()
    return {
        "nav": "events",
        "event": event,
        "today": today,
        "relative": relative_day(event.event_date, today),
        "page_numbers": numbers,
        "page_query": page_query(numbers),
        "sections": {name: section for name, (section, _) in parts.items()},
        "run_cards": {name: card for name, (_, card) in parts.items()},
        **summary_context(dashboard.overall),
        "needs": None,
        "runs": runs,
        "fulfillment": fulfillment_urls(event),
    } | (needs_context(dashboard.needs) if dashboard.needs is not None else {})


@require_GET
@login_required
@vary_on_headers("HX-Request", "HX-Target")
@live.conditional_page(live.DASHBOARD)
def event_detail(request: HtmxHttpRequest, event_id: int) -> HttpResponse:
    event = get_object_or_404(Event, pk=event_id)
    with transaction.atomic():
        context = dashboard_context(request, event)
    # The counters were read before the dashboard (by the ETag), as the token needs.
    context.update(live.page_context(request, live.DASHBOARD, event_id=event.pk))
    table = request.htmx.target if wants_fragment(request) else None
    if table in KINDS:
        # A target table's Previous/Next asks for that table alone.
        response = page_or_fragment(request, DASHBOARD, table, context)
        return push_url(response, dashboard_url(event, context["page_numbers"]))
    return render(request, DASHBOARD, context)


def dashboard_part(
    request: HttpRequest,
    event: Event,
    fragment: str,
    *,
    posted: dict[str, forms.Form] | None = None,
    oob: tuple[str, ...] = SIDE_PARTS,
    extra: dict | None = None,
    show: tuple[str, int] | None = None,
) -> HttpResponse:
    """The dashboard's `fragment` with the `oob` parts for htmx, else the whole dashboard;
    call it inside the view's transaction."""
    with_needs = "needs" in (fragment, *oob)
    context = dashboard_context(request, event, posted, with_needs=with_needs, show=show)
    context.update(extra or {})
    response = page_or_fragment(request, DASHBOARD, fragment, context, oob=oob)
    if show is not None and wants_fragment(request):
        # A target just added may be on another page of its table: the address says which.
        push_url(response, dashboard_url(event, context["page_numbers"]))
    return response


def _return_url(request: HttpRequest, event: Event, show: tuple[str, int] | None) -> str:
    """Back on the pages the planner was on (the form's action carries them), or on the page
    of a target just added."""
    numbers = page_numbers(request)
    if show is None:
        return dashboard_url(event, numbers)
    name, item_id = show
    kind = KINDS[name]
    rows = services.get_target_progress(kind, event.pk, connection=connection)
    numbers[name] = page_holding(_item_ids(kind, rows), item_id)
    return dashboard_url(event, numbers, f"#{name}-row-{item_id}")


# Only a redirect needs it: the refreshed part finds its pages from what it reads anyway.
_return_url_lazy = lazy(_return_url, str)


def done(
    request: HttpRequest,
    event: Event,
    fragment: str,
    message: str,
    *,
    oob: tuple[str, ...] = SIDE_PARTS,
    show: tuple[str, int] | None = None,
) -> HttpResponse:
    """After a successful change, inside the view's transaction that reads the answer: for
    htmx the refreshed fragment with the message, otherwise the message and a redirect."""

    def refreshed() -> HttpResponse:
        response = dashboard_part(
            request, event, fragment, oob=oob, extra={"flash": message}, show=show
        )
        if fragment in KINDS:
            trigger_client_event(response, TARGETS_CHANGED)
        return response

    return respond(
        request,
        Outcome("success", message),
        fragment=refreshed,
        redirect_to=_return_url_lazy(request, event, show),
    )
