"""Read and check a file written by export_event into a `Document`; no database access.

Everything is checked in the order the file is laid out and the first fault is reported with
its place in the file (`assignments[3].package: no package named 'Tin' in the file`), so one
broken file always gives the same message. Every value is held to the limits the forms use
(eventplanner/limits.py), through the field descriptions of mapping.py.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.dateparse import parse_date, parse_datetime

from eventplanner.domain import MAX_DB_INT
from eventplanner.limits import LONG_TEXT, Whole, max_length, text_problem
from fulfillment.models import STATUS_ORDER, ChangeSource, FulfillmentStatus
from planning.models import Event
from planning.transfer.alike import merge_alike_recipients
from planning.transfer.baketracker_values import MAX_ROWS, fault
from planning.transfer.mapping import (
    ASSIGNMENT_NOTES,
    ASSIGNMENT_QUANTITY,
    CATALOG,
    COUNT,
    EVENT_ROWS,
    FORMAT,
    KEY,
    MOMENT,
    NOTE,
    PACKAGES,
    POSITIVE,
    RECIPIENTS,
    REF,
    REFERENCE,
    TEXT,
    USER,
    VERSIONS,
    Document,
    Entity,
    EventPart,
    EventRows,
    Field,
    Row,
)

NOT_AN_OBJECT = "The file is not an event export: it must be a JSON object."
NOT_AN_EXPORT = "format: not an event export (expected {expected!r}, got {got!r})."
# Usernames of Django's user model; the file's are created here when missing.
USERNAME = 150
UNSUPPORTED = "version: export version {got!r} is not supported; this reads versions {known}."


class _Known:
    """The names a row may refer to: catalog keys by entity label, and the listed users."""

    def __init__(self, names: dict[str, set[str]], users: list[str]) -> None:
        self.names = names
        self.users = users

    def name(self, value: Any, entity: Entity | str, where: str) -> str:
        label = entity if isinstance(entity, str) else entity.label
        kind = next((e.kind for e in CATALOG if e.label == label), label)
        if not isinstance(value, str):
            raise fault(where, f"must be the name of a {kind} (got {value!r}).")
        if value not in self.names[label]:
            raise fault(where, f"no {kind} named {value!r} in the file.")
        return value

    def user(self, username: Any, where: str) -> str | None:
        if username is None:
            return None
        if username not in self.users:
            raise fault(where, f"user {username!r} is not listed in users.")
        return username


def read_document(data: Any) -> Document:
    version = _check_format(data)
    event = read_event(data)
    catalog = read_catalog(data)
    names = {entity.label: {row.key for row in rows} for entity, rows in catalog}
    recipients = read_recipients(section(data, RECIPIENTS.source), keyed=version >= 2)
    users = [_text(u, f"users[{i}]", USERNAME, True) for i, u in enumerate(_list(data, "users"))]
    known = _Known(names, users)
    event_rows = [
        (spec, read_event_rows(spec, section(data, spec.source), known)) for spec in EVENT_ROWS
    ]
    assignments = read_assignments(section(data, "assignments"), recipients, known)
    if version < 2:
        # A file from before the recipients' keys: alike recipients are one person.
        recipients, assignments = merge_alike_recipients(recipients, assignments)
    return Document(
        users=users,
        catalog=[*catalog, (RECIPIENTS, recipients)],
        events=[EventPart(event, event_rows, assignments)],
    )


def _check_format(data: Any) -> int:
    if not isinstance(data, dict):
        raise ValidationError(NOT_AN_OBJECT, code="invalid")
    if data.get("format") != FORMAT:
        raise ValidationError(
            NOT_AN_EXPORT.format(expected=FORMAT, got=data.get("format")), code="invalid"
        )
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version not in VERSIONS:
        known = ", ".join(str(v) for v in VERSIONS)
        raise ValidationError(UNSUPPORTED.format(got=version, known=known), code="invalid")
    return version


def _list(data: dict, key: str, place: str = "") -> list[Any]:
    place = place or key
    if key not in data:
        raise fault(place, "is missing.")
    rows = data[key]
    if not isinstance(rows, list):
        raise fault(place, "must be a list.")
    if len(rows) > MAX_ROWS:
        raise fault(place, f"has {len(rows):,} rows; at most {MAX_ROWS:,} are read.")
    return rows


def section(data: dict, key: str, where: str = "") -> list[tuple[str, dict]]:
    """A list of the file that must be there, each row an object, with its place (under
    `where`, for a list inside a row)."""
    place = f"{where}.{key}" if where else key
    rows = _list(data, key, place)
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            raise fault(f"{place}[{index}]", "must be an object.")
    return [(f"{place}[{index}]", row) for index, row in enumerate(rows)]


def read_event(data: dict) -> dict[str, Any]:
    event = data.get("event")
    if not isinstance(event, dict):
        raise fault("event", "is missing." if event is None else "must be an object.")
    return {
        "name": _text(_get(event, "name", "event"), "event.name", _length(Event, "name"), True),
        "event_date": _date(_get(event, "event_date", "event"), "event.event_date"),
        "notes": _text(event.get("notes", ""), "event.notes", LONG_TEXT),
    }


def read_catalog(data: dict) -> list[tuple[Entity, list[Row]]]:
    """The catalog's values first, then the child rows, which may name any of them."""
    listed, rows = {}, {}
    for entity in CATALOG:
        listed[entity.label] = section(data, entity.source)
        rows[entity.label] = read_keyed_rows(entity, listed[entity.label])
    names = {label: {row.key for row in entity_rows} for label, entity_rows in rows.items()}
    return [
        (entity, read_parts(entity, listed[entity.label], rows[entity.label], names))
        for entity in CATALOG
    ]


def read_keyed_rows(entity: Entity, rows: list[Any]) -> list[Row]:
    """Rows found by their natural key, without their child rows. A list of bare objects (as
    another format's reader may pass) is placed by its entity's source."""
    placed = [
        row if isinstance(row, tuple) else (f"{entity.source}[{i}]", row)
        for i, row in enumerate(rows)
    ]
    result: list[Row] = []
    seen: dict[str, str] = {}
    for where, raw in placed:
        values = read_values(entity, raw, where)
        key = values[entity.key]
        if key.lower() in seen:  # names are unique ignoring case
            also = seen[key.lower()]
            raise fault(f"{where}.{entity.source_key}", f"{key!r} is listed twice (also {also}).")
        seen[key.lower()] = where
        result.append(Row(key, values))
    return result


def read_parts(
    entity: Entity, listed: list[tuple[str, dict]], rows: list[Row], names: dict[str, set[str]]
) -> list[Row]:
    parts = entity.parts
    if parts is None:
        return rows
    known = _Known(names, [])
    result = []
    for (where, raw), row in zip(listed, rows, strict=True):
        amounts: dict[str, int] = {}
        for place, part in section(raw, parts.source, where):
            at = f"{place}.{parts.part_key}"
            name = known.name(_get(part, parts.part_key, place), parts.entity, at)
            if name in amounts:
                raise fault(at, f"{name!r} is listed twice.")
            amount = _get(part, parts.amount, place)
            amounts[name] = _whole(amount, f"{place}.{parts.amount}", parts.limit)
        result.append(Row(row.key, row.values, amounts))
    return result


def read_recipients(rows: list[tuple[str, dict]], *, keyed: bool) -> list[Row]:
    """Recipients by the file's own reference: their names need not be unique. A file with
    keys gives each recipient one; two recipients with different keys are two people."""
    result: list[Row] = []
    refs: dict[str, str] = {}
    keys: dict[str, str] = {}
    for where, raw in rows:
        ref = _text(_get(raw, REFERENCE, where), f"{where}.{REFERENCE}", 200, name=True)
        if ref in refs:
            raise fault(f"{where}.{REFERENCE}", f"{ref!r} is listed twice (also {refs[ref]}).")
        refs[ref] = where
        if keyed:
            key = _text(_get(raw, KEY, where), f"{where}.{KEY}", 200, name=True)
            if key in keys:
                raise fault(f"{where}.{KEY}", f"{key!r} is listed twice (also {keys[key]}).")
            keys[key] = where
        result.append(Row(ref, read_values(RECIPIENTS, raw, where)))
    return result


def read_event_rows(
    spec: EventRows, rows: list[tuple[str, dict]], known: _Known
) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = []
    seen: dict[Any, str] = {}
    unique = next(f.name for f in spec.fields if f.kind == REF) if spec.one_per_item else None
    for where, raw in rows:
        values = read_values(spec, raw, where, known)
        if unique is not None:
            if values[unique] in seen:
                raise fault(
                    f"{where}.{unique}",
                    f"a second {spec.kind} for {values[unique]!r} (also {seen[values[unique]]}).",
                )
            seen[values[unique]] = where
        result.append(values)
    return result


def read_values(
    owner: Entity | EventRows, row: dict, where: str, known: _Known | None = None
) -> dict[str, Any]:
    """One row's values by model field, each held to its limit; `known` checks the names of
    REF and USER fields."""
    return {f.name: _READERS[f.kind](f, owner, row, where, known) for f in owner.fields}


def _field_length(f: Field, owner: Entity | EventRows) -> int:
    if isinstance(f.limit, int):
        return f.limit
    return _length(owner.model, f.name)


def _length(model: Any, name: str) -> int:
    return max_length(model, name) or LONG_TEXT


def _amount(f: Field) -> Whole:
    """The field's limit; a field described without one (another format's) is held to what
    a column holds."""
    if isinstance(f.limit, Whole):
        return f.limit
    return Whole(1 if f.kind == POSITIVE else 0, MAX_DB_INT)


# Each reader gets the field, the entity it belongs to, the row and the row's place.
_READERS: dict[str, Callable[[Field, Any, dict, str, Any], Any]] = {
    TEXT: lambda f, owner, row, where, known: _text(
        _get(row, f.key, where), f"{where}.{f.key}", _field_length(f, owner), f.name == "name"
    ),
    NOTE: lambda f, owner, row, where, known: _text(
        row.get(f.key, ""), f"{where}.{f.key}", _field_length(f, owner)
    ),
    POSITIVE: lambda f, owner, row, where, known: _whole(
        _get(row, f.key, where), f"{where}.{f.key}", _amount(f)
    ),
    COUNT: lambda f, owner, row, where, known: _whole(
        _get(row, f.key, where), f"{where}.{f.key}", _amount(f)
    ),
    MOMENT: lambda f, owner, row, where, known: _moment(row.get(f.key), f"{where}.{f.key}"),
    REF: lambda f, owner, row, where, known: known.name(
        _get(row, f.key, where), f.entity, f"{where}.{f.key}"
    ),
    USER: lambda f, owner, row, where, known: known.user(row.get(f.key), f"{where}.{f.key}"),
}


def read_assignments(
    rows: list[tuple[str, dict]], recipients: list[Row], known: _Known
) -> list[dict]:
    refs = {row.key for row in recipients}
    seen: dict[tuple[str, str], str] = {}
    return [_read_assignment(where, row, refs, seen, known) for where, row in rows]


def _read_assignment(
    where: str, row: dict, refs: set[str], seen: dict[tuple[str, str], str], known: _Known
) -> dict[str, Any]:
    ref = _get(row, "recipient", where)
    if not isinstance(ref, str) or ref not in refs:
        raise fault(f"{where}.recipient", f"no recipient with ref {ref!r} in the file.")
    package = known.name(_get(row, "package", where), PACKAGES, f"{where}.package")
    if (ref, package) in seen:
        raise fault(
            f"{where}.package",
            f"{ref} is given {package!r} twice in the event (also {seen[(ref, package)]}).",
        )
    seen[(ref, package)] = where
    status = _status(_get(row, "fulfillment_status", where), f"{where}.fulfillment_status")
    steps = section(row, "history")
    history = read_history(steps, status, where, known)
    return {
        "recipient": ref,
        "package": package,
        "quantity": _whole(_get(row, "quantity", where), f"{where}.quantity", ASSIGNMENT_QUANTITY),
        "notes": _text(row.get("notes", ""), f"{where}.notes", ASSIGNMENT_NOTES),
        "fulfillment_status": status,
        "status_changed_at": _moment(row.get("status_changed_at"), f"{where}.status_changed_at"),
        "history": history,
    }


def read_history(
    steps: list[tuple[str, dict]], status: str, where: str, known: _Known
) -> list[dict]:
    """The status changes of one assignment: single steps from pending to its status."""
    reached = FulfillmentStatus.PENDING.value
    history = []
    for place, step in steps:
        place = f"{where}.{place}"
        old = _status(_get(step, "from_status", place), f"{place}.from_status")
        new = _status(_get(step, "to_status", place), f"{place}.to_status")
        source = _get(step, "source", place)
        if source not in ChangeSource.values:
            raise fault(f"{place}.source", f"unknown source {source!r}.")
        if old != reached or not _is_step(old, new, source):
            raise fault(place, "the history is not a chain of single steps from pending.")
        history.append(
            {
                "from_status": old,
                "to_status": new,
                "changed_by": known.user(step.get("changed_by"), f"{place}.changed_by"),
                "changed_at": _moment(step.get("changed_at"), f"{place}.changed_at"),
                "source": source,
                "note": _text(_get(step, "note", place), f"{place}.note", LONG_TEXT),
            }
        )
        reached = new
    if reached != status:
        raise fault(
            f"{where}.fulfillment_status",
            f"the history ends at {reached}, the status is {status}.",
        )
    return history


def _is_step(old: str, new: str, source: Any) -> bool:
    """One status forward or back; an imported status arrives in one forward change, as the
    tool it came from kept no steps."""
    distance = STATUS_ORDER.index(new) - STATUS_ORDER.index(old)
    return abs(distance) == 1 or (source == ChangeSource.IMPORT and distance > 0)


def _get(row: dict, key: str, where: str) -> Any:
    if key not in row:
        raise fault(f"{where}.{key}", "is missing.")
    return row[key]


def _text(value: Any, where: str, limit: int, name: bool = False) -> str:
    problem = text_problem(value, limit, name=name)
    if problem is not None:
        raise fault(where, f"{problem}.")
    return value


def _whole(value: Any, where: str, limit: Whole) -> int:
    problem = limit.problem(value)
    if problem is not None:
        raise fault(where, f"{problem}.")
    return value


def _date(value: Any, where: str) -> datetime.date:
    try:
        parsed = parse_date(value) if isinstance(value, str) else None
    except ValueError:  # well formed, but no such day: 2030-02-30
        parsed = None
    if parsed is None:
        raise fault(where, f"must be a date written YYYY-MM-DD (got {value!r}).")
    return parsed


def _moment(value: Any, where: str) -> datetime.datetime:
    try:
        parsed = parse_datetime(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise fault(where, f"must be a date and time with a time zone (got {value!r}).")
    return parsed


def _status(value: Any, where: str) -> str:
    if value not in FulfillmentStatus.values:
        raise fault(where, f"unknown status {value!r}.")
    return value
