"""An event's figures as its dashboard and packing page read them, through the services."""

from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction

from fulfillment import services as fulfillment_services
from planning import services as planning_services


@dataclass(frozen=True)
class Figures:
    overall: Any
    production: list
    assembly: list
    by_status: dict  # each status: the event's assignments with it


def event_figures(event_id: int) -> Figures:
    with transaction.atomic():
        return Figures(
            overall=planning_services.get_event_overall_progress(event_id, connection=connection),
            production=planning_services.get_production_progress(event_id, connection=connection),
            assembly=planning_services.get_assembly_progress(event_id, connection=connection),
            by_status={
                status: fulfillment_services.get_packages_by_status(
                    event_id, status, connection=connection
                )
                for status in ("pending", "ready", "delivered")
            },
        )
