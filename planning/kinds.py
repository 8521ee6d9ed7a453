"""The two kinds of target an event has, described once.

Production (recipe -> batches) and assembly (finished good -> quantity) follow the same rules:
an upsert per (event, item), a positive whole amount, runs attributed to the event counting
toward it. Services, views, forms and templates read what differs from a `TargetKind` instead
of keeping two copies of the same code. It holds no forms and no services, so every layer can
import it.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models

from planning.models import (
    AssemblyRun,
    EventAssemblyTarget,
    EventProductionTarget,
    FinishedGood,
    ProductionRun,
    Recipe,
)


@dataclass(frozen=True)
class TargetKind:
    name: str  # "production" | "assembly": the URL part, fragment names and row ids
    target_model: type[models.Model]
    item_model: type[models.Model]
    item_field: str  # the target's and the run's foreign key to the item
    amount_field: str  # the target's amount
    run_model: type[models.Model]
    run_amount_field: str  # what a run adds toward the target
    run_time_field: str  # when a run was recorded
    label: str  # the item column's heading
    done_label: str  # the heading of what the runs achieved
    unit: str  # the amount's unit, as a table shows it

    @property
    def item_id_field(self) -> str:
        return f"{self.item_field}_id"

    def perm(self, action: str) -> str:
        """The model permission for `action` ("add", "change", "delete") on this target."""
        return f"planning.{action}_{self.target_model._meta.model_name}"


PRODUCTION = TargetKind(
    name="production",
    target_model=EventProductionTarget,
    item_model=Recipe,
    item_field="recipe",
    amount_field="target_batches",
    run_model=ProductionRun,
    run_amount_field="num_batches",
    run_time_field="produced_at",
    label="Recipe",
    done_label="Produced",
    unit="batches",
)

ASSEMBLY = TargetKind(
    name="assembly",
    target_model=EventAssemblyTarget,
    item_model=FinishedGood,
    item_field="finished_good",
    amount_field="target_quantity",
    run_model=AssemblyRun,
    run_amount_field="quantity",
    run_time_field="assembled_at",
    label="Finished good",
    done_label="Assembled",
    unit="assembled",
)

KINDS: dict[str, TargetKind] = {kind.name: kind for kind in (PRODUCTION, ASSEMBLY)}
