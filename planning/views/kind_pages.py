"""What the dashboard says and does for each kind of target, beyond the `TargetKind` itself:
its words, where its progress rows keep what the runs achieved, and how a run is recorded
(the two run services take different arguments)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest

from planning import services
from planning.kinds import ASSEMBLY, PRODUCTION, TargetKind


@dataclass(frozen=True)
class KindPage:
    kind: TargetKind
    done_field: str  # what the event's runs achieved, on a progress row
    empty_text: str  # an empty target table's hint
    all_targeted: str  # in place of the add form once every item has a target
    catalog_link: tuple[str, str]  # (URL name, words) of the list new items are added in
    run_title: str
    amount_text: Callable[[int], str]  # a target's amount in a message
    run_text: Callable[[int, str], str]  # a run's amount and item in a message
    yield_text: Callable[[Any], str]  # beside what a progress row's runs achieved
    record_run: Callable[..., str]  # the service call that records a run from the run form

    @property
    def name(self) -> str:
        return self.kind.name

    @property
    def run_fragment(self) -> str:
        return f"{self.kind.name}-run-form"

    def run_perm(self, action: str) -> str:
        return f"planning.{action}_{self.kind.run_model._meta.model_name}"


def _batches(n: int) -> str:
    return f"{n} batch{'es' if n != 1 else ''}"


# Each takes the run form's data and what every run is recorded with (event_id, notes,
# recorded_by, connection), and says what it recorded.


def _record_production_run(data: dict, **recorded: Any) -> str:
    recipe = data["recipe"]
    run = services.record_production_run(
        recipe.pk, data["num_batches"], actual_yield=data["actual_yield"], **recorded
    )
    made = f"{run.actual_yield} {recipe.yield_unit}"
    return f"Recorded {_batches(run.num_batches)} of {recipe.name} ({made})."


def _record_assembly_run(data: dict, **recorded: Any) -> str:
    good = data["finished_good"]
    run = services.record_assembly_run(good.pk, data["quantity"], **recorded)
    return f"Recorded {run.quantity} × {good.name}."


PAGES: dict[str, KindPage] = {
    PRODUCTION.name: KindPage(
        kind=PRODUCTION,
        done_field="produced_batches",
        empty_text=(
            "No production targets yet. Add what to bake below, or apply the suggestions "
            "from the packages."
        ),
        all_targeted="Every recipe already has a target here. New recipes are added in the",
        catalog_link=("planning:recipe_list", "recipe list"),
        run_title="Record a production run",
        amount_text=lambda n: f"{n} batches",
        run_text=lambda n, name: f"{_batches(n)} of {name}",
        yield_text=lambda row: f"{row.produced_yield} {row.yield_unit}",
        record_run=_record_production_run,
    ),
    ASSEMBLY.name: KindPage(
        kind=ASSEMBLY,
        done_field="assembled_quantity",
        empty_text="No assembly targets yet. Add what to assemble below.",
        all_targeted="Every finished good already has a target here. New ones are added in the",
        catalog_link=("planning:finished_good_list", "finished goods list"),
        run_title="Record an assembly run",
        amount_text=str,
        run_text=lambda n, name: f"{n} × {name}",
        yield_text=lambda row: "",
        record_run=_record_assembly_run,
    ),
}


def kind_page(
    request: HttpRequest, name: str, action: str | None = None, *, of_runs: bool = False
) -> KindPage:
    """The kind named in the URL; PermissionDenied unless the user may do `action` ("add",
    "change", "delete") to its targets, or with `of_runs` to its runs."""
    page = PAGES.get(name)
    if page is None:
        raise Http404("No such kind of target.")
    if action is not None:
        perm = page.run_perm(action) if of_runs else page.kind.perm(action)
        if not request.user.has_perm(perm):
            raise PermissionDenied
    return page
