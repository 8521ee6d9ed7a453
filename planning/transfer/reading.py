"""Read and check a file written by export_event into a `Document`; no database access.

Everything is checked in the order the file is laid out and the first fault is reported, so
one broken file always gives the same message.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.dateparse import parse_date, parse_datetime

from eventplanner.domain import validate_non_negative_int, validate_positive_int, validate_text
from fulfillment.models import STATUS_ORDER, ChangeSource, FulfillmentStatus
from planning.transfer.mapping import (
    CATALOG,
    COUNT,
    EVENT_ROWS,
    FORMAT,
    MOMENT,
    NOTE,
    PACKAGES,
    POSITIVE,
    RECIPIENTS,
    REF,
    REFERENCE,
    TEXT,
    USER,
    VERSION,
    Document,
    Entity,
    EventPart,
    EventRows,
    Field,
    Row,
)


class _Known:
    """The names a row may refer to: catalog keys by entity label, and the listed users."""

    def __init__(self, names: dict[str, set[str]], users: list[str]) -> None:
        self.names = names
        self.users = users

    def user(self, username: Any, where: str) -> str | None:
        if username is None:
            return None
        if username not in self.users:
            raise ValidationError(f"{where}: user {username!r} is not listed in the file.")
        return username


def read_document(data: Any) -> Document:
    _check_format(data)
    event = read_event(data)
    catalog = read_catalog(data)
    names = {entity.label: {row.key for row in rows} for entity, rows in catalog}
    recipients = read_recipients(_need(data, RECIPIENTS.source, list, "file"))
    users = [validate_text(u, "users") for u in _need(data, "users", list, "file")]
    known = _Known(names, users)
    event_rows = [
        (spec, read_event_rows(spec, _need(data, spec.source, list, "file"), known))
        for spec in EVENT_ROWS
    ]
    assignments = read_assignments(_need(data, "assignments", list, "file"), recipients, known)
    return Document(
        users=users,
        catalog=[*catalog, (RECIPIENTS, recipients)],
        events=[EventPart(event, event_rows, assignments)],
    )


def _check_format(data: Any) -> None:
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValidationError(f"Not an event export (expected format {FORMAT!r}).")
    if data.get("version") != VERSION:
        raise ValidationError(f"Unsupported export version {data.get('version')!r}.")


def read_event(data: Any) -> dict[str, Any]:
    event = _need(data, "event", dict, "event")
    name = _need(event, "name", str, "event")
    event_date = parse_date(_need(event, "event_date", str, "event"))
    if event_date is None or not name.strip() or len(name) > 200:
        raise ValidationError("event: needs a name (at most 200 characters) and a date.")
    notes = validate_text(event.get("notes", ""), "event.notes")
    return {"name": name, "event_date": event_date, "notes": notes}


def read_catalog(data: Any) -> list[tuple[Entity, list[Row]]]:
    """The catalog's values first, then the child rows, which may name any of them."""
    listed, rows = {}, {}
    for entity in CATALOG:
        listed[entity.label] = _need(data, entity.source, list, "file")
        rows[entity.label] = read_keyed_rows(entity, listed[entity.label])
    names = {label: {row.key for row in entity_rows} for label, entity_rows in rows.items()}
    return [
        (entity, read_parts(entity, listed[entity.label], rows[entity.label], names))
        for entity in CATALOG
    ]


def read_keyed_rows(entity: Entity, rows: list[Any]) -> list[Row]:
    """Rows found by their natural key, without their child rows."""
    keys = [_need(row, entity.source_key, str, entity.kind) for row in rows]
    return [
        Row(key, read_values(entity.fields, row, f"{entity.kind} {key!r}"))
        for key, row in zip(keys, rows, strict=True)
    ]


def read_parts(
    entity: Entity, listed: list[Any], rows: list[Row], names: dict[str, set[str]]
) -> list[Row]:
    parts = entity.parts
    if parts is None:
        return rows
    result = []
    for raw, row in zip(listed, rows, strict=True):
        where = f"{entity.kind} {row.key!r}"
        amounts = {}
        for part in _need(raw, parts.source, list, where):
            name = _need(part, parts.part_key, str, where)
            if name not in names[parts.entity]:
                raise ValidationError(f"{where}: {name!r} is not in the file.")
            amounts[name] = _need(part, parts.amount, int, where)
        result.append(Row(row.key, row.values, amounts))
    return result


def read_recipients(rows: list[Any]) -> list[Row]:
    """Recipients by the file's own reference: their names need not be unique."""
    result = []
    for row in rows:
        ref = _need(row, REFERENCE, str, RECIPIENTS.kind)
        result.append(Row(ref, read_values(RECIPIENTS.fields, row, f"{RECIPIENTS.kind} {ref}")))
    return result


def read_event_rows(spec: EventRows, rows: list[Any], known: _Known) -> list[dict[str, Any]]:
    return [read_values(spec.fields, row, spec.kind, known) for row in rows]


def read_values(
    fields: tuple[Field, ...], row: Any, where: str, known: _Known | None = None
) -> dict[str, Any]:
    """One row's values by model field; `known` checks the names of REF and USER fields."""
    return {f.name: _READERS[f.kind](f, row, where, known) for f in fields}


_READERS: dict[str, Callable[[Field, Any, str, Any], Any]] = {
    TEXT: lambda f, row, where, known: _need(row, f.key, str, where),
    POSITIVE: lambda f, row, where, known: _need(row, f.key, int, where),
    COUNT: lambda f, row, where, known: validate_non_negative_int(row.get(f.key), f.key),
    MOMENT: lambda f, row, where, known: _moment(row.get(f.key), where),
    NOTE: lambda f, row, where, known: validate_text(row.get(f.key, ""), f"{where} {f.key}"),
    REF: lambda f, row, where, known: _check_name(row, f.key, known.names[f.entity]),
    USER: lambda f, row, where, known: known.user(row.get(f.key), where),
}


def read_assignments(rows: list[Any], recipients: list[Row], known: _Known) -> list[dict]:
    refs = {row.key for row in recipients}
    seen: set[tuple[str, str]] = set()
    return [_read_assignment(row, refs, seen, known) for row in rows]


def _read_assignment(
    row: Any, refs: set[str], seen: set[tuple[str, str]], known: _Known
) -> dict[str, Any]:
    ref = _need(row, "recipient", str, "assignment")
    if ref not in refs:
        raise ValidationError(f"assignment: recipient {ref!r} is not in the file.")
    package = _check_name(row, "package", known.names[PACKAGES.label])
    if (ref, package) in seen:
        raise ValidationError(f"assignment: {ref} has package {package!r} twice.")
    seen.add((ref, package))
    status = _status(row.get("fulfillment_status"), "assignment")
    steps = _need(row, "history", list, "assignment")
    history = read_history(steps, status, f"assignment of {package!r} to {ref}", known)
    return {
        "recipient": ref,
        "package": package,
        "quantity": _need(row, "quantity", int, "assignment"),
        "notes": validate_text(row.get("notes", ""), "assignment notes"),
        "fulfillment_status": status,
        "status_changed_at": _moment(row.get("status_changed_at"), "assignment"),
        "history": history,
    }


def read_history(steps: list[Any], status: str, where: str, known: _Known) -> list[dict]:
    """The status changes of one assignment: single steps from pending to its status."""
    _check_history(steps, status, where)
    for step in steps:
        known.user(step.get("changed_by"), "history")
    return [
        {
            "from_status": step["from_status"],
            "to_status": step["to_status"],
            "changed_by": step.get("changed_by"),
            "changed_at": _moment(step["changed_at"], "history"),
            "source": step["source"],
            "note": step["note"],
        }
        for step in steps
    ]


def _check_history(steps: list[Any], status: str, where: str) -> None:
    reached = FulfillmentStatus.PENDING.value
    for step in steps:
        old, new = _status(step.get("from_status"), where), _status(step.get("to_status"), where)
        if old != reached or not _is_step(old, new, step.get("source")):
            raise ValidationError(f"{where}: the history is not a chain of single steps.")
        if step.get("source") not in ChangeSource.values:
            raise ValidationError(f"{where}: unknown source {step.get('source')!r}.")
        validate_text(step.get("note"), f"{where}.note")
        _moment(step.get("changed_at"), where)
        reached = new
    if reached != status:
        raise ValidationError(f"{where}: the history ends at {reached}, the status is {status}.")


def _is_step(old: str, new: str, source: Any) -> bool:
    """One status forward or back; an imported status arrives in one forward change, as the
    tool it came from kept no steps."""
    distance = STATUS_ORDER.index(new) - STATUS_ORDER.index(old)
    return abs(distance) == 1 or (source == ChangeSource.IMPORT and distance > 0)


def _need(data: Any, key: str, kind: type, where: str) -> Any:
    if not isinstance(data, dict) or key not in data:
        raise ValidationError(f"{where}: '{key}' is missing.")
    value = data[key]
    if kind is int:
        return validate_positive_int(value, f"{where}.{key}")
    if not isinstance(value, kind):
        raise ValidationError(f"{where}: '{key}' must be {kind.__name__}.")
    return value


def _check_name(row: Any, key: str, names: set[str]) -> str:
    value = _need(row, key, str, key.replace("_", " "))
    if value not in names:
        raise ValidationError(f"{key.replace('_', ' ')} {value!r} is not in the file.")
    return value


def _moment(value: Any, where: str) -> datetime.datetime:
    parsed = parse_datetime(value) if isinstance(value, str) else None
    if parsed is None or parsed.tzinfo is None:
        raise ValidationError(f"{where}: {value!r} is not a date and time with a time zone.")
    return parsed


def _status(value: Any, where: str) -> str:
    if value not in FulfillmentStatus.values:
        raise ValidationError(f"{where}: unknown status {value!r}.")
    return value
