"""Progress of an event's targets, computed by the database from the runs attributed to it,
and the events list with each event's progress. Public functions follow the service contract
(README, "Transactions").
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from functools import cache
from typing import Any, ClassVar

from django.core.exceptions import ValidationError
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import F, Func, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from eventplanner.domain import require_atomic, require_exists, validate_date, validate_id
from fulfillment.models import EventRecipientPackage, FulfillmentStatus, assignments_with_status
from planning.kinds import ASSEMBLY, PRODUCTION, TargetKind
from planning.models import (
    AssemblyRun,
    Event,
    EventAssemblyTarget,
    EventProductionTarget,
    ProductionRun,
    Recipe,
)

WHEN_CHOICES = ("upcoming", "past", "all")
INVALID_WHEN = "when must be one of 'upcoming', 'past' or 'all' (got {value!r})."
INVALID_RANGE = "The start date ({date_from}) is after the end date ({date_to})."


def _pct(done: int, target: int) -> float:
    return done / target * 100 if target else 0.0


@dataclass(frozen=True)
class _TargetProgress:
    """How far the runs are toward one target: what each kind's progress row adds to its
    target's own fields. Each row class names its field of what the runs achieved (`done`)
    and of the target's amount (`wanted`)."""

    _done: ClassVar[str]
    _wanted: ClassVar[str]
    progress_pct: float = field(init=False)  # not capped: 5 of 4 is 125.0
    is_complete: bool = field(init=False)

    def __init_subclass__(cls, *, done: str, wanted: str, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._done, cls._wanted = done, wanted

    def __post_init__(self) -> None:
        done, wanted = getattr(self, self._done), getattr(self, self._wanted)
        object.__setattr__(self, "progress_pct", _pct(done, wanted))
        object.__setattr__(self, "is_complete", done >= wanted)


@dataclass(frozen=True)
class ProductionProgress(_TargetProgress, done="produced_batches", wanted="target_batches"):
    recipe_id: int
    recipe_name: str
    target_batches: int
    produced_batches: int
    produced_yield: int
    yield_unit: str
    target_id: int
    notes: str


@dataclass(frozen=True)
class AssemblyProgress(_TargetProgress, done="assembled_quantity", wanted="target_quantity"):
    finished_good_id: int
    finished_good_name: str
    target_quantity: int
    assembled_quantity: int
    target_id: int
    notes: str


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
        .annotate(assembled_quantity=_event_runs_total(AssemblyRun, "finished_good", "quantity"))
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


def _progress_rows(kind: TargetKind, alias: str, event_id: int) -> list:
    if kind is PRODUCTION:
        return _production_progress(alias, event_id).get(event_id, [])
    return _assembly_progress(alias, event_id=event_id).get(event_id, [])


def get_target_progress(
    kind: TargetKind, event_id: int, *, connection: BaseDatabaseWrapper
) -> list:
    """Each target of this kind of the event with what the event's own runs achieved: the
    production or the assembly progress."""
    require_atomic(connection, "get_target_progress")
    validate_id(event_id, "event_id")
    rows = _progress_rows(kind, connection.alias, event_id)
    if not rows:
        require_exists(Event, event_id, "event_id", connection=connection)
    return rows


def get_production_progress(
    event_id: int, *, connection: BaseDatabaseWrapper
) -> list[ProductionProgress]:
    """Each production target of the event with what the event's own runs produced."""
    require_atomic(connection, "get_production_progress")
    return get_target_progress(PRODUCTION, event_id, connection=connection)


def get_assembly_progress(
    event_id: int, *, connection: BaseDatabaseWrapper
) -> list[AssemblyProgress]:
    require_atomic(connection, "get_assembly_progress")
    return get_target_progress(ASSEMBLY, event_id, connection=connection)


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
        validate_date(value, name)
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
