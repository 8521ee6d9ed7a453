"""Events: create, edit, copy for next season, and delete (after saying what goes and what
stands in the way). Public functions follow the service contract (README, "Transactions").
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from eventplanner.domain import (
    DomainError,
    plural,
    require_atomic,
    validate_date,
    validate_id,
    validate_text,
)
from fulfillment import services as fulfillment_services
from fulfillment.models import EventRecipientPackage, FulfillmentStatusChange
from planning.kinds import KINDS, TargetKind
from planning.models import (
    AssemblyRun,
    Event,
    EventAssemblyTarget,
    EventProductionTarget,
    ProductionRun,
)

EVENT_HAS_RUNS = (
    "{name} has {runs} recorded for it. Runs are the record of what was baked and "
    "assembled, so an event with runs cannot be deleted (a run recorded by mistake can be "
    "taken back on the event's page)."
)


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


def _get_event(event_id: int, connection: BaseDatabaseWrapper) -> Event:
    validate_id(event_id, "event_id")
    return Event.objects.using(connection.alias).get(pk=event_id)


def _event_fields(name: Any, event_date: Any, notes: Any) -> None:
    validate_text(name, "name")
    if not name.strip():
        raise ValidationError({"name": ["name is required."]})
    if len(name) > 200:
        raise ValidationError({"name": ["name must be at most 200 characters."]})
    validate_date(event_date, "event_date")
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


def _count_of(model: Any, **filters: Any) -> Coalesce:
    """How many rows of `model` match, as a scalar subquery of the outer event (0 for none)."""
    return Coalesce(
        Subquery(
            model.objects.filter(**filters)
            .order_by()
            .values(*filters.keys())
            .annotate(n=Count("pk"))
            .values("n"),
            output_field=IntegerField(),
        ),
        Value(0),
    )


def _assignments_with_history() -> Coalesce:
    """How many of the outer event's assignments have status history."""
    return Coalesce(
        Subquery(
            FulfillmentStatusChange.objects.filter(assignment__event_id=OuterRef("pk"))
            .order_by()
            .values("assignment__event_id")
            .annotate(n=Count("assignment_id", distinct=True))
            .values("n"),
            output_field=IntegerField(),
        ),
        Value(0),
    )


def _deletion_blockers(event: Any) -> tuple[str, ...]:
    blockers = []
    runs = [
        plural(n, f"{kind} run")
        for n, kind in (
            (event.n_production_runs, "production"),
            (event.n_assembly_runs, "assembly"),
        )
        if n
    ]
    if runs:
        blockers.append(EVENT_HAS_RUNS.format(name=event.name, runs=" and ".join(runs)))
    if event.n_with_history:
        blockers.append(EVENT_HAS_HISTORY.format(count=event.n_with_history, name=event.name))
    return tuple(blockers)


def check_event_deletion(event_id: int, *, connection: BaseDatabaseWrapper) -> EventDeletionCheck:
    """Count what deleting the event would remove and what forbids it, in one query."""
    require_atomic(connection, "check_event_deletion")
    validate_id(event_id, "event_id")
    of_event = {"event_id": OuterRef("pk")}
    event = (
        Event.objects.using(connection.alias)
        .annotate(
            n_production_targets=_count_of(EventProductionTarget, **of_event),
            n_assembly_targets=_count_of(EventAssemblyTarget, **of_event),
            n_assignments=_count_of(EventRecipientPackage, **of_event),
            n_production_runs=_count_of(ProductionRun, **of_event),
            n_assembly_runs=_count_of(AssemblyRun, **of_event),
            n_with_history=_assignments_with_history(),
        )
        .get(pk=event_id)
    )
    return EventDeletionCheck(
        production_targets=event.n_production_targets,
        assembly_targets=event.n_assembly_targets,
        assignments=event.n_assignments,
        production_runs=event.n_production_runs,
        assembly_runs=event.n_assembly_runs,
        assignments_with_history=event.n_with_history,
        blockers=_deletion_blockers(event),
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
    for kind in KINDS.values():
        _copy_targets(kind, source.pk, clone, now, alias)
    fulfillment_services.copy_assignments(source.pk, clone.pk, connection=connection)
    return clone


def _copy_targets(kind: TargetKind, source_id: int, clone: Event, now: Any, alias: str) -> None:
    targets = kind.target_model._default_manager.using(alias)
    targets.bulk_create(
        # The rows are of the manager's kind; the union of the two kinds cannot say so.
        kind.target_model(  # type: ignore[misc]
            event=clone,
            **{kind.item_id_field: item_id, kind.amount_field: amount},
            notes=notes,
            created_at=now,
            updated_at=now,
        )
        for item_id, amount, notes in targets.filter(event_id=source_id).values_list(
            kind.item_id_field, kind.amount_field, "notes"
        )
    )
