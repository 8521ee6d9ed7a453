"""Production and assembly runs: recording them, the latest ones of an event, taking back
one recorded by mistake. Public functions follow the service contract (README,
"Transactions").
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone

from eventplanner.domain import (
    lock_referenced,
    require_atomic,
    validate_id,
    validate_non_negative_int,
    validate_positive_int,
    validate_text,
)
from planning.kinds import ASSEMBLY, PRODUCTION, TargetKind
from planning.models import AssemblyRun, Event, ProductionRun, Recipe


def _validate_user(user: Any, field: str) -> None:
    from django.contrib.auth import get_user_model

    if user is not None and not isinstance(user, get_user_model()):
        raise ValidationError({field: [f"{field} must be a user or None (got {user!r})."]})


def _validate_when(value: Any, field: str) -> None:
    if value is not None and not isinstance(value, datetime.datetime):
        raise ValidationError({field: [f"{field} must be a date and time (got {value!r})."]})


def record_production_run(
    recipe_id: int,
    num_batches: int,
    *,
    event_id: int | None = None,
    actual_yield: int | None = None,
    notes: str = "",
    produced_at: datetime.datetime | None = None,
    recorded_by: Any = None,
    connection: BaseDatabaseWrapper,
) -> ProductionRun:
    """Record batches baked; `actual_yield` defaults to batches x the recipe's yield."""
    require_atomic(connection, "record_production_run")
    details = RunDetails(event_id, notes, produced_at, recorded_by, actual_yield)
    return record_run(PRODUCTION, recipe_id, num_batches, details, connection=connection)


def record_assembly_run(
    finished_good_id: int,
    quantity: int,
    *,
    event_id: int | None = None,
    notes: str = "",
    assembled_at: datetime.datetime | None = None,
    recorded_by: Any = None,
    connection: BaseDatabaseWrapper,
) -> AssemblyRun:
    """Record finished goods assembled."""
    require_atomic(connection, "record_assembly_run")
    details = RunDetails(event_id, notes, assembled_at, recorded_by)
    return record_run(ASSEMBLY, finished_good_id, quantity, details, connection=connection)


@dataclass(frozen=True)
class RunDetails:
    """What a run records besides its item and amount."""

    event_id: int | None = None  # the event it counts toward; None: a run for no event
    notes: str = ""
    recorded_at: datetime.datetime | None = None  # None: now
    recorded_by: Any = None
    actual_yield: int | None = None  # production only; None: batches x yield per batch


def record_run(
    kind: TargetKind,
    item_id: int,
    amount: int,
    details: RunDetails,
    *,
    connection: BaseDatabaseWrapper,
) -> Any:
    """Record a run of this kind: `amount` batches of a recipe, or finished goods assembled.
    The run comes back with its item loaded."""
    require_atomic(connection, "record_run")
    _validate_details(kind, amount, details)
    # Locked as the foreign keys' own check at commit would lock them: a delete racing this
    # run waits, then sees the run (and refuses), instead of failing the run at commit.
    lock_referenced(kind.item_model, item_id, kind.item_id_field, connection=connection)
    item = kind.item_model._default_manager.using(connection.alias).get(pk=item_id)
    if details.event_id is not None:
        lock_referenced(Event, details.event_id, "event_id", connection=connection)
    fields = {
        kind.item_field: item,
        "event_id": details.event_id,
        kind.run_amount_field: amount,
        "notes": details.notes,
        kind.run_time_field: details.recorded_at or timezone.now(),
        "recorded_by": details.recorded_by,
    }
    if kind is PRODUCTION and isinstance(item, Recipe):  # a production item is a recipe
        fields["actual_yield"] = _actual_yield(item, amount, details.actual_yield)
    run = kind.run_model(**fields)
    run.save(using=connection.alias)
    return run


def _validate_details(kind: TargetKind, amount: int, details: RunDetails) -> None:
    validate_positive_int(amount, kind.run_amount_field)
    if details.actual_yield is not None:
        if kind is not PRODUCTION:
            raise ValidationError({"actual_yield": ["Only a production run has a yield."]})
        validate_non_negative_int(details.actual_yield, "actual_yield")
    validate_text(details.notes, "notes")
    _validate_user(details.recorded_by, "recorded_by")
    _validate_when(details.recorded_at, kind.run_time_field)


def _actual_yield(recipe: Recipe, batches: int, given: int | None) -> int:
    if given is not None:
        return given
    # Batches x yield per batch can exceed what the column holds for a large recipe.
    return validate_non_negative_int(batches * recipe.yield_per_batch, "actual_yield")


@dataclass(frozen=True)
class RunEntry:
    kind: str  # "production" or "assembly"
    run_id: int
    item_name: str
    amount: int
    unit: str
    recorded_at: datetime.datetime
    recorded_by: str
    notes: str
    # A production run's actual yield and its unit ("1 batch, 0 cookies"): a batch that
    # yielded nothing still counts as a batch toward the target, so the list says so.
    items: int | None = None
    items_unit: str = ""


@dataclass(frozen=True)
class RecentRuns:
    entries: list[RunEntry]
    production_count: int
    assembly_count: int


def get_recent_runs(
    event_id: int, *, limit: int = 10, connection: BaseDatabaseWrapper
) -> RecentRuns:
    """The event's latest production and assembly runs, newest first, with how many there
    are in all; four queries whatever the number of runs."""
    require_atomic(connection, "get_recent_runs")
    validate_id(event_id, "event_id")
    validate_positive_int(limit, "limit")
    alias = connection.alias
    entries = [
        *_latest_runs(PRODUCTION, event_id, limit, alias),
        *_latest_runs(ASSEMBLY, event_id, limit, alias),
    ]
    entries.sort(key=lambda e: (e.recorded_at, e.run_id), reverse=True)
    return RecentRuns(
        entries=entries[:limit],
        production_count=ProductionRun.objects.using(alias).filter(event_id=event_id).count(),
        assembly_count=AssemblyRun.objects.using(alias).filter(event_id=event_id).count(),
    )


def _latest_runs(kind: TargetKind, event_id: int, limit: int, alias: str) -> list[RunEntry]:
    """The event's `limit` latest runs of this kind, newest first: one query. A production
    run comes with what it yielded."""
    made = ("actual_yield", f"{kind.item_field}__yield_unit") if kind is PRODUCTION else ()
    rows = (
        kind.run_model._default_manager.using(alias)
        .filter(event_id=event_id)
        .order_by(f"-{kind.run_time_field}", "-id")
        .values_list(
            "id",
            f"{kind.item_field}__name",
            kind.run_amount_field,
            kind.run_time_field,
            "recorded_by__username",
            "notes",
            *made,
        )[:limit]
    )
    return [
        RunEntry(
            kind.name, pk, name, amount, _run_unit(kind, amount), when, user or "", notes, *items
        )
        for pk, name, amount, when, user, notes, *items in rows
    ]


def _run_unit(kind: TargetKind, amount: int) -> str:
    return "batch" if kind is PRODUCTION and amount == 1 else kind.unit


def delete_run(
    kind: TargetKind, run_id: int, *, event_id: int, connection: BaseDatabaseWrapper
) -> Any:
    """Take back a run of this kind recorded by mistake (it must belong to `event_id`);
    returns it with its item, for the confirmation."""
    require_atomic(connection, "delete_run")
    validate_id(run_id, "run_id")
    validate_id(event_id, "event_id")
    run = (
        kind.run_model._default_manager.using(connection.alias)
        .select_related(kind.item_field)
        .get(pk=run_id, event_id=event_id)
    )
    kind.run_model._default_manager.using(connection.alias).filter(pk=run.pk).delete()
    return run


def delete_production_run(
    run_id: int, *, event_id: int, connection: BaseDatabaseWrapper
) -> ProductionRun:
    """Take back a production run recorded by mistake (it must belong to `event_id`)."""
    require_atomic(connection, "delete_production_run")
    return delete_run(PRODUCTION, run_id, event_id=event_id, connection=connection)


def delete_assembly_run(
    run_id: int, *, event_id: int, connection: BaseDatabaseWrapper
) -> AssemblyRun:
    """Take back an assembly run recorded by mistake (it must belong to `event_id`)."""
    require_atomic(connection, "delete_assembly_run")
    return delete_run(ASSEMBLY, run_id, event_id=event_id, connection=connection)
