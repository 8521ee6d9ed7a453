"""Export one event, and every catalog row and user it refers to, as a JSON-ready dict."""

from __future__ import annotations

import datetime
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Model

from eventplanner.domain import require_atomic, validate_id
from fulfillment.models import EventRecipientPackage, FulfillmentStatusChange
from planning.models import Event
from planning.transfer.alike import alike_ranks, stable_keys
from planning.transfer.mapping import (
    CATALOG,
    EVENT_ROWS,
    FORMAT,
    KEY,
    MOMENT,
    PACKAGES,
    RECIPIENTS,
    REF,
    REFERENCE,
    USER,
    VERSION,
    Entity,
    EventRows,
    Field,
    Parts,
)

_KEYS = {entity.label: entity.key for entity in CATALOG}


def export_event(event_id: int, *, connection: BaseDatabaseWrapper) -> dict[str, Any]:
    """The event, its targets, runs, assignments with their status history, and the
    recipes, finished goods, packages, recipients and users they refer to."""
    require_atomic(connection, "export_event")
    validate_id(event_id, "event_id")
    db = connection.alias
    event = Event.objects.using(db).get(pk=event_id)
    event_rows = {spec: load_event_rows(spec, event, db) for spec in EVENT_ROWS}
    assignments = load_assignments(event, db)
    history = load_history(event, db)
    catalog = load_catalog(event_rows, assignments, db)
    references = recipient_references(assignments)
    keys = stable_keys(references, alike_ranks(list(references), db))
    return {
        "format": FORMAT,
        "version": VERSION,
        "event": {
            "name": event.name,
            "event_date": event.event_date.isoformat(),
            "notes": event.notes,
        },
        "users": users_named(event_rows, history),
        **{entity.source: [catalog_row(entity, o) for o in catalog[entity]] for entity in CATALOG},
        RECIPIENTS.source: [
            {REFERENCE: ref, KEY: keys[recipient], **_values(RECIPIENTS.fields, recipient)}
            for recipient, ref in references.items()
        ],
        **{
            spec.source: [_values(spec.fields, o) for o in rows]
            for spec, rows in event_rows.items()
        },
        "assignments": [
            assignment_row(a, references[a.recipient], history.get(a.pk, [])) for a in assignments
        ],
    }


def load_event_rows(spec: EventRows, event: Event, db: str) -> list[Model]:
    return list(
        spec.model._default_manager.using(db)
        .filter(event=event)
        .select_related(*spec.related)
        .order_by(*spec.order)
    )


def load_assignments(event: Event, db: str) -> list[EventRecipientPackage]:
    return list(
        EventRecipientPackage.objects.using(db)
        .filter(event=event)
        .select_related("recipient", "package")
        .order_by(
            "recipient__name",
            "recipient__household",
            "recipient__address",
            "recipient__notes",
            "package__name",
            "id",
        )
    )


def load_history(event: Event, db: str) -> dict[int, list[FulfillmentStatusChange]]:
    history: dict[int, list[FulfillmentStatusChange]] = {}
    for change in (
        FulfillmentStatusChange.objects.using(db)
        .filter(assignment__event=event)
        .select_related("changed_by")
        .order_by("changed_at", "id")
    ):
        history.setdefault(change.assignment_id, []).append(change)
    return history


def load_catalog(
    event_rows: dict[EventRows, list[Model]],
    assignments: list[EventRecipientPackage],
    db: str,
) -> dict[Entity, list[Model]]:
    """The catalog rows the event's rows name, and the rows those name in turn."""
    wanted = _named_by_event(event_rows, assignments)
    catalog = {}
    for entity in reversed(CATALOG):
        catalog[entity] = _load_entity(entity, wanted[entity.label], db)
        if entity.parts is not None:
            wanted[entity.parts.entity] |= _named_by_parts(entity.parts, catalog[entity])
    return catalog


def _named_by_event(
    event_rows: dict[EventRows, list[Model]], assignments: list[EventRecipientPackage]
) -> dict[str, set[int]]:
    wanted: dict[str, set[int]] = {entity.label: set() for entity in CATALOG}
    for spec, rows in event_rows.items():
        for f in spec.fields:
            if f.kind == REF:
                wanted[f.entity] |= {getattr(row, f"{f.name}_id") for row in rows}
    wanted[PACKAGES.label] |= {a.package_id for a in assignments}
    return wanted


def _named_by_parts(parts: Parts, rows: list[Model]) -> set[int]:
    return {
        getattr(child, f"{parts.part}_id")
        for row in rows
        for child in getattr(row, parts.accessor).all()
    }


def _load_entity(entity: Entity, ids: set[int], db: str) -> list[Model]:
    rows = entity.model._default_manager.using(db).filter(pk__in=ids)
    if entity.parts is not None:
        rows = rows.prefetch_related(f"{entity.parts.accessor}__{entity.parts.part}")
    return list(rows.order_by(entity.key))


def recipient_references(assignments: list[EventRecipientPackage]) -> dict[Model, str]:
    """A reference local to the file for each recipient, in the order of the assignments:
    recipients are not unique by name, and database ids mean nothing elsewhere."""
    references: dict[Model, str] = {}
    for assignment in assignments:
        if assignment.recipient not in references:
            references[assignment.recipient] = f"recipient-{len(references) + 1}"
    return references


def users_named(
    event_rows: dict[EventRows, list[Model]], history: dict[int, list[FulfillmentStatusChange]]
) -> list[str]:
    actors = {
        _username(getattr(row, f.name))
        for spec, rows in event_rows.items()
        for f in spec.fields
        if f.kind == USER
        for row in rows
    }
    actors |= {_username(c.changed_by) for changes in history.values() for c in changes}
    return sorted(actor for actor in actors if actor is not None)


def catalog_row(entity: Entity, row: Model) -> dict[str, Any]:
    values = _values(entity.fields, row)
    parts = entity.parts
    if parts is not None:
        name = _KEYS[parts.entity]
        values[parts.source] = sorted(
            (
                {
                    parts.part_key: getattr(getattr(child, parts.part), name),
                    parts.amount: getattr(child, parts.amount),
                }
                for child in getattr(row, parts.accessor).all()
            ),
            key=lambda child: child[parts.part_key],
        )
    return values


def assignment_row(
    assignment: EventRecipientPackage, reference: str, history: list[FulfillmentStatusChange]
) -> dict[str, Any]:
    return {
        "recipient": reference,
        "package": assignment.package.name,
        "quantity": assignment.quantity,
        "notes": assignment.notes,
        "fulfillment_status": assignment.fulfillment_status,
        "status_changed_at": _moment(assignment.status_changed_at),
        "history": [
            {
                "from_status": change.from_status,
                "to_status": change.to_status,
                "changed_by": _username(change.changed_by),
                "changed_at": _moment(change.changed_at),
                "source": change.source,
                "note": change.note,
            }
            for change in history
        ],
    }


def _values(fields: tuple[Field, ...], row: Model) -> dict[str, Any]:
    return {f.key: _value(f, getattr(row, f.name)) for f in fields}


def _value(f: Field, value: Any) -> Any:
    if f.kind == REF:
        return getattr(value, _KEYS[f.entity])
    if f.kind == USER:
        return _username(value)
    if f.kind == MOMENT:
        return _moment(value)
    return value


def _moment(value: datetime.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _username(user: Any) -> str | None:
    return user.get_username() if user is not None else None
