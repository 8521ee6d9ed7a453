"""What an event's assignments need (units of each finished good, batches of each recipe)
beside its targets, and turning that into targets. Public functions follow the service
contract (README, "Transactions").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import BigIntegerField, F, Sum
from django.db.models.functions import Cast

from eventplanner.domain import require_atomic, require_exists, validate_id
from fulfillment.models import PackageItem
from planning.kinds import ASSEMBLY, PRODUCTION, TargetKind
from planning.models import Event, EventAssemblyTarget, EventProductionTarget, FinishedGoodComponent
from planning.targets import set_target


class _Need:
    """One item's need beside its current target; each need class names its kind of target
    and its field of the amount needed (`needed`), which is what the target should be."""

    kind: ClassVar[TargetKind]
    _needed: ClassVar[str]
    current_target: int | None

    def __init_subclass__(cls, *, kind: TargetKind, needed: str, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.kind, cls._needed = kind, needed

    @property
    def item_id(self) -> int:
        return getattr(self, self.kind.item_id_field)

    @property
    def amount_needed(self) -> int:
        return getattr(self, self._needed)

    @property
    def suggestion(self) -> str:
        """ "create", "raise" or "ok" (the current target already covers the need)."""
        if self.current_target is None:
            return "create"
        return "raise" if self.current_target < self.amount_needed else "ok"


@dataclass(frozen=True)
class RecipeNeed(_Need, kind=PRODUCTION, needed="batches_needed"):
    recipe_id: int
    recipe_name: str
    items_needed: int
    yield_per_batch: int
    yield_unit: str
    batches_needed: int
    current_target: int | None


@dataclass(frozen=True)
class FinishedGoodNeed(_Need, kind=ASSEMBLY, needed="units_needed"):
    finished_good_id: int
    finished_good_name: str
    units_needed: int
    current_target: int | None


@dataclass(frozen=True)
class EventNeeds:
    recipes: list[RecipeNeed]
    finished_goods: list[FinishedGoodNeed]

    @property
    def changes(self) -> int:
        needs: list[RecipeNeed | FinishedGoodNeed] = [*self.recipes, *self.finished_goods]
        return sum(n.suggestion != "ok" for n in needs)


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def get_event_needs(event_id: int, *, connection: BaseDatabaseWrapper) -> EventNeeds:
    """Units of each finished good (sum of assignment quantity x package item quantity) and
    batches of each recipe (ceil of items needed / yield per batch) the event's assignments
    require, beside the current targets. A constant number of queries."""
    require_atomic(connection, "get_event_needs")
    validate_id(event_id, "event_id")
    alias = connection.alias
    require_exists(Event, event_id, "event_id", connection=connection)
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
    alias: str, event_id: int, production_targets: dict[int, int], assembly_targets: dict[int, int]
) -> EventNeeds:

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
    chosen = [
        *(need for need in needs.recipes if need.recipe_id in recipe_ids),
        *(need for need in needs.finished_goods if need.finished_good_id in finished_good_ids),
    ]
    created = raised = 0
    for need in chosen:
        if need.suggestion != "ok":
            set_target(need.kind, event_id, need.item_id, need.amount_needed, connection=connection)
            created += need.suggestion == "create"
            raised += need.suggestion == "raise"
    return AppliedNeeds(created=created, raised=raised)
