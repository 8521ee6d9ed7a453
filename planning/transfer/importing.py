"""Import a file: read it, plan against this database, then write.

The plan resolves every natural key against the database, decides for every row of the
file whether it is created or reused, and lists every conflict, without writing anything;
the write step only creates what the plan found missing. So what the plan counts is what
the write will do, and a dry run is the plan alone. Both work from a `Document` and the
entity descriptions of mapping.py, whatever format the file was in.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Model
from django.db.models.functions import Lower

from eventplanner.domain import DomainError, require_atomic
from fulfillment.models import EventRecipientPackage, FulfillmentStatusChange
from planning.models import Event
from planning.transfer.mapping import (
    PACKAGES,
    RECIPIENTS,
    USERS,
    Conflict,
    Document,
    Entity,
    EventPart,
    EventRows,
    Row,
)
from planning.transfer.matching import (
    ASSIGNMENTS,
    STATUS_CHANGES,
    Lookup,
    PlannedEvent,
    add_count,
    plan_event,
)
from planning.transfer.reading import read_document

EVENT_EXISTS = "An event called {name!r} on {date} already exists; nothing was imported."
CATALOG_DIFFERS = (
    "{kind} {name!r} exists with different {fields} ({theirs} here, {ours} in the file)."
)
PARTS_DIFFER = "{kind} {name!r} exists with different {parts} ({theirs} here, {ours} in the file)."
CONFLICTS = "Nothing was imported, the file conflicts with this database: {details}"
EVENTS = "events"


class ImportConflict(DomainError):
    """The file cannot be imported into this database as it is."""


@dataclass
class ImportResult:
    event: Event | None = None  # the first event created: the event of an event export
    events: list[Event] = field(default_factory=list)  # the events created
    reused_events: list[Event] = field(default_factory=list)
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
    refuse_conflicts(plan)
    return write_import(plan, connection.alias)


def refuse_conflicts(plan: Plan, advice: str = "") -> None:
    """Refuse the import when the plan lists conflicts; `advice` says what the user can do."""
    if plan.conflicts:
        message = CONFLICTS.format(details=" ".join(plan.conflicts))
        raise ImportConflict(f"{message} {advice}".strip(), code="conflict")


# ---------------------------------------------------------------------------------------
# Plan: resolve against the database, list the conflicts, write nothing
# ---------------------------------------------------------------------------------------


@dataclass
class Resolved:
    """One entity of the file against this database."""

    entity: Entity
    rows: list[Row]
    existing: dict[str, Model]  # rows here for keys of the file, by the file's key

    @property
    def wanted(self) -> dict[str, Row]:
        # A key listed twice keeps its first place and its last values.
        return {row.key: row for row in self.rows}

    def new_rows(self) -> list[Row]:
        """The rows the write creates: those not found here. Rows without a natural key are
        never merged: two alike recipients of a file are two people (a key-less file's
        reader has merged those it takes for one, see alike.py)."""
        return [row for key, row in self.wanted.items() if key not in self.existing]


@dataclass
class Plan:
    document: Document
    catalog: list[Resolved]
    users: dict[str, Any]  # the file's users that exist here, by username
    conflicts: list[Conflict]
    events: list[PlannedEvent] = field(default_factory=list)

    def counts(self) -> tuple[dict[str, int], dict[str, int]]:
        """What the write will create and reuse, by entity label."""
        created: dict[str, int] = {}
        reused: dict[str, int] = {}
        for resolved in self.catalog:
            new = len(resolved.new_rows())
            add_count(created, resolved.entity.label, new)
            add_count(reused, resolved.entity.label, len(resolved.wanted) - new)
        for planned in self.events:
            if planned.part.event is not None:
                add_count(reused if planned.existing else created, EVENTS, 1)
            for spec, rows in planned.rows:
                add_count(created, spec.label, len(rows))
            for label, n in planned.reused.items():
                add_count(reused, label, n)
            add_count(created, ASSIGNMENTS, len(planned.assignments))
            add_count(created, STATUS_CHANGES, sum(len(a["history"]) for a in planned.assignments))
        return created, reused


def plan_import(document: Document, alias: str) -> Plan:
    catalog = [resolve(entity, rows, alias) for entity, rows in document.catalog]
    keys = {entity.label: entity.key for entity, _ in document.catalog}
    recipients = next(rows for entity, rows in document.catalog if entity is RECIPIENTS)
    lookup = Lookup(
        found={resolved.entity.label: resolved.existing for resolved in catalog},
        keys=keys,
        recipient_names={row.key: row.values["name"] for row in recipients},
        alias=alias,
    )
    planned = [plan_event(part, document.reuse_events, lookup) for part in document.events]
    refused = [] if document.reuse_events else document.events
    conflicts = [
        *(c for part in refused for c in event_conflicts(part, alias)),
        *(c for p in planned for c in p.conflicts),
        *(c for resolved in catalog for c in value_conflicts(resolved)),
        *(c for resolved in catalog for c in parts_conflicts(resolved, keys, alias)),
    ]
    return Plan(document, catalog, existing_users(document.users, alias), conflicts, planned)


def event_conflicts(part: EventPart, alias: str) -> list[Conflict]:
    if part.event is None:
        return []
    name, event_date = part.event["name"], part.event["event_date"]
    if Event.objects.using(alias).filter(name=name, event_date=event_date).exists():
        return [Conflict(EVENT_EXISTS.format(name=name, date=event_date.isoformat()), EVENTS)]
    return []


def resolve(entity: Entity, rows: list[Row], alias: str) -> Resolved:
    """Find the rows here with the file's natural keys, ignoring case as the unique names
    do ("Stollen" here and "stollen" in the file are one name that differs). Rows without
    a natural key are matched on all their values."""
    if not entity.key:
        return Resolved(entity, rows, _matching_rows(entity, rows, alias))
    found = (
        entity.model._default_manager.using(alias)
        .annotate(natural_key_lower=Lower(entity.key))
        .filter(natural_key_lower__in={row.key.lower() for row in rows})
    )
    by_key = {getattr(o, entity.key).lower(): o for o in found}
    existing = {row.key: by_key[row.key.lower()] for row in rows if row.key.lower() in by_key}
    return Resolved(entity, rows, existing)


def _matching_rows(entity: Entity, rows: list[Row], alias: str) -> dict[str, Model]:
    """For each row of the file, a row here with all the same values that no earlier row of
    the file took: the k-th of alike rows of the file is the k-th alike row here, oldest
    first, and is created when there are fewer here."""
    first = entity.fields[0].name
    candidates = list(
        entity.model._default_manager.using(alias)
        .filter(**{f"{first}__in": {row.values[first] for row in rows}})
        .order_by("pk")
    )
    matches: dict[str, Model] = {}
    taken: set[int] = set()
    for row in rows:
        here = next(
            (
                o
                for o in candidates
                if o.pk not in taken and all(getattr(o, n) == v for n, v in row.values.items())
            ),
            None,
        )
        if here is not None:
            matches[row.key] = here
            taken.add(here.pk)
    return matches


def value_conflicts(resolved: Resolved) -> Iterable[Conflict]:
    if not resolved.entity.key:
        return
    for row in resolved.rows:
        here = resolved.existing.get(row.key)
        if here is None:
            continue
        differ = [name for name, value in row.values.items() if getattr(here, name) != value]
        if differ:
            yield Conflict(
                CATALOG_DIFFERS.format(
                    kind=resolved.entity.kind.capitalize(),
                    name=row.key,
                    fields=", ".join(differ),
                    theirs=", ".join(repr(getattr(here, name)) for name in differ),
                    ours=", ".join(repr(row.values[name]) for name in differ),
                ),
                resolved.entity.label,
                row.key,
            )


def parts_conflicts(resolved: Resolved, keys: dict[str, str], alias: str) -> Iterable[Conflict]:
    """A reused row must have the same child rows as the file lists for it."""
    entity, parts = resolved.entity, resolved.entity.parts
    if parts is None:
        return
    for row in resolved.rows:
        owner = resolved.existing.get(row.key)
        if owner is None:
            continue
        here = dict(
            parts.model._default_manager.using(alias)
            .filter(**{parts.owner: owner})
            .values_list(f"{parts.part}__{keys[parts.entity]}", parts.amount)
        )
        if here != row.parts:
            yield Conflict(
                PARTS_DIFFER.format(
                    kind=entity.kind.capitalize(),
                    name=row.key,
                    parts=parts.source,
                    theirs=here,
                    ours=row.parts,
                ),
                entity.label,
                row.key,
            )


def existing_users(usernames: list[str], alias: str) -> dict[str, Any]:
    user_model = get_user_model()
    found = user_model._default_manager.db_manager(alias).filter(
        **{f"{user_model.USERNAME_FIELD}__in": usernames}
    )
    return {user.get_username(): user for user in found}


# ---------------------------------------------------------------------------------------
# Write: create what the plan found missing, then the events and their rows
# ---------------------------------------------------------------------------------------


def write_import(plan: Plan, alias: str) -> ImportResult:
    document = plan.document
    result = ImportResult()
    written: dict[str, dict[str, Any]] = {
        USERS: ensure_users(document.users, plan.users, alias, result)
    }
    for resolved in plan.catalog:
        written[resolved.entity.label] = ensure_rows(resolved, alias, result)
    for resolved in plan.catalog:
        write_parts(resolved, written, alias)
    for planned in plan.events:
        write_event(planned, written, alias, result)
    result.event = result.events[0] if result.events else None
    return result


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
        found = rows.get(key)
        if found is None:
            rows[key] = entity.model(**row.values)
            rows[key].save(using=alias)
            add_count(result.created, entity.label, 1)
        else:
            rows[key] = found
            add_count(result.reused, entity.label, 1)
    return rows


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


def write_event(
    planned: PlannedEvent, written: dict[str, dict[str, Any]], alias: str, result: ImportResult
) -> None:
    """The event (unless it is reused) and the rows the plan found missing."""
    event = planned.existing
    if event is not None:
        result.reused_events.append(event)
    elif planned.part.event is not None:
        event = Event(**planned.part.event)
        event.save(using=alias)
        result.events.append(event)
    for spec, rows in planned.rows:
        add_count(result.created, spec.label, write_event_rows(spec, rows, event, written, alias))
    for label, n in planned.reused.items():
        add_count(result.reused, label, n)
    history = write_assignments(planned.assignments, event, written, alias)
    add_count(result.created, ASSIGNMENTS, len(planned.assignments))
    add_count(result.created, STATUS_CHANGES, history)


def write_event_rows(
    spec: EventRows,
    rows: list[dict[str, Any]],
    event: Event | None,
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
    event: Event | None,
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
