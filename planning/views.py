"""Planner pages: events list, event dashboard (targets, runs, needs) and event editing.

Each view parses input, does its work inside transaction.atomic() through the services
(passing `connection`) and renders; domain errors are caught outside the atomic block so a
refused change is rolled back before the message is shown.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import IntegrityError, connection, transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import floatformat
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import push_url, trigger_client_event

from eventplanner.htmx import apply_form_errors, page_or_fragment, wants_fragment
from planning import services
from planning.forms import (
    ApplyNeedsForm,
    AssemblyRunForm,
    AssemblyTargetEditForm,
    AssemblyTargetForm,
    EventFilterForm,
    EventForm,
    ProductionRunForm,
    ProductionTargetEditForm,
    ProductionTargetForm,
)
from planning.models import (
    Event,
    EventAssemblyTarget,
    EventProductionTarget,
    FinishedGood,
    Recipe,
)

DASHBOARD = "planning/event_detail.html"
# After a change on the dashboard, these parts are refreshed out of band.
SIDE_PARTS = ("summary",)
# Sent after a target changes: a needs section on the page (it shows the current targets)
# reloads itself on it; the needs are not worked out for a page that does not show them.
TARGETS_CHANGED = "targets-changed"


def fulfillment_url(event_id: int, status: str | None = None) -> str:
    url = reverse("fulfillment:event_fulfillment", args=[event_id])
    return f"{url}?status={status}" if status else url


SAVED_MEANWHILE = (
    "Someone saved the same thing at the same moment, so this was not saved. "
    "Check the current data and try again."
)


# ---------------------------------------------------------------------------------------
# Events list
# ---------------------------------------------------------------------------------------


def relative_day(date: datetime.date, today: datetime.date) -> str:
    days = (date - today).days
    if days == 0:
        return "today"
    if days == 1:
        return "tomorrow"
    if days == -1:
        return "yesterday"
    return f"in {days} days" if days > 0 else f"{-days} days ago"


@require_GET
@login_required
def event_list(request: HttpRequest) -> HttpResponse:
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
    context = {
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
    return page_or_fragment(request, "planning/event_list.html", "event-list", context)


# ---------------------------------------------------------------------------------------
# Event create / edit / delete / clone
# ---------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@login_required
@permission_required("planning.add_event", raise_exception=True)
def event_create(request: HttpRequest) -> HttpResponse:
    form = EventForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                event = services.create_event(
                    form.cleaned_data["name"],
                    form.cleaned_data["event_date"],
                    form.cleaned_data["notes"],
                    connection=connection,
                )
        except ValidationError as error:
            apply_form_errors(form, error)
        except IntegrityError:
            form.add_error(None, SAVED_MEANWHILE)
        else:
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
        try:
            with transaction.atomic():
                event = services.update_event(
                    event.pk,
                    name=form.cleaned_data["name"],
                    event_date=form.cleaned_data["event_date"],
                    notes=form.cleaned_data["notes"],
                    connection=connection,
                )
        except ValidationError as error:
            apply_form_errors(form, error)
        except IntegrityError:
            form.add_error(None, SAVED_MEANWHILE)
        else:
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
        try:
            with transaction.atomic():
                clone = services.clone_event(
                    source.pk,
                    name=form.cleaned_data["name"],
                    event_date=form.cleaned_data["event_date"],
                    notes=form.cleaned_data["notes"],
                    connection=connection,
                )
        except ValidationError as error:
            apply_form_errors(form, error)
        except IntegrityError:
            form.add_error(None, SAVED_MEANWHILE)
        else:
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
    event = get_object_or_404(Event, pk=event_id)
    error = None
    if request.method == "POST":
        try:
            with transaction.atomic():
                services.delete_event(event.pk, connection=connection)
        except ValidationError as refused:
            error = " ".join(refused.messages)
        else:
            messages.success(request, f"Deleted {event.name}.")
            return redirect("planning:event_list")
    with transaction.atomic():
        check = services.check_event_deletion(event.pk, connection=connection)
    context = {"event": event, "check": check, "error": error, "nav": "events"}
    return render(request, "planning/event_confirm_delete.html", context)


# ---------------------------------------------------------------------------------------
# Dashboard
# ---------------------------------------------------------------------------------------


@dataclass
class DashboardForms:
    production_target: ProductionTargetForm | None = None
    assembly_target: AssemblyTargetForm | None = None
    production_run: ProductionRunForm | None = None
    assembly_run: AssemblyRunForm | None = None


# A large event has hundreds of targets; the dashboard shows them a page at a time, so that
# every view of it (and every change, which re-renders a section) stays quick.
TARGETS_PER_PAGE = 25


@dataclass(frozen=True, slots=True)
class TargetRow:
    """A target row as the dashboard shows it. Its display values are worked out here once,
    instead of by template filters, conditions and tags for every row."""

    kind: str  # "production" | "assembly"
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

    @property
    def spec(self) -> dict[str, Any]:
        return TARGET_KINDS[self.kind]


def _badge(pct: float, complete: bool) -> tuple[str, str]:
    if pct > 100:
        return "exceeded", "Exceeded"
    if complete:
        return "complete", "✓ Complete"
    if pct == 0:
        return "", "Not started"
    return "in-progress", "In progress"


def _target_rows(request: HttpRequest, event: Event, kind: str, rows: list) -> list[TargetRow]:
    spec = TARGET_KINDS[kind]
    can_edit = request.user.has_perm(spec["perm"])
    can_delete = request.user.has_perm(spec["delete_perm"])
    result = []
    for row in rows:
        if kind == "production":
            item_id, name = row.recipe_id, row.recipe_name
            target, done = row.target_batches, row.produced_batches
            yield_text = f"{row.produced_yield} {row.yield_unit}"
        else:
            item_id, name = row.finished_good_id, row.finished_good_name
            target, done, yield_text = row.target_quantity, row.assembled_quantity, ""
        pct = row.progress_pct
        badge_class, badge_text = _badge(pct, row.is_complete)
        result.append(
            TargetRow(
                kind=kind,
                item_id=item_id,
                name=name,
                target=target,
                done=done,
                yield_text=yield_text,
                notes=row.notes,
                url=reverse("planning:target_row", args=[event.pk, kind, item_id]),
                pct_text=floatformat(pct, 0),
                exceeded=pct > 100,
                badge_class=badge_class,
                badge_text=badge_text,
                can_edit=can_edit,
                can_delete=can_delete,
            )
        )
    return result


def _page_numbers(request: HttpRequest) -> dict[str, int]:
    """The page of each target table the planner is on: sent along (hx-include of the pagers'
    hidden fields) by a form or link whose answer re-renders a table, else in the query
    string (the page's URL, or a form's action without JavaScript). Anything but a whole
    number of 1 or more is page 1; a number past the end is the last page."""
    numbers = {}
    for kind in TARGET_KINDS:
        name = f"{kind}_page"
        value = request.POST.get(name) or request.GET.get(name) or ""
        if not (value.isascii() and value.isdigit()):
            numbers[kind] = 1
        elif len(value) > 9:  # past any last page (and int() refuses thousands of digits)
            numbers[kind] = 10**9
        else:
            numbers[kind] = max(int(value), 1)
    return numbers


def _page_holding(ids: list[int], item_id: int) -> int:
    return ids.index(item_id) // TARGETS_PER_PAGE + 1 if item_id in ids else 1


def _page_query(numbers: dict[str, int]) -> str:
    """ "?production_page=2&..." for the target tables not on page 1, or ""."""
    query = urlencode(sorted((f"{k}_page", n) for k, n in numbers.items() if n > 1))
    return f"?{query}" if query else ""


def _dashboard_url(event: Event, numbers: dict[str, int], anchor: str = "") -> str:
    """The dashboard's URL with the pages of its target tables."""
    base = reverse("planning:event_detail", args=[event.pk])
    return f"{base}{_page_query(numbers)}{anchor}"


def _target_pages(
    request: HttpRequest,
    event: Event,
    rows: dict[str, list],
    show: tuple[str, int] | None,
) -> dict[str, Any]:
    """Each target table's page, its rows and the links to its neighbours. `show` (kind,
    item id) picks the page with that item, e.g. a target just added."""
    numbers = _page_numbers(request)
    if show is not None:
        kind, item_id = show
        key = TARGET_KINDS[kind]["item"] + "_id"
        numbers[kind] = _page_holding([getattr(row, key) for row in rows[kind]], item_id)
    pages = {
        kind: Paginator(rows[kind], TARGETS_PER_PAGE).get_page(numbers[kind])
        for kind in TARGET_KINDS
    }
    current = {kind: page.number for kind, page in pages.items()}
    base = reverse("planning:event_detail", args=[event.pk])

    def links(kind: str, number: int) -> dict[str, str]:
        # Without JavaScript the whole page is shown again: the link names both tables'
        # pages. With htmx only this table is swapped and the other one may have moved since
        # this link was drawn: the request names this table's page, adds the other's from its
        # pager (hx-include), and the answer sets the address bar (HX-Push-Url).
        return {
            "href": _dashboard_url(event, current | {kind: number}, f"#{kind}"),
            "hx": f"{base}?{kind}_page={number}",
        }

    other = dict(zip(TARGET_KINDS, reversed(TARGET_KINDS), strict=True))
    context: dict[str, Any] = {
        "page_numbers": current,
        "page_query": _page_query(current),
    }
    for kind, page in pages.items():
        context[kind] = _target_rows(request, event, kind, page.object_list)
        context[f"{kind}_pager"] = {
            "kind": kind,
            "other": other[kind],
            "page": page,
            "previous": links(kind, page.number - 1) if page.has_previous() else None,
            "next": links(kind, page.number + 1) if page.has_next() else None,
        }
    return context


def _fulfillment_urls(event: Event) -> dict[str, str]:
    return {
        status: fulfillment_url(event.pk, status) for status in ("pending", "ready", "delivered")
    } | {"all": fulfillment_url(event.pk)}


def _needs_context(needs: services.EventNeeds) -> dict[str, Any]:
    return {"needs": needs, "needs_form": ApplyNeedsForm(needs=needs)}


def _dashboard_context(
    request: HttpRequest,
    event: Event,
    forms: DashboardForms | None = None,
    *,
    with_needs: bool = False,
    show: tuple[str, int] | None = None,
) -> dict[str, Any]:
    """Everything the dashboard shows, in a constant number of queries. The needs section
    is shown closed unless `with_needs`; `show` (kind, item id) picks the target page."""
    forms = forms or DashboardForms()
    dashboard = services.get_event_dashboard(
        event.pk, connection=connection, include_needs=with_needs
    )
    production, assembly = dashboard.production, dashboard.assembly
    overall = dashboard.overall
    runs = services.get_recent_runs(event.pk, connection=connection)
    # (id, name) pairs for the item selects: hundreds of them, and no instance is needed.
    recipes = list(Recipe.objects.order_by("name", "id").values_list("id", "name"))
    goods = list(FinishedGood.objects.order_by("name", "id").values_list("id", "name"))
    targeted_recipes = {row.recipe_id for row in production}
    targeted_goods = {row.finished_good_id for row in assembly}
    available_recipes = [r for r in recipes if r[0] not in targeted_recipes]
    available_goods = [g for g in goods if g[0] not in targeted_goods]
    # Runs are recorded mostly for targeted items: list those first.
    run_recipes = [r for r in recipes if r[0] in targeted_recipes] + available_recipes
    run_goods = [g for g in goods if g[0] in targeted_goods] + available_goods

    def choose(form, items, field):
        form.fields[field].choices = [("", "Choose…"), *items]
        return form

    return {
        "nav": "events",
        "event": event,
        "today": timezone.localdate(),
        "relative": relative_day(event.event_date, timezone.localdate()),
        **_target_pages(request, event, {"production": production, "assembly": assembly}, show),
        "overall": overall,
        "needs": None,
        "runs": runs,
        "recipes_left": bool(available_recipes),
        "goods_left": bool(available_goods),
        "fulfillment": _fulfillment_urls(event),
        "production_target_form": choose(
            forms.production_target or ProductionTargetForm(), available_recipes, "recipe"
        ),
        "assembly_target_form": choose(
            forms.assembly_target or AssemblyTargetForm(), available_goods, "finished_good"
        ),
        "production_run_form": choose(
            forms.production_run or ProductionRunForm(), run_recipes, "recipe"
        ),
        "assembly_run_form": choose(
            forms.assembly_run or AssemblyRunForm(), run_goods, "finished_good"
        ),
    } | (_needs_context(dashboard.needs) if with_needs else {})


@require_GET
@login_required
def event_detail(request: HttpRequest, event_id: int) -> HttpResponse:
    event = get_object_or_404(Event, pk=event_id)
    with transaction.atomic():
        context = _dashboard_context(request, event)
    # A target table's Previous/Next asks for that table alone.
    htmx = getattr(request, "htmx", None)
    if wants_fragment(request) and htmx.target in TARGET_KINDS:
        response = page_or_fragment(request, DASHBOARD, htmx.target, context)
        push_url(response, _dashboard_url(event, context["page_numbers"]))
    else:
        response = render(request, DASHBOARD, context)
    patch_vary_headers(response, ["HX-Request", "HX-Target"])
    return response


def _dashboard_response(
    request: HttpRequest,
    event: Event,
    fragment: str,
    *,
    forms: DashboardForms | None = None,
    oob: tuple[str, ...] = SIDE_PARTS,
    extra: dict | None = None,
    show: tuple[str, int] | None = None,
) -> HttpResponse:
    with transaction.atomic():
        context = _dashboard_context(
            request, event, forms, with_needs="needs" in (fragment, *oob), show=show
        )
    context.update(extra or {})
    response = page_or_fragment(request, DASHBOARD, fragment, context, oob=oob)
    if show is not None and wants_fragment(request):
        # A target just added may be on another page of its table: the address says which.
        push_url(response, _dashboard_url(event, context["page_numbers"]))
    return response


def _done(request: HttpRequest, event: Event, fragment: str, message: str, **kwargs):
    """After a successful change: the refreshed fragment for htmx, a redirect otherwise."""
    if wants_fragment(request):
        response = _dashboard_response(request, event, fragment, extra={"flash": message}, **kwargs)
        if fragment in TARGET_KINDS:
            trigger_client_event(response, TARGETS_CHANGED)
        return response
    messages.success(request, message)
    # Back on the pages the planner was on (the form's action carries them), or on the page
    # of a target just added.
    numbers = _page_numbers(request)
    anchor = ""
    show = kwargs.get("show")
    if show is not None:
        kind, item_id = show
        with transaction.atomic():
            number = _page_of(event, kind, item_id)
        numbers[kind] = number
        anchor = f"#{kind}-row-{item_id}"
    return redirect(_dashboard_url(event, numbers, anchor))


def _progress_rows(event: Event, kind: str) -> list:
    return TARGET_KINDS[kind]["progress"](event.pk, connection=connection)


def _page_of(event: Event, kind: str, item_id: int) -> int:
    key = TARGET_KINDS[kind]["item"] + "_id"
    return _page_holding([getattr(row, key) for row in _progress_rows(event, kind)], item_id)


# Targets ---------------------------------------------------------------------------------


@require_POST
@login_required
@permission_required("planning.add_eventproductiontarget", raise_exception=True)
def production_target_add(request: HttpRequest, event_id: int) -> HttpResponse:
    event = get_object_or_404(Event, pk=event_id)
    form = ProductionTargetForm(request.POST)
    if form.is_valid():
        recipe = form.cleaned_data["recipe"]
        try:
            with transaction.atomic():
                existed = EventProductionTarget.objects.filter(event=event, recipe=recipe).exists()
                target = services.set_production_target(
                    event.pk,
                    recipe.pk,
                    form.cleaned_data["target_batches"],
                    form.cleaned_data["notes"],
                    connection=connection,
                )
        except ValidationError as error:
            apply_form_errors(form, error)
        else:
            if existed:
                message = (
                    f"{recipe.name} already had a target, so it was updated to "
                    f"{target.target_batches} batches."
                )
            else:
                message = f"Added {recipe.name}: {target.target_batches} batches."
            return _done(request, event, "production", message, show=("production", recipe.pk))
    return _dashboard_response(
        request, event, "production", forms=DashboardForms(production_target=form), oob=()
    )


@require_POST
@login_required
@permission_required("planning.add_eventassemblytarget", raise_exception=True)
def assembly_target_add(request: HttpRequest, event_id: int) -> HttpResponse:
    event = get_object_or_404(Event, pk=event_id)
    form = AssemblyTargetForm(request.POST)
    if form.is_valid():
        good = form.cleaned_data["finished_good"]
        try:
            with transaction.atomic():
                existed = EventAssemblyTarget.objects.filter(
                    event=event, finished_good=good
                ).exists()
                target = services.set_assembly_target(
                    event.pk,
                    good.pk,
                    form.cleaned_data["target_quantity"],
                    form.cleaned_data["notes"],
                    connection=connection,
                )
        except ValidationError as error:
            apply_form_errors(form, error)
        else:
            if existed:
                message = (
                    f"{good.name} already had a target, so it was updated to "
                    f"{target.target_quantity}."
                )
            else:
                message = f"Added {good.name}: {target.target_quantity}."
            return _done(request, event, "assembly", message, show=("assembly", good.pk))
    return _dashboard_response(
        request, event, "assembly", forms=DashboardForms(assembly_target=form), oob=()
    )


def _target_row(request: HttpRequest, event: Event, kind: str, item_id: int) -> TargetRow | None:
    key = TARGET_KINDS[kind]["item"] + "_id"
    found = [row for row in _progress_rows(event, kind) if getattr(row, key) == item_id]
    return _target_rows(request, event, kind, found)[0] if found else None


TARGET_KINDS = {
    "production": {
        "model": EventProductionTarget,
        "item": "recipe",
        "amount": "target_batches",
        "form": ProductionTargetEditForm,
        "set": services.set_production_target,
        "delete": services.delete_production_target,
        "progress": services.get_production_progress,
        "perm": "planning.change_eventproductiontarget",
        "delete_perm": "planning.delete_eventproductiontarget",
        "label": "Recipe",
        "done_label": "Produced",
        "unit": "batches",
    },
    "assembly": {
        "model": EventAssemblyTarget,
        "item": "finished_good",
        "amount": "target_quantity",
        "form": AssemblyTargetEditForm,
        "set": services.set_assembly_target,
        "delete": services.delete_assembly_target,
        "progress": services.get_assembly_progress,
        "perm": "planning.change_eventassemblytarget",
        "delete_perm": "planning.delete_eventassemblytarget",
        "label": "Finished good",
        "done_label": "Assembled",
        "unit": "assembled",
    },
}


def _target_spec(request: HttpRequest, kind: str, perm_key: str) -> dict:
    spec = TARGET_KINDS.get(kind)
    if spec is None:
        raise Http404("No such kind of target.")
    if not request.user.has_perm(spec[perm_key]):
        raise PermissionDenied
    return spec


def _row_response(
    request: HttpRequest,
    event: Event,
    kind: str,
    item_id: int,
    *,
    edit: bool = False,
    form=None,
    flash: str | None = None,
    oob: tuple[str, ...] = (),
) -> HttpResponse:
    """One target row (display or inline form) for htmx, or the standalone edit page."""
    with transaction.atomic():
        row = _target_row(request, event, kind, item_id)
        context = {"event": event}
        if "summary" in oob:
            context["overall"] = services.get_event_overall_progress(
                event.pk, connection=connection
            )
            context["fulfillment"] = _fulfillment_urls(event)
    if row is None:
        raise Http404("No such target.")
    if form is not None:
        # Keyboard users land in the amount field when the row turns into a form.
        amount_field = TARGET_KINDS[kind]["amount"]
        form.fields[amount_field].widget.attrs["autofocus"] = True
    context.update(
        {
            "row": row,
            "form": form,
            "flash": flash,
            "kind": kind,
            "item_id": item_id,
            # Back on the row's Edit link after saving or cancelling.
            "refocus": not edit,
        }
    )
    if not wants_fragment(request):
        context["nav"] = "events"
        context["back_url"] = _dashboard_url(event, _page_numbers(request), f"#{kind}")
        context["page_query"] = _page_query(_page_numbers(request))
        return render(request, "planning/target_edit.html", context)
    name = "target-row-edit" if edit else "target-row"
    html = render_to_string(f"{DASHBOARD}#{name}", context, request)
    # A response that starts with a <tr> is parsed in table context, where other elements
    # would be moved out of place: out-of-band parts travel inside <template>, which htmx
    # unwraps.
    extra = [
        render_to_string(f"{DASHBOARD}#{part}", {**context, "oob": True}, request) for part in oob
    ]
    if flash:
        extra.append(render_to_string("includes/messages_oob.html", context, request))
    html += "".join(f"<template>{part}</template>" for part in extra)
    response = HttpResponse(html)
    patch_vary_headers(response, ["HX-Request"])
    return response


@require_http_methods(["GET", "POST"])
@login_required
def target_edit(request: HttpRequest, event_id: int, kind: str, item_id: int) -> HttpResponse:
    """GET: the row as an inline form. POST: save its amount and notes."""
    spec = _target_spec(request, kind, "perm")
    event = get_object_or_404(Event, pk=event_id)
    target = get_object_or_404(spec["model"], event=event, **{f"{spec['item']}_id": item_id})
    if request.method == "GET":
        amount = getattr(target, spec["amount"])
        form = spec["form"](
            initial={spec["amount"]: amount, "notes": target.notes},
            auto_id=f"edit-{kind}-{item_id}_%s",
        )
        return _row_response(request, event, kind, item_id, edit=True, form=form)
    form = spec["form"](request.POST, auto_id=f"edit-{kind}-{item_id}_%s")
    if form.is_valid():
        try:
            with transaction.atomic():
                spec["set"](
                    event.pk,
                    item_id,
                    form.cleaned_data[spec["amount"]],
                    form.cleaned_data["notes"],
                    connection=connection,
                )
        except ValidationError as error:
            apply_form_errors(form, error)
        else:
            if not wants_fragment(request):
                messages.success(request, "Target saved.")
                return redirect(_dashboard_url(event, _page_numbers(request), f"#{kind}"))
            response = _row_response(
                request, event, kind, item_id, flash="Target saved.", oob=SIDE_PARTS
            )
            return trigger_client_event(response, TARGETS_CHANGED)
    return _row_response(request, event, kind, item_id, edit=True, form=form)


@require_GET
@login_required
def target_row(request: HttpRequest, event_id: int, kind: str, item_id: int) -> HttpResponse:
    """The row in display mode (the inline form's Cancel)."""
    if kind not in TARGET_KINDS:
        raise Http404("No such kind of target.")
    event = get_object_or_404(Event, pk=event_id)
    if not wants_fragment(request):
        return redirect(_dashboard_url(event, _page_numbers(request), f"#{kind}"))
    return _row_response(request, event, kind, item_id)


@require_http_methods(["GET", "POST"])
@login_required
def target_delete(request: HttpRequest, event_id: int, kind: str, item_id: int) -> HttpResponse:
    """GET: a confirmation page (the no-JavaScript path). POST: delete."""
    spec = _target_spec(request, kind, "delete_perm")
    event = get_object_or_404(Event, pk=event_id)
    target = get_object_or_404(
        spec["model"].objects.select_related(spec["item"]),
        event=event,
        **{f"{spec['item']}_id": item_id},
    )
    item = getattr(target, spec["item"])
    if request.method == "GET":
        return render(
            request,
            "planning/target_confirm_delete.html",
            {
                "event": event,
                "target": target,
                "item": item,
                "kind": kind,
                "nav": "events",
                "back_url": _dashboard_url(event, _page_numbers(request), f"#{kind}"),
            },
        )
    with transaction.atomic():
        spec["delete"](event.pk, item_id, connection=connection)
    return _done(request, event, kind, f"Removed the target for {item.name}.")


# Runs ------------------------------------------------------------------------------------


@require_POST
@login_required
@permission_required("planning.add_productionrun", raise_exception=True)
def production_run_add(request: HttpRequest, event_id: int) -> HttpResponse:
    event = get_object_or_404(Event, pk=event_id)
    form = ProductionRunForm(request.POST)
    if form.is_valid():
        recipe = form.cleaned_data["recipe"]
        try:
            with transaction.atomic():
                run = services.record_production_run(
                    recipe.pk,
                    form.cleaned_data["num_batches"],
                    event_id=event.pk,
                    actual_yield=form.cleaned_data["actual_yield"],
                    notes=form.cleaned_data["notes"],
                    recorded_by=request.user,
                    connection=connection,
                )
        except ValidationError as error:
            apply_form_errors(form, error)
        else:
            message = (
                f"Recorded {run.num_batches} batch{'es' if run.num_batches != 1 else ''} of "
                f"{recipe.name} ({run.actual_yield} {recipe.yield_unit})."
            )
            return _done(
                request,
                event,
                "production-run-form",
                message,
                oob=("production", "summary", "runs"),
            )
    return _dashboard_response(
        request, event, "production-run-form", forms=DashboardForms(production_run=form), oob=()
    )


@require_POST
@login_required
@permission_required("planning.add_assemblyrun", raise_exception=True)
def assembly_run_add(request: HttpRequest, event_id: int) -> HttpResponse:
    event = get_object_or_404(Event, pk=event_id)
    form = AssemblyRunForm(request.POST)
    if form.is_valid():
        good = form.cleaned_data["finished_good"]
        try:
            with transaction.atomic():
                run = services.record_assembly_run(
                    good.pk,
                    form.cleaned_data["quantity"],
                    event_id=event.pk,
                    notes=form.cleaned_data["notes"],
                    recorded_by=request.user,
                    connection=connection,
                )
        except ValidationError as error:
            apply_form_errors(form, error)
        else:
            message = f"Recorded {run.quantity} × {good.name}."
            return _done(
                request, event, "assembly-run-form", message, oob=("assembly", "summary", "runs")
            )
    return _dashboard_response(
        request, event, "assembly-run-form", forms=DashboardForms(assembly_run=form), oob=()
    )


RUN_KINDS = {
    "production": (services.delete_production_run, "planning.delete_productionrun"),
    "assembly": (services.delete_assembly_run, "planning.delete_assemblyrun"),
}


@require_POST
@login_required
def run_delete(request: HttpRequest, event_id: int, kind: str, run_id: int) -> HttpResponse:
    """Take back a run recorded by mistake; the progress follows at once."""
    delete, perm = RUN_KINDS[kind]
    if not request.user.has_perm(perm):
        raise PermissionDenied
    event = get_object_or_404(Event, pk=event_id)
    try:
        with transaction.atomic():
            run = delete(run_id, event_id=event.pk, connection=connection)
    except ObjectDoesNotExist as missing:
        raise Http404("No such run for this event.") from missing
    if kind == "production":
        what = f"{run.num_batches} batch{'es' if run.num_batches != 1 else ''} of {run.recipe.name}"
    else:
        what = f"{run.quantity} × {run.finished_good.name}"
    return _done(request, event, "runs", f"Took back the run of {what}.", oob=(kind, "summary"))


# Needs -----------------------------------------------------------------------------------


@require_GET
@login_required
def event_needs(request: HttpRequest, event_id: int) -> HttpResponse:
    """The dashboard's needs section, worked out when asked for; without JavaScript, a page
    of its own."""
    event = get_object_or_404(Event, pk=event_id)
    with transaction.atomic():
        needs = services.get_event_needs(event.pk, connection=connection)
    context = {"nav": "events", "event": event} | _needs_context(needs)
    if wants_fragment(request):
        response = render(request, f"{DASHBOARD}#needs", context)
    else:
        response = render(request, "planning/event_needs.html", context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@require_POST
@login_required
@permission_required(
    [
        "planning.add_eventproductiontarget",
        "planning.change_eventproductiontarget",
        "planning.add_eventassemblytarget",
        "planning.change_eventassemblytarget",
    ],
    raise_exception=True,
)
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
        except ValidationError as error:
            apply_form_errors(form, error)
        else:
            message = (
                f"Applied the suggestions: {applied.created} target"
                f"{'s' if applied.created != 1 else ''} created, {applied.raised} raised."
            )
            return _done(
                request, event, "needs", message, oob=("production", "assembly", "summary")
            )
    # Re-show the planner's own ticks, not the defaults.
    extra = {
        "needs_form": form,
        "needs_selected_recipes": _posted_ids(request, "recipe_ids"),
        "needs_selected_goods": _posted_ids(request, "finished_good_ids"),
    }
    return _dashboard_response(request, event, "needs", oob=(), extra=extra)


def _posted_ids(request: HttpRequest, name: str) -> set[int]:
    return {int(v) for v in request.POST.getlist(name) if v.isdigit()}
