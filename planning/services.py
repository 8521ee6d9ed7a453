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
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import (
    BigIntegerField,
    Count,
    Exists,
    F,
    Func,
    IntegerField,
    OuterRef,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone

from eventplanner.domain import (
    DomainError,
    instance_from_row,
    require_atomic,
    validate_id,
    validate_non_negative_int,
    validate_positive_int,
    validate_text,
)
from fulfillment.models import EventRecipientPackage, FulfillmentStatus, assignments_with_status
from planning.kinds import ASSEMBLY, PRODUCTION, TargetKind
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

    @property
    def average_pct(self) -> float:
        return _average_progress(self.production, self.assembly)


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


def _item_of_event(
    kind: TargetKind, event_id: int, item_id: int, connection: BaseDatabaseWrapper
) -> Any:
    """The item, loaded, once the event and the item are known to exist; the event is
    checked first. One query for both on the normal path: on a write of two statements, a
    round trip saved is a good part of the call."""
    validate_id(event_id, "event_id")
    validate_id(item_id, kind.item_id_field)
    found = list(
        kind.item_model._default_manager.using(connection.alias)
        .filter(pk=item_id)
        .annotate(event_exists=Exists(Event.objects.filter(pk=event_id)))
    )
    if not found:
        _require_exists(Event, event_id, "event_id", connection)
        name = kind.item_model._meta.verbose_name.capitalize()
        raise kind.item_model.DoesNotExist(f"{name} {item_id} does not exist.")
    if not found[0].event_exists:
        raise Event.DoesNotExist(f"Event {event_id} does not exist.")
    return found[0]


@cache
def _upsert_sql(kind: TargetKind, alias: str, with_notes: bool) -> str:
    """INSERT ... ON CONFLICT (event, item) DO UPDATE ... RETURNING the whole row.

    Two concurrent first writes end with one row and no IntegrityError (which would abort
    the caller's transaction; a get_or_create retry cannot recover inside it), and the row
    comes back from the same statement, as it now is (notes kept when not given, the
    original created_at), instead of being read again."""
    qn = connections[alias].ops.quote_name
    meta = kind.target_model._meta

    def column(name: str) -> str:
        return qn(meta.get_field(name).column)

    inserted = ["event", kind.item_field, kind.amount_field, "notes", "created_at", "updated_at"]
    updated = [kind.amount_field, "updated_at"] + (["notes"] if with_notes else [])
    return (
        f"INSERT INTO {qn(meta.db_table)} ({', '.join(column(name) for name in inserted)}) "
        f"VALUES ({', '.join(['%s'] * len(inserted))}) "
        f"ON CONFLICT ({column('event')}, {column(kind.item_field)}) DO UPDATE SET "
        + ", ".join(f"{column(name)} = excluded.{column(name)}" for name in updated)
        + f" RETURNING {', '.join(qn(field.column) for field in meta.concrete_fields)}"
    )


def set_target(
    kind: TargetKind,
    event_id: int,
    item_id: int,
    amount: int,
    notes: str | None = None,
    *,
    connection: BaseDatabaseWrapper,
) -> tuple[Any, bool]:
    """Create the event's target of this kind for the item, or change its amount (upsert);
    returns (target, created), the target with its item loaded. Two statements.

    `notes=None` keeps the notes a target already has.
    """
    require_atomic(connection, "set_target")
    validate_positive_int(amount, kind.amount_field)
    if notes is not None:
        validate_text(notes, "notes")
    item = _item_of_event(kind, event_id, item_id, connection)
    alias = connection.alias
    now = timezone.now()
    stamp = connection.ops.adapt_datetimefield_value(now)
    params = [event_id, item_id, amount, notes or "", stamp, stamp]
    with connection.cursor() as cursor:
        cursor.execute(_upsert_sql(kind, alias, notes is not None), params)
        target = instance_from_row(kind.target_model, cursor.fetchone(), connection=connection)
    setattr(target, kind.item_field, item)
    # A new row keeps the created_at this call wrote; an updated one has its original.
    return target, target.created_at == now


def set_production_target(
    event_id: int,
    recipe_id: int,
    target_batches: int,
    notes: str | None = None,
    *,
    connection: BaseDatabaseWrapper,
) -> EventProductionTarget:
    """Create the event's target for the recipe, or change its amount (upsert); the target
    comes back with its recipe loaded. `notes=None` keeps the notes a target already has."""
    require_atomic(connection, "set_production_target")
    target, _ = set_target(
        PRODUCTION, event_id, recipe_id, target_batches, notes, connection=connection
    )
    return target


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
    target, _ = set_target(
        ASSEMBLY, event_id, finished_good_id, target_quantity, notes, connection=connection
    )
    return target


@dataclass(frozen=True, slots=True)
class TargetListRow:
    """A target as a light list shows it: ids, the item's name, the amount, the notes."""

    target_id: int
    item_id: int
    item_name: str
    amount: int
    notes: str


def _targets_of(kind: TargetKind, event_id: int, alias: str) -> QuerySet:
    """The one definition of an event's target list: its targets of this kind, ordered by the
    item's name, then id. Both the model read and the row read below take it."""
    return (
        kind.target_model._default_manager.using(alias)
        .filter(event_id=event_id)
        .order_by(f"{kind.item_field}__name", "id")
    )


def _non_empty_or_known(rows: list, event_id: int, connection: BaseDatabaseWrapper) -> list:
    if not rows:
        # Only an empty answer needs the second query that tells "no targets" from "no such
        # event".
        _require_exists(Event, event_id, "event_id", connection)
    return rows


def get_targets(kind: TargetKind, event_id: int, *, connection: BaseDatabaseWrapper) -> list:
    """The event's targets of this kind as model objects with their item loaded, ordered by
    the item's name, then id; DoesNotExist for an unknown event. One query."""
    require_atomic(connection, "get_targets")
    validate_id(event_id, "event_id")
    targets = _targets_of(kind, event_id, connection.alias).select_related(kind.item_field)
    return _non_empty_or_known(list(targets), event_id, connection)


def list_target_rows(
    kind: TargetKind, event_id: int, *, connection: BaseDatabaseWrapper
) -> list[TargetListRow]:
    """The same list as `get_targets`, as plain rows: for a page that shows names and amounts
    and need not build a target and an item per row."""
    require_atomic(connection, "list_target_rows")
    validate_id(event_id, "event_id")
    rows = _targets_of(kind, event_id, connection.alias).values_list(
        "id", kind.item_id_field, f"{kind.item_field}__name", kind.amount_field, "notes"
    )
    return _non_empty_or_known([TargetListRow(*values) for values in rows], event_id, connection)


def get_production_targets(
    event_id: int, *, connection: BaseDatabaseWrapper
) -> list[EventProductionTarget]:
    """The event's production targets with their recipe loaded, ordered by the recipe's
    name, then id."""
    require_atomic(connection, "get_production_targets")
    return get_targets(PRODUCTION, event_id, connection=connection)


def get_assembly_targets(
    event_id: int, *, connection: BaseDatabaseWrapper
) -> list[EventAssemblyTarget]:
    """The event's assembly targets with their finished good loaded, ordered by its name,
    then id."""
    require_atomic(connection, "get_assembly_targets")
    return get_targets(ASSEMBLY, event_id, connection=connection)


def list_production_target_rows(
    event_id: int, *, connection: BaseDatabaseWrapper
) -> list[TargetListRow]:
    require_atomic(connection, "list_production_target_rows")
    return list_target_rows(PRODUCTION, event_id, connection=connection)


def list_assembly_target_rows(
    event_id: int, *, connection: BaseDatabaseWrapper
) -> list[TargetListRow]:
    require_atomic(connection, "list_assembly_target_rows")
    return list_target_rows(ASSEMBLY, event_id, connection=connection)


def delete_target(
    kind: TargetKind, event_id: int, item_id: int, *, connection: BaseDatabaseWrapper
) -> bool:
    """Delete the event's target of this kind for the item; False when there was none
    (deleting twice is not an error)."""
    require_atomic(connection, "delete_target")
    validate_id(event_id, "event_id")
    validate_id(item_id, kind.item_id_field)
    deleted, _ = (
        kind.target_model._default_manager.using(connection.alias)
        .filter(event_id=event_id, **{kind.item_id_field: item_id})
        .delete()
    )
    return deleted > 0


def delete_production_target(
    event_id: int, recipe_id: int, *, connection: BaseDatabaseWrapper
) -> bool:
    """Delete the target; False when there was none (deleting twice is not an error)."""
    require_atomic(connection, "delete_production_target")
    return delete_target(PRODUCTION, event_id, recipe_id, connection=connection)


def delete_assembly_target(
    event_id: int, finished_good_id: int, *, connection: BaseDatabaseWrapper
) -> bool:
    """Delete the target; False when there was none (deleting twice is not an error)."""
    require_atomic(connection, "delete_assembly_target")
    return delete_target(ASSEMBLY, event_id, finished_good_id, connection=connection)


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
    if actual_yield is None:
        # Batches x yield per batch can exceed what the column holds for a large recipe.
        actual_yield = validate_non_negative_int(
            num_batches * recipe.yield_per_batch, "actual_yield"
        )
    run = ProductionRun(
        recipe=recipe,
        event_id=event_id,
        num_batches=num_batches,
        actual_yield=actual_yield,
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


# Production progress is the one read written in SQL. Summed by correlated subqueries (as the
# assembly progress is), it needs two per target (batches and yield), and PostgreSQL runs each
# as a SubPlan per target row: 400 index scans for a large event. Summing the event's runs once
# per recipe in a derived table and joining that is one pass over the runs index: for the
# benchmark's large event 3.8 -> 1.9 ms on PostgreSQL and 1.8 -> 1.3 ms on SQLite (README,
# "Performance"). The ORM cannot join a derived table, and its nearest form (a
# FilteredRelation join with GROUP BY) measured slower than the subqueries on both databases
# (7.3 ms on SQLite, 13 ms on PostgreSQL). tests/planning/test_production_progress_sql.py
# checks this query against the ORM formulation on both databases.
_PRODUCTION_PROGRESS_SQL = """
    SELECT t.event_id, t.recipe_id, r.name, t.target_batches,
           COALESCE(s.batches, 0), COALESCE(s.yield, 0), r.yield_unit, t.id, t.notes
    FROM {target} t
    JOIN {recipe} r ON r.id = t.recipe_id
    LEFT JOIN (
        SELECT event_id, recipe_id, SUM(num_batches) AS batches, SUM(actual_yield) AS yield
        FROM {run} WHERE event_id IN ({events}) GROUP BY event_id, recipe_id
    ) s ON s.event_id = t.event_id AND s.recipe_id = t.recipe_id
    WHERE t.event_id IN ({events})
    ORDER BY r.name, t.id
"""


def _production_progress(alias: str, events: int | QuerySet) -> dict[int, list[ProductionProgress]]:
    """Each production target of the given events (one id, or a `values("pk")` queryset of
    events, embedded as a subquery) with the sums of the event's own runs of its recipe."""
    connection = connections[alias]
    if isinstance(events, int):
        events_sql, events_params = "%s", (events,)
    else:
        query = events.order_by().query
        events_sql, events_params = query.get_compiler(connection=connection).as_sql()
    sql = _PRODUCTION_PROGRESS_SQL.format(
        target=connection.ops.quote_name(EventProductionTarget._meta.db_table),
        recipe=connection.ops.quote_name(Recipe._meta.db_table),
        run=connection.ops.quote_name(ProductionRun._meta.db_table),
        events=events_sql,
    )
    result: dict[int, list[ProductionProgress]] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, (*events_params, *events_params))
        for event_id, *fields in cursor.fetchall():
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
    rows = _production_progress(connection.alias, event_id).get(event_id, [])
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


def get_target_progress(
    kind: TargetKind, event_id: int, *, connection: BaseDatabaseWrapper
) -> list[ProductionProgress] | list[AssemblyProgress]:
    """Each target of this kind of the event with what the event's own runs achieved: the
    production or the assembly progress."""
    require_atomic(connection, "get_target_progress")
    read = get_production_progress if kind is PRODUCTION else get_assembly_progress
    return read(event_id, connection=connection)


def _with_package_counts(queryset):
    return queryset.annotate(
        packages_pending=assignments_with_status(FulfillmentStatus.PENDING),
        packages_ready=assignments_with_status(FulfillmentStatus.READY),
        packages_delivered=assignments_with_status(FulfillmentStatus.DELIVERED),
    )


@cache
def _events_with_package_counts(alias: str):
    # Built once per database alias; each dashboard read takes a clone for its event.
    return _with_package_counts(Event.objects.using(alias))


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


def _average_progress(production: list, assembly: list) -> float:
    """Mean of each target's progress, each capped at 100%: how far the baking and
    assembling is, where the complete count alone says 0 while every target is half done."""
    rows = [*production, *assembly]
    return sum(min(row.progress_pct, 100.0) for row in rows) / len(rows) if rows else 0.0


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
    production = _production_progress(alias, ids)
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


# ---------------------------------------------------------------------------------------
# Events
# ---------------------------------------------------------------------------------------

EVENT_HAS_RUNS = (
    "{name} has {runs} recorded for it. Runs are the record of what was baked and "
    "assembled, so an event with runs cannot be deleted (a run recorded by mistake can be "
    "taken back on the event's page)."
)


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


EVENT_HAS_HISTORY = (
    "{count} of the packages of {name} have status history (they were marked ready or "
    "delivered). That record is kept, so the event cannot be deleted."
)


@dataclass(frozen=True)
class EventDeletionCheck:
    """What deleting an event would remove, and why it may be refused."""

    production_targets: int
    assembly_targets: int
    assignments: int
    production_runs: int
    assembly_runs: int
    assignments_with_history: int
    blockers: tuple[str, ...]

    @property
    def allowed(self) -> bool:
        return not self.blockers


def _event_fields(name: Any, event_date: Any, notes: Any) -> None:
    validate_text(name, "name")
    if not name.strip():
        raise ValidationError({"name": ["name is required."]})
    if len(name) > 200:
        raise ValidationError({"name": ["name must be at most 200 characters."]})
    _validate_date(event_date, "event_date")
    if event_date is None:
        raise ValidationError({"event_date": ["event_date is required."]})
    validate_text(notes, "notes")


def _check_event_unique(name: str, event_date: datetime.date, exclude_pk, alias: str) -> None:
    clash = Event.objects.using(alias).filter(name=name, event_date=event_date)
    if exclude_pk is not None:
        clash = clash.exclude(pk=exclude_pk)
    if clash.exists():
        raise ValidationError(
            {"name": [f"There is already an event called {name!r} on {event_date:%Y-%m-%d}."]},
            code="unique",
        )


def create_event(
    name: str, event_date: datetime.date, notes: str = "", *, connection: BaseDatabaseWrapper
) -> Event:
    require_atomic(connection, "create_event")
    _event_fields(name, event_date, notes)
    name = name.strip()
    _check_event_unique(name, event_date, None, connection.alias)
    event = Event(name=name, event_date=event_date, notes=notes)
    event.save(using=connection.alias)
    return event


def update_event(
    event_id: int,
    *,
    name: str,
    event_date: datetime.date,
    notes: str,
    connection: BaseDatabaseWrapper,
) -> Event:
    require_atomic(connection, "update_event")
    _event_fields(name, event_date, notes)
    event = _get_event(event_id, connection)
    name = name.strip()
    _check_event_unique(name, event_date, event.pk, connection.alias)
    event.name, event.event_date, event.notes = name, event_date, notes
    event.save(using=connection.alias, update_fields=["name", "event_date", "notes", "updated_at"])
    return event


def check_event_deletion(event_id: int, *, connection: BaseDatabaseWrapper) -> EventDeletionCheck:
    """Count what deleting the event would remove and what forbids it, in one query."""
    from fulfillment.models import FulfillmentStatusChange

    require_atomic(connection, "check_event_deletion")
    validate_id(event_id, "event_id")
    alias = connection.alias

    def count_of(model: Any, **filters: Any) -> Subquery:
        return Coalesce(
            Subquery(
                model.objects.using(alias)
                .filter(**filters)
                .order_by()
                .values(*filters.keys())
                .annotate(n=Count("pk"))
                .values("n"),
                output_field=IntegerField(),
            ),
            Value(0),
        )

    from fulfillment.models import EventRecipientPackage

    event = (
        Event.objects.using(alias)
        .annotate(
            n_production_targets=count_of(EventProductionTarget, event_id=OuterRef("pk")),
            n_assembly_targets=count_of(EventAssemblyTarget, event_id=OuterRef("pk")),
            n_assignments=count_of(EventRecipientPackage, event_id=OuterRef("pk")),
            n_production_runs=count_of(ProductionRun, event_id=OuterRef("pk")),
            n_assembly_runs=count_of(AssemblyRun, event_id=OuterRef("pk")),
            n_with_history=Coalesce(
                Subquery(
                    FulfillmentStatusChange.objects.using(alias)
                    .filter(assignment__event_id=OuterRef("pk"))
                    .order_by()
                    .values("assignment__event_id")
                    .annotate(n=Count("assignment_id", distinct=True))
                    .values("n"),
                    output_field=IntegerField(),
                ),
                Value(0),
            ),
        )
        .get(pk=event_id)
    )
    blockers = []
    if event.n_production_runs or event.n_assembly_runs:
        blockers.append(
            EVENT_HAS_RUNS.format(
                name=event.name,
                runs=" and ".join(
                    _count(n, f"{kind} run")
                    for n, kind in (
                        (event.n_production_runs, "production"),
                        (event.n_assembly_runs, "assembly"),
                    )
                    if n
                ),
            )
        )
    if event.n_with_history:
        blockers.append(EVENT_HAS_HISTORY.format(count=event.n_with_history, name=event.name))
    return EventDeletionCheck(
        production_targets=event.n_production_targets,
        assembly_targets=event.n_assembly_targets,
        assignments=event.n_assignments,
        production_runs=event.n_production_runs,
        assembly_runs=event.n_assembly_runs,
        assignments_with_history=event.n_with_history,
        blockers=tuple(blockers),
    )


def delete_event(event_id: int, *, connection: BaseDatabaseWrapper) -> EventDeletionCheck:
    """Delete the event with its targets and assignments; refused (DomainError naming the
    reason) while runs are attributed to it or any assignment has status history."""
    require_atomic(connection, "delete_event")
    # Lock the event row so no run can be attributed to it between the check and the delete.
    validate_id(event_id, "event_id")
    Event.objects.using(connection.alias).select_for_update().get(pk=event_id)
    check = check_event_deletion(event_id, connection=connection)
    if not check.allowed:
        raise DomainError(" ".join(check.blockers), code="protected")
    Event.objects.using(connection.alias).filter(pk=event_id).delete()
    return check


def clone_event(
    event_id: int,
    *,
    name: str,
    event_date: datetime.date,
    notes: str | None = None,
    connection: BaseDatabaseWrapper,
) -> Event:
    """Copy an event for next season: its targets and assignments (as pending, without
    history), never its runs."""
    from fulfillment.models import EventRecipientPackage

    require_atomic(connection, "clone_event")
    source = _get_event(event_id, connection)
    notes = source.notes if notes is None else notes
    _event_fields(name, event_date, notes)
    name = name.strip()
    alias = connection.alias
    _check_event_unique(name, event_date, None, alias)
    clone = Event(name=name, event_date=event_date, notes=notes)
    clone.save(using=alias)
    now = timezone.now()
    EventProductionTarget.objects.using(alias).bulk_create(
        EventProductionTarget(
            event=clone,
            recipe_id=recipe_id,
            target_batches=batches,
            notes=target_notes,
            created_at=now,
            updated_at=now,
        )
        for recipe_id, batches, target_notes in EventProductionTarget.objects.using(alias)
        .filter(event_id=source.pk)
        .values_list("recipe_id", "target_batches", "notes")
    )
    EventAssemblyTarget.objects.using(alias).bulk_create(
        EventAssemblyTarget(
            event=clone,
            finished_good_id=good_id,
            target_quantity=quantity,
            notes=target_notes,
            created_at=now,
            updated_at=now,
        )
        for good_id, quantity, target_notes in EventAssemblyTarget.objects.using(alias)
        .filter(event_id=source.pk)
        .values_list("finished_good_id", "target_quantity", "notes")
    )
    assignments = (
        EventRecipientPackage.objects.using(alias)
        .filter(event_id=source.pk)
        .values_list("recipient_id", "package_id", "quantity", "notes")
    )
    EventRecipientPackage.objects.using(alias).bulk_create(
        EventRecipientPackage(
            event=clone,
            recipient_id=recipient_id,
            package_id=package_id,
            quantity=quantity,
            notes=assignment_notes,
            created_at=now,
            updated_at=now,
            status_changed_at=now,
        )
        for recipient_id, package_id, quantity, assignment_notes in assignments
    )
    return clone


# ---------------------------------------------------------------------------------------
# Needs: what the event's assignments require
# ---------------------------------------------------------------------------------------


def _suggestion(current_target: int | None, needed: int) -> str:
    """ "create", "raise" or "ok" (the current target already covers the need)."""
    if current_target is None:
        return "create"
    return "raise" if current_target < needed else "ok"


@dataclass(frozen=True)
class RecipeNeed:
    recipe_id: int
    recipe_name: str
    items_needed: int
    yield_per_batch: int
    yield_unit: str
    batches_needed: int
    current_target: int | None

    @property
    def suggestion(self) -> str:
        return _suggestion(self.current_target, self.batches_needed)


@dataclass(frozen=True)
class FinishedGoodNeed:
    finished_good_id: int
    finished_good_name: str
    units_needed: int
    current_target: int | None

    @property
    def suggestion(self) -> str:
        return _suggestion(self.current_target, self.units_needed)


@dataclass(frozen=True)
class EventNeeds:
    recipes: list[RecipeNeed]
    finished_goods: list[FinishedGoodNeed]

    @property
    def changes(self) -> int:
        return sum(n.suggestion != "ok" for n in [*self.recipes, *self.finished_goods])


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def get_event_needs(event_id: int, *, connection: BaseDatabaseWrapper) -> EventNeeds:
    """Units of each finished good (sum of assignment quantity x package item quantity) and
    batches of each recipe (ceil of items needed / yield per batch) the event's assignments
    require, beside the current targets. A constant number of queries."""
    require_atomic(connection, "get_event_needs")
    validate_id(event_id, "event_id")
    alias = connection.alias
    _require_exists(Event, event_id, "event_id", connection)
    production_targets = dict(
        EventProductionTarget.objects.using(alias)
        .filter(event_id=event_id)
        .values_list("recipe_id", "target_batches")
    )
    assembly_targets = dict(
        EventAssemblyTarget.objects.using(alias)
        .filter(event_id=event_id)
        .values_list("finished_good_id", "target_quantity")
    )
    return _event_needs(alias, event_id, production_targets, assembly_targets)


def _big(expression: Any) -> Cast:
    return Cast(expression, BigIntegerField())


def _event_needs(
    alias: str,
    event_id: int,
    production_targets: dict[int, int],
    assembly_targets: dict[int, int],
) -> EventNeeds:
    from django.db.models import F

    from fulfillment.models import PackageItem
    from planning.models import FinishedGoodComponent

    goods = (
        PackageItem.objects.using(alias)
        .filter(package__assignments__event_id=event_id)
        .values("finished_good_id", "finished_good__name")
        # bigint arithmetic: quantities multiplied together overflow PostgreSQL's integer.
        .annotate(units=Sum(_big(F("package__assignments__quantity")) * F("quantity")))
        .order_by("finished_good__name", "finished_good_id")
    )
    recipes = (
        FinishedGoodComponent.objects.using(alias)
        .filter(finished_good__package_items__package__assignments__event_id=event_id)
        .values("recipe_id", "recipe__name", "recipe__yield_per_batch", "recipe__yield_unit")
        .annotate(
            items=Sum(
                _big(F("finished_good__package_items__package__assignments__quantity"))
                * F("finished_good__package_items__quantity")
                * F("quantity")
            )
        )
        .order_by("recipe__name", "recipe_id")
    )
    return EventNeeds(
        recipes=[
            RecipeNeed(
                recipe_id=row["recipe_id"],
                recipe_name=row["recipe__name"],
                items_needed=row["items"],
                yield_per_batch=row["recipe__yield_per_batch"],
                yield_unit=row["recipe__yield_unit"],
                batches_needed=_ceil_div(row["items"], row["recipe__yield_per_batch"]),
                current_target=production_targets.get(row["recipe_id"]),
            )
            for row in recipes
        ],
        finished_goods=[
            FinishedGoodNeed(
                finished_good_id=row["finished_good_id"],
                finished_good_name=row["finished_good__name"],
                units_needed=row["units"],
                current_target=assembly_targets.get(row["finished_good_id"]),
            )
            for row in goods
        ],
    )


@dataclass(frozen=True)
class EventDashboard:
    event: Event
    production: list[ProductionProgress]
    assembly: list[AssemblyProgress]
    overall: OverallProgress
    needs: EventNeeds | None  # None when not asked for


def get_event_dashboard(
    event_id: int, *, connection: BaseDatabaseWrapper, include_needs: bool = True
) -> EventDashboard:
    """Everything the event dashboard shows (progress, overall counts and, unless
    `include_needs` is false, the needs) in five queries, three without the needs, sharing
    what the separate reads would each fetch again."""
    require_atomic(connection, "get_event_dashboard")
    validate_id(event_id, "event_id")
    alias = connection.alias
    event = _events_with_package_counts(alias).get(pk=event_id)
    production = _production_progress(alias, event_id).get(event_id, [])
    assembly = _assembly_progress(alias, event_id=event_id).get(event_id, [])
    needs = None
    if include_needs:
        needs = _event_needs(
            alias,
            event_id,
            {row.recipe_id: row.target_batches for row in production},
            {row.finished_good_id: row.target_quantity for row in assembly},
        )
    return EventDashboard(
        event=event,
        production=production,
        assembly=assembly,
        overall=_overall(event, production, assembly),
        needs=needs,
    )


@dataclass(frozen=True)
class AppliedNeeds:
    created: int
    raised: int


def apply_event_needs(
    event_id: int,
    *,
    recipe_ids: list[int],
    finished_good_ids: list[int],
    connection: BaseDatabaseWrapper,
) -> AppliedNeeds:
    """Create or raise the chosen targets to what the assignments need (never lower one).

    The needs are recomputed here, inside the caller's transaction, so what is written
    matches the data as it is now, not as the review page showed it.
    """
    require_atomic(connection, "apply_event_needs")
    for pk in [*recipe_ids, *finished_good_ids]:
        validate_id(pk, "ids")
    needs = get_event_needs(event_id, connection=connection)
    created = raised = 0
    for need in needs.recipes:
        if need.recipe_id in recipe_ids and need.suggestion != "ok":
            set_production_target(
                event_id, need.recipe_id, need.batches_needed, connection=connection
            )
            created += need.suggestion == "create"
            raised += need.suggestion == "raise"
    for need in needs.finished_goods:
        if need.finished_good_id in finished_good_ids and need.suggestion != "ok":
            set_assembly_target(
                event_id, need.finished_good_id, need.units_needed, connection=connection
            )
            created += need.suggestion == "create"
            raised += need.suggestion == "raise"
    return AppliedNeeds(created=created, raised=raised)


# ---------------------------------------------------------------------------------------
# Recorded runs: the latest ones, and taking back a mistaken entry
# ---------------------------------------------------------------------------------------


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
    production = (
        ProductionRun.objects.using(alias)
        .filter(event_id=event_id)
        .order_by("-produced_at", "-id")
        .values_list(
            "id", "recipe__name", "num_batches", "produced_at", "recorded_by__username", "notes"
        )[:limit]
    )
    assembly = (
        AssemblyRun.objects.using(alias)
        .filter(event_id=event_id)
        .order_by("-assembled_at", "-id")
        .values_list(
            "id",
            "finished_good__name",
            "quantity",
            "assembled_at",
            "recorded_by__username",
            "notes",
        )[:limit]
    )
    entries = [
        RunEntry(
            "production",
            pk,
            name,
            amount,
            "batch" if amount == 1 else "batches",
            when,
            user or "",
            notes,
        )
        for pk, name, amount, when, user, notes in production
    ] + [
        RunEntry("assembly", pk, name, amount, "assembled", when, user or "", notes)
        for pk, name, amount, when, user, notes in assembly
    ]
    entries.sort(key=lambda e: (e.recorded_at, e.run_id), reverse=True)
    return RecentRuns(
        entries=entries[:limit],
        production_count=ProductionRun.objects.using(alias).filter(event_id=event_id).count(),
        assembly_count=AssemblyRun.objects.using(alias).filter(event_id=event_id).count(),
    )


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
