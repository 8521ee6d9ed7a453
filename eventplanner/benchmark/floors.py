"""The floor of each benchmarked operation: the same work done by one hand-written SQL
statement through a raw cursor, returning plain tuples.

These are what the database itself can do; the services are measured against them. The same
SQL runs on SQLite and PostgreSQL. tests/test_bench_floors.py checks that each floor returns the
same numbers as the service it stands beside, so a faster floor cannot come from doing less.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper

from fulfillment.models import EventRecipientPackage, Package, Recipient
from planning.models import (
    AssemblyRun,
    Event,
    EventAssemblyTarget,
    EventProductionTarget,
    FinishedGood,
    ProductionRun,
    Recipe,
)

TABLES = {
    "event": Event._meta.db_table,
    "recipe": Recipe._meta.db_table,
    "good": FinishedGood._meta.db_table,
    "ptarget": EventProductionTarget._meta.db_table,
    "atarget": EventAssemblyTarget._meta.db_table,
    "prun": ProductionRun._meta.db_table,
    "arun": AssemblyRun._meta.db_table,
    "assignment": EventRecipientPackage._meta.db_table,
    "recipient": Recipient._meta.db_table,
    "package": Package._meta.db_table,
}


def _sql(template: str) -> str:
    return template.format(**TABLES)


def _columns(model: Any, alias: str) -> str:
    return ", ".join(f"{alias}.{field.column}" for field in model._meta.concrete_fields)


# The event's own runs, summed per item before the join: one pass over the runs index.
PRODUCTION_PROGRESS = _sql(
    """
    SELECT t.event_id, t.recipe_id, r.name, t.target_batches,
           COALESCE(s.batches, 0), COALESCE(s.yield, 0), r.yield_unit, t.id, t.notes
    FROM {ptarget} t
    JOIN {recipe} r ON r.id = t.recipe_id
    LEFT JOIN (
        SELECT recipe_id, SUM(num_batches) AS batches, SUM(actual_yield) AS yield
        FROM {prun} WHERE event_id = %s GROUP BY recipe_id
    ) s ON s.recipe_id = t.recipe_id
    WHERE t.event_id = %s
    ORDER BY r.name, t.id
    """
)

ASSEMBLY_PROGRESS = _sql(
    """
    SELECT t.event_id, t.finished_good_id, g.name, t.target_quantity,
           COALESCE(s.quantity, 0), t.id, t.notes
    FROM {atarget} t
    JOIN {good} g ON g.id = t.finished_good_id
    LEFT JOIN (
        SELECT finished_good_id, SUM(quantity) AS quantity
        FROM {arun} WHERE event_id = %s GROUP BY finished_good_id
    ) s ON s.finished_good_id = t.finished_good_id
    WHERE t.event_id = %s
    ORDER BY g.name, t.id
    """
)

OVERALL_PROGRESS = _sql(
    """
    SELECT
      (SELECT COUNT(*) FROM {ptarget} WHERE event_id = %s),
      (SELECT COUNT(*) FROM {ptarget} t
        WHERE t.event_id = %s AND t.target_batches <= (
          SELECT COALESCE(SUM(num_batches), 0) FROM {prun}
          WHERE event_id = t.event_id AND recipe_id = t.recipe_id)),
      (SELECT COUNT(*) FROM {atarget} WHERE event_id = %s),
      (SELECT COUNT(*) FROM {atarget} t
        WHERE t.event_id = %s AND t.target_quantity <= (
          SELECT COALESCE(SUM(quantity), 0) FROM {arun}
          WHERE event_id = t.event_id AND finished_good_id = t.finished_good_id)),
      (SELECT COUNT(*) FROM {assignment} WHERE event_id = %s AND fulfillment_status = 'pending'),
      (SELECT COUNT(*) FROM {assignment} WHERE event_id = %s AND fulfillment_status = 'ready'),
      (SELECT COUNT(*) FROM {assignment} WHERE event_id = %s AND fulfillment_status = 'delivered')
    """
)

# All events with their package counts, and every target of every event with its progress,
# as one result: kind 0 = event, 1 = production target, 2 = assembly target.
EVENTS_WITH_PROGRESS = _sql(
    """
    SELECT 0 AS kind, e.id AS event_id, NULL AS item_id, e.name AS name,
           e.event_date AS day, NULL AS amount,
           (SELECT COUNT(*) FROM {assignment} a
             WHERE a.event_id = e.id AND a.fulfillment_status = 'pending') AS done,
           (SELECT COUNT(*) FROM {assignment} a
             WHERE a.event_id = e.id AND a.fulfillment_status = 'ready') AS done2,
           (SELECT COUNT(*) FROM {assignment} a
             WHERE a.event_id = e.id AND a.fulfillment_status = 'delivered') AS done3,
           e.notes AS text, NULL AS unit, e.id AS row_id
    FROM {event} e
    UNION ALL
    SELECT 1, t.event_id, t.recipe_id, r.name, NULL, t.target_batches,
           COALESCE(s.batches, 0), COALESCE(s.yield, 0), NULL, t.notes, r.yield_unit, t.id
    FROM {ptarget} t
    JOIN {recipe} r ON r.id = t.recipe_id
    LEFT JOIN (
        SELECT event_id, recipe_id, SUM(num_batches) AS batches, SUM(actual_yield) AS yield
        FROM {prun} WHERE event_id IS NOT NULL GROUP BY event_id, recipe_id
    ) s ON s.event_id = t.event_id AND s.recipe_id = t.recipe_id
    UNION ALL
    SELECT 2, t.event_id, t.finished_good_id, g.name, NULL, t.target_quantity,
           COALESCE(s.quantity, 0), NULL, NULL, t.notes, NULL, t.id
    FROM {atarget} t
    JOIN {good} g ON g.id = t.finished_good_id
    LEFT JOIN (
        SELECT event_id, finished_good_id, SUM(quantity) AS quantity
        FROM {arun} WHERE event_id IS NOT NULL GROUP BY event_id, finished_good_id
    ) s ON s.event_id = t.event_id AND s.finished_good_id = t.finished_good_id
    ORDER BY 1, 5, 4, 12
    """
)

PRODUCTION_TARGETS = _sql(
    """
    SELECT t.id, t.recipe_id, r.name, t.target_batches, t.notes
    FROM {ptarget} t JOIN {recipe} r ON r.id = t.recipe_id
    WHERE t.event_id = %s
    ORDER BY r.name, t.id
    """
)

_PACKAGES = """
    SELECT a.id, a.recipient_id, rc.name, rc.household, a.package_id, p.name, a.quantity,
           a.fulfillment_status, a.status_changed_at, a.notes
    FROM {assignment} a
    JOIN {recipient} rc ON rc.id = a.recipient_id
    JOIN {package} p ON p.id = a.package_id
    WHERE a.event_id = %s {status_filter}
    ORDER BY rc.name, a.id
    """
PACKAGES_ALL = _sql(_PACKAGES.replace("{status_filter}", ""))
PACKAGES_BY_STATUS = _sql(_PACKAGES.replace("{status_filter}", "AND a.fulfillment_status = %s"))

UPSERT_PRODUCTION_TARGET = _sql(
    """
    INSERT INTO {ptarget} (event_id, recipe_id, target_batches, notes, created_at, updated_at)
    VALUES (%s, %s, %s, '', %s, %s)
    ON CONFLICT (event_id, recipe_id)
    DO UPDATE SET target_batches = excluded.target_batches, updated_at = excluded.updated_at
    """
)

SET_STATUS = _sql(
    """
    UPDATE {assignment} SET fulfillment_status = %s, status_changed_at = %s, updated_at = %s
    WHERE id = %s
    """
)


def _fetch(connection: BaseDatabaseWrapper, sql: str, params: list) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def production_progress(event_id: int, *, connection: BaseDatabaseWrapper) -> list[tuple]:
    return _fetch(connection, PRODUCTION_PROGRESS, [event_id, event_id])


def assembly_progress(event_id: int, *, connection: BaseDatabaseWrapper) -> list[tuple]:
    return _fetch(connection, ASSEMBLY_PROGRESS, [event_id, event_id])


def overall_progress(event_id: int, *, connection: BaseDatabaseWrapper) -> tuple:
    return _fetch(connection, OVERALL_PROGRESS, [event_id] * 7)[0]


def events_with_progress(*, connection: BaseDatabaseWrapper) -> list[tuple]:
    return _fetch(connection, EVENTS_WITH_PROGRESS, [])


def production_targets(event_id: int, *, connection: BaseDatabaseWrapper) -> list[tuple]:
    return _fetch(connection, PRODUCTION_TARGETS, [event_id])


def packages_by_status(
    event_id: int, status: str | None = None, *, connection: BaseDatabaseWrapper
) -> list[tuple]:
    if status is None:
        return _fetch(connection, PACKAGES_ALL, [event_id])
    return _fetch(connection, PACKAGES_BY_STATUS, [event_id, status])


def _now(connection: BaseDatabaseWrapper) -> Any:
    return connection.ops.adapt_datetimefield_value(datetime.datetime.now(tz=datetime.UTC))


def upsert_production_target(
    event_id: int, recipe_id: int, target_batches: int, *, connection: BaseDatabaseWrapper
) -> None:
    now = _now(connection)
    with connection.cursor() as cursor:
        cursor.execute(UPSERT_PRODUCTION_TARGET, [event_id, recipe_id, target_batches, now, now])


def set_status(assignment_id: int, status: str, *, connection: BaseDatabaseWrapper) -> None:
    now = _now(connection)
    with connection.cursor() as cursor:
        cursor.execute(SET_STATUS, [status, now, now, assignment_id])


def set_status_many(
    assignment_ids: list[int], status: str, *, connection: BaseDatabaseWrapper
) -> None:
    now = _now(connection)
    placeholders = ", ".join(["%s"] * len(assignment_ids))
    sql = _sql(
        "UPDATE {assignment} SET fulfillment_status = %s, status_changed_at = %s, "
        f"updated_at = %s WHERE id IN ({placeholders})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [status, now, now, *assignment_ids])
