"""Bake-tracker's yields and finished goods, in eventplanner's terms.

A bake-tracker recipe may have several yields ("finished units": 1 cake or 12 slices per
batch); an eventplanner recipe has one. A recipe keeps the yield its production runs are
counted in: the one whose items per batch is nearest to what its runs yielded per batch,
and for a recipe without runs the first yield the file lists (bake-tracker lists a
recipe's whole-unit yield first). The other yields are not carried over; a component
counted in one of them is converted into the kept yield's unit when that comes out whole.

A bake-tracker finished good may contain yields, other finished goods and packaging
materials; an eventplanner finished good is made of recipes only. Nested goods are
flattened into their recipes (a tin holding a sampler holds the sampler's cookies), and
packaging materials are not carried over.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from eventplanner.limits import AMOUNT, YIELD_PER_BATCH
from planning.transfer.baketracker_values import (
    Season,
    fault,
    max_length,
    note,
    rows_of,
    text,
    unique,
    whole,
)
from planning.transfer.mapping import FINISHED_GOODS, Row

PART_KEYS = ("finished_unit_slug", "finished_good_component_slug", "material_unit_slug")
MATERIAL = "compositions (packaging materials)"
NOT_WHOLE = "compositions (not a whole number of the recipe's kept yield)"
OTHER_YIELD = "finished_units (another yield of a recipe with several)"


@dataclass(frozen=True)
class Yield:
    slug: str
    recipe: str
    name: str
    per_batch: int
    unit: str


@dataclass
class Yields:
    by_slug: dict[str, Yield] = field(default_factory=dict)
    kept: dict[str, Yield] = field(default_factory=dict)  # recipe name -> its yield
    categories: dict[str, str] = field(default_factory=dict)  # recipe name -> category

    @classmethod
    def read(cls, data: dict, season: Season) -> Yields:
        yields = cls()
        for where, raw in rows_of(data, "finished_units"):
            slug, recipe = text(raw, "slug", where), text(raw, "recipe_name", where)
            per_batch = (
                1
                if raw.get("items_per_batch") is None
                else whole(raw, "items_per_batch", where, YIELD_PER_BATCH)
            )
            unit = note(raw, "item_unit", where, 50) or "items"
            name = note(raw, "display_name", where) or slug
            yields.by_slug[slug] = Yield(slug, recipe, name, per_batch, unit)
            yields.categories.setdefault(recipe, note(raw, "category", where, 100))
        yields._keep(_yield_per_batch(data), season)
        return yields

    def _keep(self, per_batch: dict[str, float], season: Season) -> None:
        by_recipe: dict[str, list[Yield]] = {}
        for y in self.by_slug.values():
            by_recipe.setdefault(y.recipe, []).append(y)
        for recipe, options in by_recipe.items():
            ran = per_batch.get(recipe)
            kept = options[0]
            if ran:
                kept = min(options, key=lambda y: abs(math.log(max(ran, 1e-9) / y.per_batch)))
            self.kept[recipe] = kept
            others = [y for y in options if y is not kept]
            season.not_carried_over[OTHER_YIELD] += len(others)
            if others:
                season.notes.append(
                    f"Recipe {recipe!r} has {len(options)} yields; it keeps {kept.per_batch} "
                    f"{kept.unit} per batch ({kept.name!r}), the yield its runs are counted in. "
                    + "; ".join(f"{y.name!r} ({y.per_batch} {y.unit})" for y in others)
                    + " is not carried over."
                )

    def of_recipe(self, recipe: str) -> tuple[int, str]:
        kept = self.kept.get(recipe)
        return (kept.per_batch, kept.unit) if kept else (1, "items")

    def unlisted_recipes(self, listed: dict[str, str]) -> list[tuple[str, str]]:
        return [
            (recipe, self.categories.get(recipe, ""))
            for recipe in self.kept
            if recipe.lower() not in listed
        ]

    def in_kept_unit(self, slug: str, quantity: int) -> tuple[str, int | None]:
        """The recipe of a yield and the quantity in the recipe's kept yield (None when it
        does not come out whole)."""
        y = self.by_slug[slug]
        kept = self.kept[y.recipe]
        amount = quantity * kept.per_batch
        return y.recipe, amount // y.per_batch if amount % y.per_batch == 0 else None


def _yield_per_batch(data: dict) -> dict[str, float]:
    """What each recipe's runs yielded per batch, from the runs that are well formed (the
    others are reported when the runs are read)."""
    totals: dict[str, list[int]] = {}
    for run in data.get("production_runs") or []:
        if not isinstance(run, dict):
            continue
        recipe, batches, made = (
            run.get("recipe_name"),
            run.get("num_batches"),
            run.get("actual_yield"),
        )
        if isinstance(recipe, str) and _is_int(batches) and _is_int(made) and batches > 0:
            total = totals.setdefault(recipe, [0, 0])
            total[0] += batches
            total[1] += made
    return {recipe: made / batches for recipe, (batches, made) in totals.items()}


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def flatten_goods(data: dict, yields: Yields, season: Season) -> dict[str, Row]:
    """The finished goods by slug, each with its recipes and the items of each per unit."""
    goods: dict[str, Row] = {}
    seen: dict[str, str] = {}
    for where, raw in rows_of(data, "finished_goods"):
        slug = text(raw, "slug", where)
        if slug in goods:
            raise fault(f"{where}.slug", f"finished good {slug!r} is listed twice.")
        name = text(raw, "display_name", where, max_length("name", FINISHED_GOODS.model))
        unique(seen, name, f"{where}.display_name", "finished good")
        for key in ("packaging_instructions", "notes"):
            if raw.get(key):
                season.not_carried_over[f"finished_goods[].{key}"] += 1
        goods[slug] = Row(name, {"name": name, "description": note(raw, "description", where)})
    contents = _compositions(data, goods, yields, season)
    for slug, row in goods.items():
        row.parts.update(_flatten(slug, contents, yields, season, ()))
    season.found[FINISHED_GOODS.label] = len(goods)
    return goods


def _compositions(data: dict, goods: dict[str, Row], yields: Yields, season: Season) -> dict:
    """Each finished good's components as (kind, slug, quantity), checked."""
    contents: dict[str, list[tuple[str, str, int]]] = {slug: [] for slug in goods}
    for where, raw in rows_of(data, "compositions"):
        owner = raw.get("finished_good_slug")
        if owner is None and raw.get("package_name") is not None:
            season.not_carried_over["compositions (package packaging)"] += 1
            continue
        if owner not in goods:
            raise fault(f"{where}.finished_good_slug", f"{owner!r} is not in finished_goods[].")
        given = [key for key in PART_KEYS if raw.get(key) is not None]
        if not given:
            season.not_carried_over[MATERIAL] += 1  # a legacy packaging product
            continue
        if len(given) > 1:
            raise fault(where, f"names both {given[0]} and {given[1]}; one component per row.")
        slug = raw[given[0]]
        if given[0] == "finished_unit_slug" and slug not in yields.by_slug:
            raise fault(f"{where}.finished_unit_slug", f"{slug!r} is not in finished_units[].")
        if given[0] == "finished_good_component_slug" and slug not in goods:
            raise fault(f"{where}.{given[0]}", f"{slug!r} is not in finished_goods[].")
        contents[owner].append((given[0], slug, whole(raw, "component_quantity", where, AMOUNT)))
    return contents


def _flatten(slug: str, contents: dict, yields: Yields, season: Season, path: tuple) -> dict:
    if slug in path:
        raise fault("compositions", f"finished good {slug!r} contains itself.")
    recipes: dict[str, int] = {}
    for kind, part, quantity in contents[slug]:
        if kind == "material_unit_slug":
            if not path:
                season.not_carried_over[MATERIAL] += 1
            continue
        if kind == "finished_good_component_slug":
            inner = _flatten(part, contents, yields, season, (*path, slug))
            found = {recipe: n * quantity for recipe, n in inner.items()}
        else:
            recipe, amount = yields.in_kept_unit(part, quantity)
            if amount is None:
                season.not_carried_over[NOT_WHOLE] += 0 if path else 1
                continue
            found = {recipe: amount}
        for recipe, n in found.items():
            recipes[recipe] = recipes.get(recipe, 0) + n
            if recipes[recipe] > AMOUNT.maximum:
                most = f"{AMOUNT.maximum:,}"
                raise fault(
                    "compositions",
                    f"finished good {slug!r} holds more than {most} items of {recipe!r}.",
                )
    return recipes
