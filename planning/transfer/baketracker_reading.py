"""Read a bake-tracker full export (version 4.1) into a `Document`; no database access.

Bake-tracker refers to rows by name (recipes, packages, events, recipients) or by slug
(finished goods, yields). What eventplanner has no place for is counted, per key of the
file, as not carried over; rows that name something the file does not list are skipped
with the reason. Every fault names its place in the file (`events[1].event_date`).
"""

from __future__ import annotations

import datetime
from collections import Counter
from typing import Any

from eventplanner.limits import ACTUAL_YIELD, AMOUNT, NOTES, PACKED
from fulfillment.models import ChangeSource, FulfillmentStatus
from planning.models import Event
from planning.transfer.baketracker_goods import Yields, flatten_goods
from planning.transfer.baketracker_values import (
    Season,
    day,
    fault,
    max_length,
    moment,
    note,
    rows_of,
    text,
    unique,
    whole,
)
from planning.transfer.mapping import (
    ASSEMBLY_RUNS,
    ASSEMBLY_TARGETS,
    ASSIGNMENT_NOTES,
    ASSIGNMENT_QUANTITY,
    FINISHED_GOODS,
    PACKAGES,
    PRODUCTION_RUNS,
    PRODUCTION_TARGETS,
    RECIPES,
    RECIPIENTS,
    Document,
    EventPart,
    Row,
)

# Lists eventplanner reads; every other list of the file is counted as not carried over.
CARRIED = (
    "recipes",
    "finished_units",
    "finished_goods",
    "compositions",
    "packages",
    "package_finished_goods",
    "recipients",
    "events",
    "event_production_targets",
    "event_assembly_targets",
    "production_runs",
    "assembly_runs",
    "event_recipient_packages",
)
HEADER = ("version", "exported_at", "application")
# The status bake-tracker's older field meant, for files without `fulfillment_status`.
LEGACY_STATUS = {"pending": "pending", "assembled": "ready", "delivered": "delivered"}
IMPORTED_NOTE = "Status as it was in bake-tracker."
SKIP_UNLISTED = "names {what} {name!r}, which the file does not list"
AMBIGUOUS = (
    "{n} recipients are named {name!r}; the file names assignments by name only, so in each "
    "event they were matched in the order the file lists them (the first {name!r} row to "
    "the first {name!r} recipient, and so on). Check them on the recipients' pages."
)


# ---------------------------------------------------------------------------------------
# The season
# ---------------------------------------------------------------------------------------


def read_season(data: dict, now: datetime.datetime) -> Season:
    """The file's catalog, events, runs and assignments; the status changes are dated `now`,
    the moment of the import (bake-tracker keeps no dates for them)."""
    count_not_carried(data, season := Season(Document([], [], []), {}))
    yields = Yields.read(data, season)
    recipes = read_recipes(data, yields, season)
    goods = flatten_goods(data, yields, season)
    packages = read_packages(data, goods, season)
    recipients = read_recipients(data, season)
    parts = read_events(data, season)
    read_targets(data, parts, {r.key for r in recipes}, goods, season)
    read_runs(data, parts, {r.key for r in recipes}, goods, season)
    read_assignments(data, parts, {p.key for p in packages}, recipients, now, season)
    season.document = Document(
        users=[],
        catalog=[
            (RECIPES, recipes),
            (FINISHED_GOODS, list(goods.values())),
            (PACKAGES, packages),
            (RECIPIENTS, [row for rows in recipients.values() for row in rows]),
        ],
        events=[part for part in parts.values() if part is not None],
        reuse_events=True,
    )
    return season


def count_not_carried(data: dict, season: Season) -> None:
    for key, value in data.items():
        if key in HEADER or key in CARRIED:
            continue
        season.not_carried_over[key] = len(value) if isinstance(value, list) else 1


def read_recipes(data: dict, yields: Yields, season: Season) -> list[Row]:
    """Recipes with the yield their runs are counted in; a recipe the file names only in a
    yield (archived in bake-tracker, still in old runs) is recreated from that yield."""
    rows: list[Row] = []
    seen: dict[str, str] = {}
    name_length = max_length("name", RECIPES.model)
    for where, raw in rows_of(data, "recipes"):
        name = text(raw, "name", where, name_length)
        unique(seen, name, f"{where}.name", "recipe")
        for nested in ("ingredients", "components"):
            if isinstance(raw.get(nested), list) and raw[nested]:
                season.not_carried_over[f"recipes[].{nested}"] += len(raw[nested])
        if raw.get("base_recipe_slug"):
            season.not_carried_over["recipes[].base_recipe_slug (variant of)"] += 1
        category = note(raw, "category", where, max_length("category", RECIPES.model))
        rows.append(_recipe(name, category, note(raw, "notes", where), yields))
    for name, category in yields.unlisted_recipes(seen):
        rows.append(_recipe(name, category, "", yields))
        season.notes.append(
            f"Recipe {name!r} is not in recipes[] (archived in bake-tracker) but its yield "
            "and rows are; it was carried over from its yield."
        )
    season.found[RECIPES.label] = len(rows)
    return rows


def _recipe(name: str, category: str, notes: str, yields: Yields) -> Row:
    per_batch, unit = yields.of_recipe(name)
    values = {
        "name": name,
        "category": category,
        "yield_per_batch": per_batch,
        "yield_unit": unit,
        "notes": notes,
    }
    return Row(name, values)


def read_packages(data: dict, goods: dict[str, Row], season: Season) -> list[Row]:
    rows: dict[str, Row] = {}
    seen: dict[str, str] = {}
    for where, raw in rows_of(data, "packages"):
        name = text(raw, "name", where, max_length("name", PACKAGES.model))
        unique(seen, name, f"{where}.name", "package")
        if raw.get("notes"):
            season.not_carried_over["packages[].notes"] += 1
        rows[name] = Row(name, {"name": name, "description": note(raw, "description", where)})
    for where, raw in rows_of(data, "package_finished_goods"):
        package = text(raw, "package_name", where)
        slug = text(raw, "finished_good_slug", where)
        if package not in rows:
            raise fault(f"{where}.package_name", f"{package!r} is not in packages[].")
        if slug not in goods:
            raise fault(f"{where}.finished_good_slug", f"{slug!r} is not in finished_goods[].")
        parts = rows[package].parts
        good = goods[slug].key
        parts[good] = parts.get(good, 0) + whole(raw, "quantity", where, PACKED)
        if parts[good] > PACKED.maximum:
            raise fault(
                f"{where}.quantity",
                f"{package!r} holds more than {PACKED.maximum:,} of {good!r} in all.",
            )
    season.found[PACKAGES.label] = len(rows)
    return list(rows.values())


def read_recipients(data: dict, season: Season) -> dict[str, list[Row]]:
    """Recipients by name, in file order, without exact repeats (which nothing tells apart)."""
    by_name: dict[str, list[Row]] = {}
    found = 0
    for where, raw in rows_of(data, "recipients"):
        found += 1
        values = {
            "name": text(raw, "name", where, max_length("name", RECIPIENTS.model)),
            "household": note(
                raw, "household_name", where, max_length("household", RECIPIENTS.model)
            ),
            "address": note(raw, "address", where),
            "notes": note(raw, "notes", where),
        }
        same_name = by_name.setdefault(values["name"], [])
        if all(row.values != values for row in same_name):
            same_name.append(Row(where, values))
    season.found[RECIPIENTS.label] = found
    for name, rows in by_name.items():
        if len(rows) > 1:
            season.notes.append(AMBIGUOUS.format(n=len(rows), name=name))
    return by_name


def read_events(data: dict, season: Season) -> dict[str | None, EventPart | None]:
    """The events by name (the key the rest of the file uses), then the part of no event."""
    parts: dict[str | None, EventPart | None] = {}
    name_length = max_length("name", Event)
    for where, raw in rows_of(data, "events"):
        name = text(raw, "name", where, name_length)
        if name in parts:
            raise fault(f"{where}.name", f"event {name!r} is listed twice.")
        event = {"name": name, "event_date": day(raw, "event_date", where)}
        event["notes"] = note(raw, "notes", where)
        parts[name] = EventPart(event, [(spec, []) for spec in _EVENT_ROWS])
        for key in ("expected_attendees", "plan_state", "output_mode"):
            if raw.get(key) is not None:
                season.not_carried_over[f"events[].{key}"] += 1
    season.found["events"] = len(parts)
    parts[None] = EventPart(None, [(spec, []) for spec in _EVENT_ROWS])
    return parts


_EVENT_ROWS = (PRODUCTION_TARGETS, ASSEMBLY_TARGETS, PRODUCTION_RUNS, ASSEMBLY_RUNS)


def _rows(part: EventPart, label: str) -> list[dict[str, Any]]:
    return next(rows for spec, rows in part.event_rows if spec.label == label)


def _event_of(raw: dict, where: str, parts: dict, label: str, season: Season, optional=False):
    name = raw.get("event_name")
    if name is None and optional:
        return parts[None]
    if not isinstance(name, str):
        raise fault(f"{where}.event_name", "must be the name of an event.")
    if name not in parts:
        season.skip(label, SKIP_UNLISTED.format(what="event", name=name))
        return None
    return parts[name]


def read_targets(data, parts, recipes: set[str], goods: dict[str, Row], season: Season) -> None:
    specs = (
        (PRODUCTION_TARGETS, "event_production_targets", "recipe_name", "target_batches"),
        (ASSEMBLY_TARGETS, "event_assembly_targets", "finished_good_slug", "target_quantity"),
    )
    for spec, key, item_key, amount in specs:
        found, seen = 0, set()
        for where, raw in rows_of(data, key):
            found += 1
            part = _event_of(raw, where, parts, spec.label, season)
            item = _item(raw, item_key, where, recipes, goods, spec.label, season)
            if part is None or item is None:
                continue
            if (part.event["name"], item) in seen:
                raise fault(where, f"a second {spec.kind} for {item!r} in the same event.")
            seen.add((part.event["name"], item))
            row = {spec.fields[0].name: item, amount: whole(raw, amount, where, AMOUNT)}
            _rows(part, spec.label).append({**row, "notes": note(raw, "notes", where, NOTES)})
        season.found[spec.label] = found


def _item(raw, key: str, where: str, recipes: set[str], goods: dict[str, Row], label, season):
    """The recipe's name or the finished good's name a row names, or None (skipped)."""
    value = text(raw, key, where)
    if key == "recipe_name":
        if value in recipes:
            return value
        season.skip(label, SKIP_UNLISTED.format(what="recipe", name=value))
        return None
    if value in goods:
        return goods[value].key
    season.skip(label, SKIP_UNLISTED.format(what="finished good", name=value))
    return None


def read_runs(data, parts, recipes: set[str], goods: dict[str, Row], season: Season) -> None:
    for spec, key, item_key, amount_key, at in (
        (PRODUCTION_RUNS, "production_runs", "recipe_name", "num_batches", "produced_at"),
        (
            ASSEMBLY_RUNS,
            "assembly_runs",
            "finished_good_slug",
            "quantity_assembled",
            "assembled_at",
        ),
    ):
        found = 0
        for where, raw in rows_of(data, key):
            found += 1
            part = _event_of(raw, where, parts, spec.label, season, optional=True)
            item = _item(raw, item_key, where, recipes, goods, spec.label, season)
            if part is None or item is None:
                continue
            amount = whole(raw, amount_key, where, AMOUNT)
            row = {spec.fields[0].name: item, spec.fields[1].name: amount}
            if spec is PRODUCTION_RUNS:
                row["actual_yield"] = whole(raw, "actual_yield", where, ACTUAL_YIELD)
            row[at] = moment(raw, at, where)
            row.update(notes=note(raw, "notes", where, NOTES), recorded_by=None)
            _rows(part, spec.label).append(row)
        season.found[spec.label] = found


def read_assignments(data, parts, packages: set[str], recipients, now, season: Season) -> None:
    """Each assignment with its recipient: by name, and when several recipients share it, the
    n-th row of an event naming it goes to the n-th of them (see AMBIGUOUS)."""
    nth: Counter = Counter()
    seen: set[tuple[str, str, str]] = set()
    found = 0
    for where, raw in rows_of(data, "event_recipient_packages"):
        found += 1
        part = _event_of(raw, where, parts, "assignments", season)
        name = text(raw, "recipient_name", where)
        package = text(raw, "package_name", where)
        if part is None:
            continue
        if package not in packages:
            season.skip("assignments", SKIP_UNLISTED.format(what="package", name=package))
            continue
        if name not in recipients:
            season.skip("assignments", SKIP_UNLISTED.format(what="recipient", name=name))
            continue
        event = part.event["name"]
        ref = _recipient(recipients[name], nth, event, f"{where}.recipient_name")
        if (event, ref, package) in seen:
            raise fault(where, f"{name!r} is given {package!r} twice in {event!r}.")
        seen.add((event, ref, package))
        part.assignments.append(_assignment(raw, where, ref, package, now, season))
    season.found["assignments"] = found


def _recipient(rows: list[Row], nth: Counter, event: str, where: str) -> str:
    if len(rows) == 1:
        return rows[0].key
    index = nth[(event, rows[0].values["name"])]
    nth[(event, rows[0].values["name"])] += 1
    if index >= len(rows):
        name = rows[0].values["name"]
        raise fault(where, f"more rows name {name!r} in this event than there are recipients.")
    return rows[index].key


def _assignment(raw, where: str, ref: str, package: str, now, season: Season) -> dict:
    status = raw.get("fulfillment_status")
    if status is None:
        status = LEGACY_STATUS.get(raw.get("status"))
    elif "status" in raw:
        season.not_carried_over["event_recipient_packages[].status (older field)"] += 1
    if status not in FulfillmentStatus.values:
        raise fault(f"{where}.fulfillment_status", f"unknown status {status!r}.")
    if raw.get("delivered_to"):
        season.not_carried_over["event_recipient_packages[].delivered_to"] += 1
    history = []
    if status != FulfillmentStatus.PENDING:
        season.found["status changes"] = season.found.get("status changes", 0) + 1
        history.append(
            {
                "from_status": FulfillmentStatus.PENDING.value,
                "to_status": status,
                "changed_by": None,
                "changed_at": now,
                "source": ChangeSource.IMPORT.value,
                "note": IMPORTED_NOTE,
            }
        )
    return {
        "recipient": ref,
        "package": package,
        "quantity": whole(raw, "quantity", where, ASSIGNMENT_QUANTITY),
        "notes": note(raw, "notes", where, ASSIGNMENT_NOTES),
        "fulfillment_status": status,
        "status_changed_at": now,
        "history": history,
    }
