"""The plan for each event of a file: which of its rows are already here and which are new.

An event the file gives that is not here is created with all its rows. One that is here
(the same name and date) is, when the document allows it, reused if it already holds every
row the file gives it (rows added here since are left alone); a row of the file that is not
here, or is here with other values, is a conflict naming both versions, as the import
cannot tell an edit from an addition. Rows that belong to no event (runs between seasons)
are matched on all their values: those already here are reused, the others created.
Reads only.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Model

from fulfillment.models import EventRecipientPackage
from planning.models import Event
from planning.transfer.mapping import REF, USER, Conflict, EventPart, EventRows

EVENT_DIFFERS = (
    "Event {name!r} on {date} exists with different {what} ({theirs} here, {ours} in the file)."
)
ASSIGNMENTS = "assignments"
STATUS_CHANGES = "status changes"


@dataclass
class PlannedEvent:
    part: EventPart
    existing: Event | None = None  # the event here that is reused
    rows: list[tuple[EventRows, list[dict[str, Any]]]] = field(default_factory=list)  # to create
    assignments: list[dict[str, Any]] = field(default_factory=list)  # to create
    reused: dict[str, int] = field(default_factory=dict)  # rows already here, by label
    conflicts: list[Conflict] = field(default_factory=list)


@dataclass(frozen=True)
class Lookup:
    """What the plan of an event needs from the plan of the catalog."""

    found: dict[str, dict[str, Model]]  # catalog rows here, by label, by the file's key
    keys: dict[str, str]  # each catalog entity's natural key, by label
    recipient_names: dict[str, str]  # the file's recipient references -> names
    alias: str


def plan_event(part: EventPart, reuse: bool, lookup: Lookup) -> PlannedEvent:
    if part.event is None:
        return _plan_unattached(part, lookup)
    existing = (
        Event.objects.using(lookup.alias)
        .filter(name=part.event["name"], event_date=part.event["event_date"])
        .first()
    )
    if existing is None or not reuse:
        return PlannedEvent(part, None, list(part.event_rows), list(part.assignments))
    return _plan_existing(part, existing, lookup)


def _plan_unattached(part: EventPart, lookup: Lookup) -> PlannedEvent:
    planned = PlannedEvent(part)
    for spec, rows in part.event_rows:
        new, _ = _match(spec, rows, _rows_here(spec, None, rows, lookup), lookup)
        planned.rows.append((spec, new))
        add_count(planned.reused, spec.label, len(rows) - len(new))
    return planned


def _plan_existing(part: EventPart, event: Event, lookup: Lookup) -> PlannedEvent:
    if part.event is None:  # plan_event plans the rows of no event apart
        raise ValueError("Only the part of an event can match an event here.")
    planned = PlannedEvent(part, event)

    def differs(what: str, theirs: Any, ours: Any) -> None:
        planned.conflicts.append(
            Conflict(
                EVENT_DIFFERS.format(
                    name=event.name,
                    date=event.event_date.isoformat(),
                    what=what,
                    theirs=theirs,
                    ours=ours,
                ),
                what if what != "notes" else "events",
            )
        )

    if event.notes != part.event["notes"]:
        differs("notes", repr(event.notes), repr(part.event["notes"]))
    for spec, rows in part.event_rows:
        new, left = _match(spec, rows, _rows_here(spec, event, rows, lookup), lookup)
        if new:
            differs(spec.label, _describe(spec, _same_item(spec, left, new)), _describe(spec, new))
        add_count(planned.reused, spec.label, len(rows) - len(new))
    new, left = _match_assignments(part.assignments, event, lookup)
    if new:
        differs(ASSIGNMENTS, _describe_assignments(left), _describe_assignments(new))
    add_count(planned.reused, ASSIGNMENTS, len(part.assignments) - len(new))
    changes = sum(len(a["history"]) for a in part.assignments)
    add_count(planned.reused, STATUS_CHANGES, changes - sum(len(a["history"]) for a in new))
    return planned


def _rows_here(
    spec: EventRows, event: Event | None, rows: list[dict[str, Any]], lookup: Lookup
) -> list[Model]:
    if not rows:
        return []
    here = spec.model._default_manager.using(lookup.alias).select_related(*spec.related)
    if event is not None:
        return list(here.filter(event=event))
    # Rows of no event: only those of the items the file names, not every run ever recorded.
    ref = next(f for f in spec.fields if f.kind == REF)
    named = {row[ref.name] for row in rows}
    return list(
        here.filter(event__isnull=True, **{f"{ref.name}__{lookup.keys[ref.entity]}__in": named})
    )


def _match(
    spec: EventRows, rows: list[dict[str, Any]], here: list[Model], lookup: Lookup
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The file's rows that are not here, and the rows here that the file does not have,
    as many times as each is listed (two identical runs are two runs)."""
    pool = Counter(_values_here(spec, o, lookup) for o in here)
    new = []
    for row in rows:
        values = tuple(row[f.name] for f in spec.fields)
        if pool[values] > 0:
            pool[values] -= 1
        else:
            new.append(row)
    left = [dict(zip([f.name for f in spec.fields], v, strict=True)) for v in pool.elements()]
    return new, left


def _values_here(spec: EventRows, row: Model, lookup: Lookup) -> tuple:
    values = []
    for f in spec.fields:
        value = getattr(row, f.name)
        if f.kind == REF:
            value = getattr(value, lookup.keys[f.entity])
        elif f.kind == USER:
            value = value.get_username() if value is not None else None
        values.append(value)
    return tuple(values)


def _same_item(
    spec: EventRows, left: list[dict[str, Any]], new: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The rows here for the same recipe or finished good as the file's differing rows: the
    other version of each."""
    ref = next(f.name for f in spec.fields if f.kind == REF)
    named = {row[ref] for row in new}
    return [row for row in left if row[ref] in named]


def _describe(spec: EventRows, rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "none"
    return "; ".join(
        ", ".join(
            f"{f.name} {_shown(row[f.name])}" for f in spec.fields if row[f.name] not in ("", None)
        )
        for row in rows
    )


def _shown(value: Any) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else repr(value)


def _match_assignments(
    assignments: list[dict[str, Any]], event: Event, lookup: Lookup
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    recipients = lookup.found.get("recipients", {})
    here = EventRecipientPackage.objects.using(lookup.alias).filter(event=event)
    # Keyed as the file's rows look them up: a recipient the plan did not find is None.
    pool: Counter[tuple[int | None, str, int, str, str]] = Counter(
        (a.recipient_id, a.package.name, a.quantity, a.notes, a.fulfillment_status)
        for a in here.select_related("package")
    )
    names: dict[int | None, str] = dict(here.values_list("recipient_id", "recipient__name"))
    new = []
    for row in assignments:
        recipient = recipients.get(row["recipient"])
        values = (
            recipient.pk if recipient is not None else None,
            row["package"],
            row["quantity"],
            row["notes"],
            row["fulfillment_status"],
        )
        if pool[values] > 0:
            pool[values] -= 1
        else:
            new.append({**row, "recipient": lookup.recipient_names.get(row["recipient"], "?")})
    left = [
        {"recipient": names[v[0]], "package": v[1], "quantity": v[2], "fulfillment_status": v[4]}
        for v in pool.elements()
    ]
    return new, left


def _describe_assignments(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "none"
    return "; ".join(
        f"{row['quantity']} x {row['package']!r} to {row['recipient']!r} "
        f"({row['fulfillment_status']})"
        for row in rows
    )


def add_count(counts: dict[str, int], label: str, n: int) -> None:
    if n:
        counts[label] = counts.get(label, 0) + n
