"""The two kinds of target an event has, described once.

Production (recipe -> batches) and assembly (finished good -> quantity) follow the same rules:
an upsert per (event, item), a positive whole amount, runs attributed to the event counting
toward it. Services, views, forms and templates read what differs from a `TargetKind` instead
of keeping two copies of the same code. It holds no forms and no services, so every layer can
import it.
"""

from __future__ import annotations

from dataclasses import dataclass

from planning.models import (
    AssemblyRun,
    EventAssemblyTarget,
    EventProductionTarget,
    FinishedGood,
    ProductionRun,
    Recipe,
)

# The rows of the two kinds, so each layer is checked against the concrete models (their
# managers, DoesNotExist and fields); a third kind would join each of these.
Target = EventProductionTarget | EventAssemblyTarget
Item = Recipe | FinishedGood
Run = ProductionRun | AssemblyRun


@dataclass(frozen=True)
class TargetKind:
    name: str  # "production" | "assembly": the URL part, fragment names and row ids
    target_model: type[Target]
    item_field: str  # the target's and the run's foreign key to the item
    amount_field: str  # the target's amount
    run_model: type[Run]
    run_amount_field: str  # what a run adds toward the target
    run_time_field: str  # when a run was recorded
    label: str  # the item column's heading
    done_label: str  # the heading of what the runs achieved
    unit: str  # the amount's unit, as a table shows it

    @property
    def item_model(self) -> type[Item]:
        model = self.target_model._meta.get_field(self.item_field).related_model
        if isinstance(model, type) and issubclass(model, (Recipe, FinishedGood)):
            return model
        raise TypeError(f"{self.item_field} of a {self.name} target is no item of a kind.")

    @property
    def item_id_field(self) -> str:
        return f"{self.item_field}_id"

    def perm(self, action: str) -> str:
        """The model permission for `action` ("add", "change", "delete") on this target."""
        return f"planning.{action}_{self.target_model._meta.model_name}"


# A table of two rows: what differs between the kinds, side by side.
# fmt: off
PRODUCTION = TargetKind(
    "production", EventProductionTarget, "recipe", "target_batches",
    ProductionRun, "num_batches", "produced_at", "Recipe", "Produced", "batches",
)
ASSEMBLY = TargetKind(
    "assembly", EventAssemblyTarget, "finished_good", "target_quantity",
    AssemblyRun, "quantity", "assembled_at", "Finished good", "Assembled", "assembled",
)
# fmt: on

KINDS: dict[str, TargetKind] = {kind.name: kind for kind in (PRODUCTION, ASSEMBLY)}
