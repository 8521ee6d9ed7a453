"""Planning services: targets, runs and progress.

The service contract (see README, "Transactions"): every public function takes the caller's
database connection as the keyword-only `connection`, runs every query through that
connection's alias, refuses to run outside an atomic block on it and never opens, commits or
rolls back a transaction itself.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from django.core.exceptions import ValidationError
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Count, Exists, F, Func, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from eventplanner.domain import (
    require_atomic,
    validate_id,
    validate_non_negative_int,
    validate_positive_int,
    validate_text,
)
from fulfillment.models import EventRecipientPackage, FulfillmentStatus
from planning.models import (
    AssemblyRun,
    Event,
    EventAssemblyTarget,
    EventProductionTarget,
    FinishedGood,
    ProductionRun,
    Recipe,
)

WHEN_CHOICES = ("upcoming", "past", "all")
INVALID_WHEN = "when must be one of 'upcoming', 'past' or 'all' (got {value!r})."
INVALID_DATE = "{field} must be a date (got {value!r})."
INVALID_RANGE = "The start date ({date_from}) is after the end date ({date_to})."


# ---------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------


def _pct(done: int, target: int) -> float:
    return done / target * 100 if target else 0.0


@dataclass(frozen=True)
class ProductionProgress:
    recipe_id: int
    recipe_name: str
    target_batches: int
    produced_batches: int
    produced_yield: int
    yield_unit: str
    target_id: int
    notes: str
    progress_pct: float = field(init=False)
    is_complete: bool = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "progress_pct", _pct(self.produced_batches, self.target_batches))
        object.__setattr__(self, "is_complete", self.produced_batches >= self.target_batches)


@dataclass(frozen=True)
class AssemblyProgress:
    finished_good_id: int
    finished_good_name: str
    target_quantity: int
    assembled_quantity: int
    target_id: int
    notes: str
    progress_pct: float = field(init=False)
    is_complete: bool = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "progress_pct", _pct(self.assembled_quantity, self.target_quantity)
        )
        object.__setattr__(self, "is_complete", self.assembled_quantity >= self.target_quantity)


@dataclass(frozen=True)
class OverallProgress:
    production_targets_count: int
    production_complete_count: int
    assembly_targets_count: int
    assembly_complete_count: int
    packages_pending: int
    packages_ready: int
    packages_delivered: int
    production_complete: bool = field(init=False)
    assembly_complete: bool = field(init=False)
    packages_total: int = field(init=False)

    def __post_init__(self) -> None:
        # No targets is "nothing planned", never "complete".
        object.__setattr__(
            self,
            "production_complete",
            0 < self.production_targets_count == self.production_complete_count,
        )
        object.__setattr__(
            self,
            "assembly_complete",
            0 < self.assembly_targets_count == self.assembly_complete_count,
        )
        object.__setattr__(
            self,
            "packages_total",
            self.packages_pending + self.packages_ready + self.packages_delivered,
        )

    @property
    def targets_count(self) -> int:
        return self.production_targets_count + self.assembly_targets_count

    @property
    def targets_complete_count(self) -> int:
        return self.production_complete_count + self.assembly_complete_count

    @property
    def targets_pct(self) -> float:
        return _pct(self.targets_complete_count, self.targets_count)


@dataclass(frozen=True)
class EventWithProgress:
    event: Event
    production: list[ProductionProgress]
    assembly: list[AssemblyProgress]
    overall: OverallProgress


# ---------------------------------------------------------------------------------------
# Targets
# ---------------------------------------------------------------------------------------


def _get_event(event_id: int, connection: BaseDatabaseWrapper) -> Event:
    validate_id(event_id, "event_id")
    return Event.objects.using(connection.alias).get(pk=event_id)


def _require_exists(model: Any, pk: int, field: str, connection: BaseDatabaseWrapper) -> None:
    validate_id(pk, field)
    if not model._default_manager.using(connection.alias).filter(pk=pk).exists():
        raise model.DoesNotExist(f"{model._meta.verbose_name.capitalize()} {pk} does not exist.")


def _require_event_and_item(
    event_id: int, item_model: Any, item_id: int, item_field: str, connection: BaseDatabaseWrapper
) -> None:
    """Both ids must exist; the event is checked first. One query for both: on a write that
    is otherwise two or three statements, a round trip saved is a good part of the call."""
    validate_id(event_id, "event_id")
    validate_id(item_id, item_field)
    item_exists = (
        Event.objects.using(connection.alias)
        .filter(pk=event_id)
        .annotate(item_exists=Exists(item_model._default_manager.filter(pk=item_id)))
        .values_list("item_exists", flat=True)
    )
    found = list(item_exists)
    if not found:
        raise Event.DoesNotExist(f"Event {event_id} does not exist.")
    if not found[0]:
        name = item_model._meta.verbose_name.capitalize()
        raise item_model.DoesNotExist(f"{name} {item_id} does not exist.")


def _upsert_target(
    model: Any,
    *,
    item_field: str,
    amount_field: str,
    event_id: int,
    item_id: int,
    amount: int,
    notes: str | None,
    connection: BaseDatabaseWrapper,
) -> Any:
    now = timezone.now()
    row = model(
        event_id=event_id,
        **{f"{item_field}_id": item_id, amount_field: amount},
        notes=notes or "",
        created_at=now,
        updated_at=now,
    )
    update_fields = [amount_field, "updated_at"] + (["notes"] if notes is not None else [])
    # INSERT ... ON CONFLICT DO UPDATE: two concurrent first writes end with one row and no
    # IntegrityError, without the savepoint a get_or_create retry would need.
    model.objects.using(connection.alias).bulk_create(
        [row],
        update_conflicts=True,
        unique_fields=["event", item_field],
        update_fields=update_fields,
    )
    return (
        model.objects.using(connection.alias)
        .select_related("event", item_field)
        .get(event_id=event_id, **{f"{item_field}_id": item_id})
    )


def set_production_target(
    event_id: int,
    recipe_id: int,
    target_batches: int,
    notes: str | None = None,
    *,
    connection: BaseDatabaseWrapper,
) -> EventProductionTarget:
    """Create the event's target for the recipe, or change its amount (upsert).

    `notes=None` keeps the notes a target already has.
    """
    require_atomic(connection, "set_production_target")
    validate_positive_int(target_batches, "target_batches")
    if notes is not None:
        validate_text(notes, "notes")
    _require_event_and_item(event_id, Recipe, recipe_id, "recipe_id", connection)
    return _upsert_target(
        EventProductionTarget,
        item_field="recipe",
        amount_field="target_batches",
        event_id=event_id,
        item_id=recipe_id,
        amount=target_batches,
        notes=notes,
        connection=connection,
    )


def set_assembly_target(
    event_id: int,
    finished_good_id: int,
    target_quantity: int,
    notes: str | None = None,
    *,
    connection: BaseDatabaseWrapper,
) -> EventAssemblyTarget:
    """Create the event's target for the finished good, or change its quantity (upsert)."""
    require_atomic(connection, "set_assembly_target")
    validate_positive_int(target_quantity, "target_quantity")
    if notes is not None:
        validate_text(notes, "notes")
    _require_event_and_item(
        event_id, FinishedGood, finished_good_id, "finished_good_id", connection
    )
    return _upsert_target(
        EventAssemblyTarget,
        item_field="finished_good",
        amount_field="target_quantity",
        event_id=event_id,
        item_id=finished_good_id,
        amount=target_quantity,
        notes=notes,
        connection=connection,
    )


def _list_targets(model: Any, item_field: str, event_id: int, connection) -> list:
    validate_id(event_id, "event_id")
    rows = list(
        model.objects.using(connection.alias)
        .filter(event_id=event_id)
        .select_related(item_field)
        .order_by(f"{item_field}__name", "id")
    )
    if not rows:
        # Only an empty answer needs the second query that tells "no targets" from
        # "no such event".
        _require_exists(Event, event_id, "event_id", connection)
    return rows


def get_production_targets(
    event_id: int, *, connection: BaseDatabaseWrapper
) -> list[EventProductionTarget]:
    require_atomic(connection, "get_production_targets")
    return _list_targets(EventProductionTarget, "recipe", event_id, connection)


def get_assembly_targets(
    event_id: int, *, connection: BaseDatabaseWrapper
) -> list[EventAssemblyTarget]:
    require_atomic(connection, "get_assembly_targets")
    return _list_targets(EventAssemblyTarget, "finished_good", event_id, connection)


def delete_production_target(
    event_id: int, recipe_id: int, *, connection: BaseDatabaseWrapper
) -> bool:
    """Delete the target; False when there was none (deleting twice is not an error)."""
    require_atomic(connection, "delete_production_target")
    validate_id(event_id, "event_id")
    validate_id(recipe_id, "recipe_id")
    deleted, _ = (
        EventProductionTarget.objects.using(connection.alias)
        .filter(event_id=event_id, recipe_id=recipe_id)
        .delete()
    )
    return deleted > 0


def delete_assembly_target(
    event_id: int, finished_good_id: int, *, connection: BaseDatabaseWrapper
) -> bool:
    require_atomic(connection, "delete_assembly_target")
    validate_id(event_id, "event_id")
    validate_id(finished_good_id, "finished_good_id")
    deleted, _ = (
        EventAssemblyTarget.objects.using(connection.alias)
        .filter(event_id=event_id, finished_good_id=finished_good_id)
        .delete()
    )
    return deleted > 0


# ---------------------------------------------------------------------------------------
# Runs
# ---------------------------------------------------------------------------------------


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
    validate_positive_int(num_batches, "num_batches")
    if actual_yield is not None:
        validate_non_negative_int(actual_yield, "actual_yield")
    validate_text(notes, "notes")
    _validate_user(recorded_by, "recorded_by")
    _validate_when(produced_at, "produced_at")
    validate_id(recipe_id, "recipe_id")
    recipe = Recipe.objects.using(connection.alias).get(pk=recipe_id)
    if event_id is not None:
        _require_exists(Event, event_id, "event_id", connection)
    run = ProductionRun(
        recipe=recipe,
        event_id=event_id,
        num_batches=num_batches,
        actual_yield=(
            actual_yield if actual_yield is not None else num_batches * recipe.yield_per_batch
        ),
        notes=notes,
        produced_at=produced_at or timezone.now(),
        recorded_by=recorded_by,
    )
    run.save(using=connection.alias)
    return run


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
    require_atomic(connection, "record_assembly_run")
    validate_positive_int(quantity, "quantity")
    validate_text(notes, "notes")
    _validate_user(recorded_by, "recorded_by")
    _validate_when(assembled_at, "assembled_at")
    _require_exists(FinishedGood, finished_good_id, "finished_good_id", connection)
    if event_id is not None:
        _require_exists(Event, event_id, "event_id", connection)
    run = AssemblyRun(
        finished_good_id=finished_good_id,
        event_id=event_id,
        quantity=quantity,
        notes=notes,
        assembled_at=assembled_at or timezone.now(),
        recorded_by=recorded_by,
    )
    run.save(using=connection.alias)
    return run


# ---------------------------------------------------------------------------------------
# Progress
# ---------------------------------------------------------------------------------------


def _total(queryset: Any, function: str, expression: str) -> Subquery:
    """`(SELECT function(expression) FROM queryset)`: one number over every row the queryset
    selects. A plain SQL function rather than an ORM aggregate, which would add a GROUP BY
    that the database then has to evaluate once per outer row."""
    return Subquery(
        queryset.order_by().annotate(total=Func(F(expression), function=function)).values("total")
    )


def _event_runs_total(run_model: Any, item_field: str, amount: str) -> Coalesce:
    """Sum of one amount over the event's own runs of the target's item (never other events'
    runs, never standalone ones), as a correlated subquery served by the covering runs index
    (event, item, amounts)."""
    runs = run_model.objects.filter(
        event_id=OuterRef("event_id"), **{f"{item_field}_id": OuterRef(f"{item_field}_id")}
    )
    return Coalesce(_total(runs, "SUM", amount), Value(0))


# Building these querysets costs more Python time (about 0.7 ms) than the database needs to
# answer them for a small event. They do not depend on the arguments, so each is built once per
# database alias and every call only adds its filter to a clone; the cached queryset itself is
# never evaluated.


@cache
def _production_progress_rows(alias: str) -> QuerySet:
    return (
        EventProductionTarget.objects.using(alias)
        .annotate(
            produced_batches=_event_runs_total(ProductionRun, "recipe", "num_batches"),
            produced_yield=_event_runs_total(ProductionRun, "recipe", "actual_yield"),
        )
        .order_by("recipe__name", "id")
        .values_list(
            "event_id",
            "recipe_id",
            "recipe__name",
            "target_batches",
            "produced_batches",
            "produced_yield",
            "recipe__yield_unit",
            "id",
            "notes",
        )
    )


@cache
def _assembly_progress_rows(alias: str) -> QuerySet:
    return (
        EventAssemblyTarget.objects.using(alias)
        .annotate(
            assembled_quantity=_event_runs_total(AssemblyRun, "finished_good", "quantity"),
        )
        .order_by("finished_good__name", "id")
        .values_list(
            "event_id",
            "finished_good_id",
            "finished_good__name",
            "target_quantity",
            "assembled_quantity",
            "id",
            "notes",
        )
    )


@cache
def _overall_counts(alias: str) -> QuerySet:
    """One row per event: its target counts, complete target counts and package counts by
    status, each a scalar subquery over the matching index."""

    def count(queryset: Any) -> Subquery:
        return _total(queryset, "COUNT", "pk")

    production = EventProductionTarget.objects.filter(event_id=OuterRef("pk"))
    assembly = EventAssemblyTarget.objects.filter(event_id=OuterRef("pk"))
    assignments = EventRecipientPackage.objects.filter(event_id=OuterRef("pk"))
    produced = _event_runs_total(ProductionRun, "recipe", "num_batches")
    assembled = _event_runs_total(AssemblyRun, "finished_good", "quantity")
    counts = {
        "production_targets_count": count(production),
        "production_complete_count": count(
            production.alias(produced=produced).filter(target_batches__lte=F("produced"))
        ),
        "assembly_targets_count": count(assembly),
        "assembly_complete_count": count(
            assembly.alias(assembled=assembled).filter(target_quantity__lte=F("assembled"))
        ),
        "packages_pending": count(assignments.filter(fulfillment_status=FulfillmentStatus.PENDING)),
        "packages_ready": count(assignments.filter(fulfillment_status=FulfillmentStatus.READY)),
        "packages_delivered": count(
            assignments.filter(fulfillment_status=FulfillmentStatus.DELIVERED)
        ),
    }
    return Event.objects.using(alias).annotate(**counts).values_list(*counts)


def _production_progress(alias: str, **event_filter: Any) -> dict[int, list[ProductionProgress]]:
    result: dict[int, list[ProductionProgress]] = {}
    for event_id, *fields in _production_progress_rows(alias).filter(**event_filter):
        result.setdefault(event_id, []).append(ProductionProgress(*fields))
    return result


def _assembly_progress(alias: str, **event_filter: Any) -> dict[int, list[AssemblyProgress]]:
    result: dict[int, list[AssemblyProgress]] = {}
    for event_id, *fields in _assembly_progress_rows(alias).filter(**event_filter):
        result.setdefault(event_id, []).append(AssemblyProgress(*fields))
    return result


def get_production_progress(
    event_id: int, *, connection: BaseDatabaseWrapper
) -> list[ProductionProgress]:
    """Each production target of the event with what the event's own runs produced."""
    require_atomic(connection, "get_production_progress")
    validate_id(event_id, "event_id")
    rows = _production_progress(connection.alias, event_id=event_id).get(event_id, [])
    if not rows:
        _require_exists(Event, event_id, "event_id", connection)
    return rows


def get_assembly_progress(
    event_id: int, *, connection: BaseDatabaseWrapper
) -> list[AssemblyProgress]:
    require_atomic(connection, "get_assembly_progress")
    validate_id(event_id, "event_id")
    rows = _assembly_progress(connection.alias, event_id=event_id).get(event_id, [])
    if not rows:
        _require_exists(Event, event_id, "event_id", connection)
    return rows


def _with_package_counts(queryset):
    def count(status: str) -> Count:
        return Count("assignments", filter=Q(assignments__fulfillment_status=status))

    return queryset.annotate(
        packages_pending=count(FulfillmentStatus.PENDING),
        packages_ready=count(FulfillmentStatus.READY),
        packages_delivered=count(FulfillmentStatus.DELIVERED),
    )


def _overall(
    event: Any, production: list[ProductionProgress], assembly: list[AssemblyProgress]
) -> OverallProgress:
    return OverallProgress(
        production_targets_count=len(production),
        production_complete_count=sum(p.is_complete for p in production),
        assembly_targets_count=len(assembly),
        assembly_complete_count=sum(a.is_complete for a in assembly),
        packages_pending=event.packages_pending,
        packages_ready=event.packages_ready,
        packages_delivered=event.packages_delivered,
    )


def get_event_overall_progress(
    event_id: int, *, connection: BaseDatabaseWrapper
) -> OverallProgress:
    """Target counts and completeness plus package counts by status, in one query."""
    require_atomic(connection, "get_event_overall_progress")
    validate_id(event_id, "event_id")
    counts = _overall_counts(connection.alias).get(pk=event_id)
    return OverallProgress(*counts)


def _validate_date(value: Any, field: str) -> None:
    # A datetime is a date subclass, but comparing it to a DateField is a silent bug.
    if value is not None and (
        not isinstance(value, datetime.date) or isinstance(value, datetime.datetime)
    ):
        raise ValidationError({field: [INVALID_DATE.format(field=field, value=value)]})


def get_events_with_progress(
    *,
    connection: BaseDatabaseWrapper,
    when: str = "upcoming",
    date_from: datetime.date | None = None,
    date_to: datetime.date | None = None,
    today: datetime.date | None = None,
) -> list[EventWithProgress]:
    """Events (upcoming: on or after today; past: before today; or all), optionally within an
    inclusive date range, ordered by date then name, each with its progress. Three queries
    whatever the number of events."""
    require_atomic(connection, "get_events_with_progress")
    if when not in WHEN_CHOICES:
        raise ValidationError({"when": [INVALID_WHEN.format(value=when)]})
    for name, value in (("date_from", date_from), ("date_to", date_to), ("today", today)):
        _validate_date(value, name)
    if date_from and date_to and date_from > date_to:
        raise ValidationError(
            {"date_to": [INVALID_RANGE.format(date_from=date_from, date_to=date_to)]}
        )
    today = today or timezone.localdate()
    alias = connection.alias
    events = Event.objects.using(alias)
    if when == "upcoming":
        events = events.filter(event_date__gte=today)
    elif when == "past":
        events = events.filter(event_date__lt=today)
    if date_from:
        events = events.filter(event_date__gte=date_from)
    if date_to:
        events = events.filter(event_date__lte=date_to)
    event_list = list(_with_package_counts(events).order_by("event_date", "name", "id"))
    if not event_list:
        return []
    # The targets of exactly these events, selected by the same filter as a subquery (no
    # parameter list that grows with the number of events).
    ids = events.values("pk")
    production = _production_progress(alias, event__in=ids)
    assembly = _assembly_progress(alias, event__in=ids)
    return [
        EventWithProgress(
            event=event,
            production=production.get(event.pk, []),
            assembly=assembly.get(event.pk, []),
            overall=_overall(event, production.get(event.pk, []), assembly.get(event.pk, [])),
        )
        for event in event_list
    ]
