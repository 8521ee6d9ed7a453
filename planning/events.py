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
from fulfillment.models import EventRecipientPackage, FulfillmentStatusChange
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


def check_event_deletion(event_id: int, *, connection: BaseDatabaseWrapper) -> EventDeletionCheck:
    """Count what deleting the event would remove and what forbids it, in one query."""
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
                    plural(n, f"{kind} run")
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
