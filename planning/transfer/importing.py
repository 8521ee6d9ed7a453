"""Import an event: read the file, plan against this database, then write.

The plan resolves every natural key against the database and lists every conflict without
writing anything; the write step only creates what the plan found missing. Both work from
a `Document` and the entity descriptions of mapping.py, whatever format the file was in.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Model

from eventplanner.domain import DomainError, require_atomic
from fulfillment.models import EventRecipientPackage, FulfillmentStatusChange
from planning.models import Event
from planning.transfer.mapping import (
    PACKAGES,
    RECIPIENTS,
    USERS,
    Document,
    Entity,
    EventRows,
    Row,
)
from planning.transfer.reading import read_document

EVENT_EXISTS = "An event called {name!r} on {date} already exists; nothing was imported."
CATALOG_DIFFERS = (
    "{kind} {name!r} exists with different {fields} ({theirs} here, {ours} in the file)."
)
PARTS_DIFFER = "{kind} {name!r} exists with different {parts} ({theirs} here, {ours} in the file)."
CONFLICTS = "Nothing was imported, the file conflicts with this database: {details}"


class ImportConflict(DomainError):
    """The file cannot be imported into this database as it is."""


@dataclass
class ImportResult:
    event: Event
    created: dict[str, int] = field(default_factory=dict)
    reused: dict[str, int] = field(default_factory=dict)
    placeholder_users: list[str] = field(default_factory=list)


def import_event(data: Any, *, connection: BaseDatabaseWrapper) -> ImportResult:
    """Create the event of an export_event() file, reusing identical catalog rows.

    Refused with ImportConflict (nothing written) when the event already exists or a
    recipe, finished good or package of the same name differs; with ValidationError when
    the file is malformed. Users the file names but this database lacks are created
    inactive and without a usable password, so the record of who did what is kept.
    """
    require_atomic(connection, "import_event")
    plan = plan_import(read_document(data), connection.alias)
    if plan.conflicts:
        raise ImportConflict(CONFLICTS.format(details=" ".join(plan.conflicts)), code="conflict")
    return write_import(plan, connection.alias)


# ---------------------------------------------------------------------------------------
# Plan: resolve against the database, list the conflicts, write nothing
# ---------------------------------------------------------------------------------------


@dataclass
class Resolved:
    """One entity of the file against this database."""

    entity: Entity
    rows: list[Row]
    existing: dict[str, Model]  # rows here with a key of the file, by key

    @property
    def wanted(self) -> dict[str, Row]:
        # A key listed twice keeps its first place and its last values.
        return {row.key: row for row in self.rows}


@dataclass
class Plan:
    document: Document
    catalog: list[Resolved]
    users: dict[str, Any]  # the file's users that exist here, by username
    conflicts: list[str]


def plan_import(document: Document, alias: str) -> Plan:
    catalog = [resolve(entity, rows, alias) for entity, rows in document.catalog]
    keys = {entity.label: entity.key for entity, _ in document.catalog}
    conflicts = [
        *event_conflicts(document.event, alias),
        *(c for resolved in catalog for c in value_conflicts(resolved)),
        *(c for resolved in catalog for c in parts_conflicts(resolved, keys, alias)),
    ]
    return Plan(document, catalog, existing_users(document.users, alias), conflicts)


def event_conflicts(event: dict[str, Any], alias: str) -> list[str]:
    name, event_date = event["name"], event["event_date"]
    if Event.objects.using(alias).filter(name=name, event_date=event_date).exists():
        return [EVENT_EXISTS.format(name=name, date=event_date.isoformat())]
    return []


def resolve(entity: Entity, rows: list[Row], alias: str) -> Resolved:
    """Find the rows here with the file's natural keys. Rows without one are matched as
    they are written, so that two identical ones in the file become one row."""
    if not entity.key:
        return Resolved(entity, rows, {})
    found = entity.model._default_manager.using(alias).filter(
        **{f"{entity.key}__in": [row.key for row in rows]}
    )
    return Resolved(entity, rows, {getattr(o, entity.key): o for o in found})


def value_conflicts(resolved: Resolved) -> Iterable[str]:
    for row in resolved.rows:
        here = resolved.existing.get(row.key)
        if here is None:
            continue
        differ = [name for name, value in row.values.items() if getattr(here, name) != value]
        if differ:
            yield CATALOG_DIFFERS.format(
                kind=resolved.entity.kind.capitalize(),
                name=row.key,
                fields=", ".join(differ),
                theirs=", ".join(repr(getattr(here, name)) for name in differ),
                ours=", ".join(repr(row.values[name]) for name in differ),
            )


def parts_conflicts(resolved: Resolved, keys: dict[str, str], alias: str) -> Iterable[str]:
    """A reused row must have the same child rows as the file lists for it."""
    entity, parts = resolved.entity, resolved.entity.parts
    if parts is None:
        return
    for row in resolved.rows:
        if row.key not in resolved.existing:
            continue
        here = dict(
            parts.model._default_manager.using(alias)
            .filter(**{f"{parts.owner}__{entity.key}": row.key})
            .values_list(f"{parts.part}__{keys[parts.entity]}", parts.amount)
        )
        if here != row.parts:
            yield PARTS_DIFFER.format(
                kind=entity.kind.capitalize(),
                name=row.key,
                parts=parts.source,
                theirs=here,
                ours=row.parts,
            )


def existing_users(usernames: list[str], alias: str) -> dict[str, Any]:
    user_model = get_user_model()
    found = user_model._default_manager.db_manager(alias).filter(
        **{f"{user_model.USERNAME_FIELD}__in": usernames}
    )
    return {user.get_username(): user for user in found}


# ---------------------------------------------------------------------------------------
# Write: create what the plan found missing, then the event and its rows
# ---------------------------------------------------------------------------------------


def write_import(plan: Plan, alias: str) -> ImportResult:
    document = plan.document
    result = ImportResult(event=Event(**document.event))
    written: dict[str, dict[str, Any]] = {
        USERS: ensure_users(document.users, plan.users, alias, result)
    }
    for resolved in plan.catalog:
        written[resolved.entity.label] = ensure_rows(resolved, alias, result)
    for resolved in plan.catalog:
        write_parts(resolved, written, alias)
    event = result.event
    event.save(using=alias)
    for spec, rows in document.event_rows:
        result.created[spec.label] = write_event_rows(spec, rows, event, written, alias)
    history = write_assignments(document.assignments, event, written, alias)
    result.created["assignments"] = len(document.assignments)
    result.created["status changes"] = history
    return result


def _count(counts: dict[str, int], label: str) -> None:
    counts[label] = counts.get(label, 0) + 1


def ensure_users(
    usernames: list[str], existing: dict[str, Any], alias: str, result: ImportResult
) -> dict[str, Any]:
    """The file's users; the missing ones are created inactive and unable to log in."""
    user_model = get_user_model()
    users = dict(existing)
    for username in usernames:
        if username not in users:
            placeholder = user_model(**{user_model.USERNAME_FIELD: username}, is_active=False)
            placeholder.set_unusable_password()
            placeholder.save(using=alias)
            users[username] = placeholder
            result.placeholder_users.append(username)
    return users


def ensure_rows(resolved: Resolved, alias: str, result: ImportResult) -> dict[str, Model]:
    """The entity's rows by key: those found here, and the others created."""
    entity = resolved.entity
    rows = dict(resolved.existing)
    for key, row in resolved.wanted.items():
        found = rows.get(key) or _matching_row(entity, row, alias)
        if found is None:
            rows[key] = entity.model(**row.values)
            rows[key].save(using=alias)
            _count(result.created, entity.label)
        else:
            rows[key] = found
            _count(result.reused, entity.label)
    return rows


def _matching_row(entity: Entity, row: Row, alias: str) -> Model | None:
    if entity.key:
        return None
    return entity.model._default_manager.using(alias).filter(**row.values).order_by("pk").first()


def write_parts(resolved: Resolved, written: dict[str, dict[str, Any]], alias: str) -> None:
    """Child rows of the created rows only: a reused row already has the same ones."""
    parts = resolved.entity.parts
    if parts is None:
        return
    owners, named = written[resolved.entity.label], written[parts.entity]
    parts.model._default_manager.using(alias).bulk_create(
        parts.model(**{parts.owner: owners[key], parts.part: named[part], parts.amount: amount})
        for key, row in resolved.wanted.items()
        if key not in resolved.existing
        for part, amount in row.parts.items()
    )


def write_event_rows(
    spec: EventRows,
    rows: list[dict[str, Any]],
    event: Event,
    written: dict[str, dict[str, Any]],
    alias: str,
) -> int:
    spec.model._default_manager.using(alias).bulk_create(
        spec.model(event=event, **{**row, **_named(spec, row, written)}) for row in rows
    )
    return len(rows)


def _named(spec: EventRows, row: dict[str, Any], written: dict[str, dict[str, Any]]) -> dict:
    """The rows a row's references name, in place of their keys."""
    return {f.name: written[f.entity].get(row[f.name]) for f in spec.fields if f.entity}


def write_assignments(
    assignments: list[dict[str, Any]],
    event: Event,
    written: dict[str, dict[str, Any]],
    alias: str,
) -> int:
    """The assignments one by one (their history needs their ids); the number of changes."""
    history = []
    for row in assignments:
        assignment = EventRecipientPackage(
            event=event,
            recipient=written[RECIPIENTS.label][row["recipient"]],
            package=written[PACKAGES.label][row["package"]],
            quantity=row["quantity"],
            notes=row["notes"],
            fulfillment_status=row["fulfillment_status"],
            status_changed_at=row["status_changed_at"],
        )
        assignment.save(using=alias)
        history += [
            FulfillmentStatusChange(
                assignment=assignment,
                **{**step, "changed_by": written[USERS].get(step["changed_by"])},
            )
            for step in row["history"]
        ]
    FulfillmentStatusChange.objects.using(alias).bulk_create(history)
    return len(history)
