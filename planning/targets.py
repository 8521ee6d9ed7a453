"""An event's production and assembly targets: set (an upsert), list and delete, one
implementation for both kinds (planning/kinds.py). Public functions follow the service
contract (README, "Transactions").
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import QuerySet
from django.utils import timezone

from eventplanner.domain import (
    concrete_field,
    instance_from_row,
    require_atomic,
    require_exists,
    validate_id,
    validate_positive_int,
    validate_text,
)
from planning.kinds import ASSEMBLY, PRODUCTION, TargetKind
from planning.models import Event, EventAssemblyTarget, EventProductionTarget


def _item_of_event(
    kind: TargetKind, event_id: int, item_id: int, connection: BaseDatabaseWrapper
) -> Any:
    """The item, loaded, once the event and the item are known to exist; the event is
    checked first. One statement for both on the normal path, written once per kind and
    database: on a write of two statements, building this query with the ORM took longer than
    the database took to answer it."""
    validate_id(event_id, "event_id")
    validate_id(item_id, kind.item_id_field)
    with connection.cursor() as cursor:
        cursor.execute(_item_sql(kind, connection.alias), [event_id, item_id])
        row = cursor.fetchone()
    if row is None:
        require_exists(Event, event_id, "event_id", connection=connection)
        name = str(kind.item_model._meta.verbose_name).capitalize()
        raise kind.item_model.DoesNotExist(f"{name} {item_id} does not exist.")
    if not row[-1]:
        raise Event.DoesNotExist(f"Event {event_id} does not exist.")
    return instance_from_row(kind.item_model, row, connection=connection)


@cache
def _item_sql(kind: TargetKind, alias: str) -> str:
    """The item's row and whether the event exists: SELECT item.*, EXISTS (event); on
    PostgreSQL the two rows, locked."""
    database = connections[alias]
    qn = database.ops.quote_name
    item, event = kind.item_model._meta, Event._meta
    columns = ", ".join(f"i.{qn(field.column)}" for field in item.concrete_fields)
    if database.vendor == "postgresql":
        # Both rows locked FOR KEY SHARE until commit (see lock_referenced): a delete of the
        # event or the item waits for this write or makes it find nothing, never a foreign
        # key error at commit. No row when either is missing; the caller says which.
        return (
            f"SELECT {columns}, TRUE FROM {qn(item.db_table)} i, {qn(event.db_table)} e "
            f"WHERE e.{qn(event.pk.column)} = %s AND i.{qn(item.pk.column)} = %s "
            "FOR KEY SHARE"
        )
    return (
        f"SELECT {columns}, EXISTS (SELECT 1 FROM {qn(event.db_table)} "
        f"WHERE {qn(event.pk.column)} = %s) FROM {qn(item.db_table)} i "
        f"WHERE i.{qn(item.pk.column)} = %s"
    )


@cache
def _upsert_sql(kind: TargetKind, alias: str, with_notes: bool) -> str:
    """INSERT ... ON CONFLICT (event, item) DO UPDATE ... RETURNING the whole row.

    Two concurrent first writes end with one row and no IntegrityError (which would abort
    the caller's transaction; a get_or_create retry cannot recover inside it), and the row
    comes back from the same statement, as it now is (notes kept when not given, the
    original created_at), instead of being read again."""
    qn = connections[alias].ops.quote_name
    meta = kind.target_model._meta

    def column(name: str) -> str:
        return qn(concrete_field(kind.target_model, name).column)

    inserted = ["event", kind.item_field, kind.amount_field, "notes", "created_at", "updated_at"]
    updated = [kind.amount_field, "updated_at"] + (["notes"] if with_notes else [])
    return (
        f"INSERT INTO {qn(meta.db_table)} ({', '.join(column(name) for name in inserted)}) "
        f"VALUES ({', '.join(['%s'] * len(inserted))}) "
        f"ON CONFLICT ({column('event')}, {column(kind.item_field)}) DO UPDATE SET "
        + ", ".join(f"{column(name)} = excluded.{column(name)}" for name in updated)
        + f" RETURNING {', '.join(qn(field.column) for field in meta.concrete_fields)}"
    )


def set_target(
    kind: TargetKind,
    event_id: int,
    item_id: int,
    amount: int,
    notes: str | None = None,
    *,
    connection: BaseDatabaseWrapper,
) -> tuple[Any, bool]:
    """Create the event's target of this kind for the item, or change its amount (upsert);
    returns (target, created), the target with its item loaded. Two statements.

    `notes=None` keeps the notes a target already has.
    """
    require_atomic(connection, "set_target")
    validate_positive_int(amount, kind.amount_field)
    if notes is not None:
        validate_text(notes, "notes")
    item = _item_of_event(kind, event_id, item_id, connection)
    alias = connection.alias
    now = timezone.now()
    stamp = connection.ops.adapt_datetimefield_value(now)
    params: list[int | str | None] = [event_id, item_id, amount, notes or "", stamp, stamp]
    with connection.cursor() as cursor:
        cursor.execute(_upsert_sql(kind, alias, notes is not None), params)
        target = instance_from_row(kind.target_model, cursor.fetchone(), connection=connection)
    setattr(target, kind.item_field, item)
    # A new row keeps the created_at this call wrote; an updated one has its original.
    return target, target.created_at == now


def set_production_target(
    event_id: int,
    recipe_id: int,
    target_batches: int,
    notes: str | None = None,
    *,
    connection: BaseDatabaseWrapper,
) -> EventProductionTarget:
    """Create the event's target for the recipe, or change its amount (upsert); the target
    comes back with its recipe loaded. `notes=None` keeps the notes a target already has."""
    require_atomic(connection, "set_production_target")
    target, _ = set_target(
        PRODUCTION, event_id, recipe_id, target_batches, notes, connection=connection
    )
    return target


def set_assembly_target(
    event_id: int,
    finished_good_id: int,
    target_quantity: int,
    notes: str | None = None,
    *,
    connection: BaseDatabaseWrapper,
) -> EventAssemblyTarget:
    """Create the event's target for the finished good, or change its quantity (upsert)."""
    require_atomic(connection, "set_assembly_target")
    target, _ = set_target(
        ASSEMBLY, event_id, finished_good_id, target_quantity, notes, connection=connection
    )
    return target


@dataclass(frozen=True, slots=True)
class TargetListRow:
    """A target as a light list shows it: ids, the item's name, the amount, the notes."""

    target_id: int
    item_id: int
    item_name: str
    amount: int
    notes: str


def _targets_of(kind: TargetKind, event_id: int, alias: str) -> QuerySet:
    """The one definition of an event's target list: its targets of this kind, ordered by the
    item's name, then id. Both the model read and the row read below take it."""
    return (
        kind.target_model._default_manager.using(alias)
        .filter(event_id=event_id)
        .order_by(f"{kind.item_field}__name", "id")
    )


def _non_empty_or_known(rows: list, event_id: int, connection: BaseDatabaseWrapper) -> list:
    if not rows:
        # Only an empty answer needs the second query that tells "no targets" from "no such
        # event".
        require_exists(Event, event_id, "event_id", connection=connection)
    return rows


def get_targets(kind: TargetKind, event_id: int, *, connection: BaseDatabaseWrapper) -> list:
    """The event's targets of this kind as model objects with their item loaded, ordered by
    the item's name, then id; DoesNotExist for an unknown event. One query."""
    require_atomic(connection, "get_targets")
    validate_id(event_id, "event_id")
    targets = _targets_of(kind, event_id, connection.alias).select_related(kind.item_field)
    return _non_empty_or_known(list(targets), event_id, connection)


def list_target_rows(
    kind: TargetKind, event_id: int, *, connection: BaseDatabaseWrapper
) -> list[TargetListRow]:
    """The same list as `get_targets`, as plain rows: for a page that shows names and amounts
    and need not build a target and an item per row."""
    require_atomic(connection, "list_target_rows")
    validate_id(event_id, "event_id")
    rows = _targets_of(kind, event_id, connection.alias).values_list(
        "id", kind.item_id_field, f"{kind.item_field}__name", kind.amount_field, "notes"
    )
    return _non_empty_or_known([TargetListRow(*values) for values in rows], event_id, connection)


def get_production_targets(
    event_id: int, *, connection: BaseDatabaseWrapper
) -> list[EventProductionTarget]:
    """The event's production targets with their recipe loaded, ordered by the recipe's
    name, then id."""
    require_atomic(connection, "get_production_targets")
    return get_targets(PRODUCTION, event_id, connection=connection)


def get_assembly_targets(
    event_id: int, *, connection: BaseDatabaseWrapper
) -> list[EventAssemblyTarget]:
    """The event's assembly targets with their finished good loaded, ordered by its name,
    then id."""
    require_atomic(connection, "get_assembly_targets")
    return get_targets(ASSEMBLY, event_id, connection=connection)


def list_production_target_rows(
    event_id: int, *, connection: BaseDatabaseWrapper
) -> list[TargetListRow]:
    require_atomic(connection, "list_production_target_rows")
    return list_target_rows(PRODUCTION, event_id, connection=connection)


def list_assembly_target_rows(
    event_id: int, *, connection: BaseDatabaseWrapper
) -> list[TargetListRow]:
    require_atomic(connection, "list_assembly_target_rows")
    return list_target_rows(ASSEMBLY, event_id, connection=connection)


def delete_target(
    kind: TargetKind, event_id: int, item_id: int, *, connection: BaseDatabaseWrapper
) -> bool:
    """Delete the event's target of this kind for the item; False when there was none
    (deleting twice is not an error)."""
    require_atomic(connection, "delete_target")
    validate_id(event_id, "event_id")
    validate_id(item_id, kind.item_id_field)
    deleted, _ = (
        kind.target_model._default_manager.using(connection.alias)
        .filter(event_id=event_id, **{kind.item_id_field: item_id})
        .delete()
    )
    return deleted > 0


def delete_production_target(
    event_id: int, recipe_id: int, *, connection: BaseDatabaseWrapper
) -> bool:
    """Delete the target; False when there was none (deleting twice is not an error)."""
    require_atomic(connection, "delete_production_target")
    return delete_target(PRODUCTION, event_id, recipe_id, connection=connection)


def delete_assembly_target(
    event_id: int, finished_good_id: int, *, connection: BaseDatabaseWrapper
) -> bool:
    """Delete the target; False when there was none (deleting twice is not an error)."""
    require_atomic(connection, "delete_assembly_target")
    return delete_target(ASSEMBLY, event_id, finished_good_id, connection=connection)
