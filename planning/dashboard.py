"""The event dashboard's read: progress, overall counts and, when asked for, the needs, in
one pass that shares what separate reads would each fetch again. Follows the service
contract (README, "Transactions").
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.backends.base.base import BaseDatabaseWrapper

from eventplanner.domain import require_atomic, validate_id
from planning.models import Event
from planning.needs import EventNeeds, _event_needs
from planning.progress import (
    AssemblyProgress,
    OverallProgress,
    ProductionProgress,
    _assembly_progress,
    _events_with_package_counts,
    _overall,
    _production_progress,
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
