"""A change counter per event, bumped by database triggers on every write that changes what the
event's pages show, so live pages can tell "unchanged" with one indexed read.

Triggers (not service code) keep every write path honest: views, admin actions, management
commands, imports and raw edits all bump the counter in their own transaction, without an extra
statement per call. The table has no foreign key to the event on purpose: a cascade or FK check
there would let an event delete racing a write deadlock on PostgreSQL, and a leftover row of a
deleted event is harmless (ids are not reused). Row 0 counts catalog changes (names and
contents shown on every event's pages). On PostgreSQL the bumps run when the transaction
commits (deferred constraint triggers); SQLite serialises writers anyway.
"""

from django.db import migrations

TABLE = "planning_eventversion"
CATALOG = 0

# table -> the column naming the event ("0" for catalog tables)
EVENT_TABLES = {
    "planning_eventproductiontarget": "event_id",
    "planning_eventassemblytarget": "event_id",
    "planning_productionrun": "event_id",
    "planning_assemblyrun": "event_id",
    "fulfillment_eventrecipientpackage": "event_id",
}
CATALOG_TABLES = (
    "planning_recipe",
    "planning_finishedgood",
    "planning_finishedgoodcomponent",
    "fulfillment_package",
    "fulfillment_packageitem",
    "fulfillment_recipient",
)
OPERATIONS = ("INSERT", "UPDATE", "DELETE")


def _bump(row: str, column: str | None) -> str:
    target = f"{row}.{column}" if column else str(CATALOG)
    return f"UPDATE {TABLE} SET version = version + 1 WHERE event_id = {target};"


def _bump_once(row: str, column: str | None) -> str:
    """PostgreSQL: once per transaction and event. Every UPDATE of a row leaves a new
    version of it, and repeated updates of one row in one transaction each walk all the
    versions before: a bulk load of N runs would cost N^2 (a seed of 300,000 runs never
    finished). One bump per transaction is all a validator needs."""
    target = f"{row}.{column}" if column else str(CATALOG)
    return (
        f"UPDATE {TABLE} SET version = version + 1, bumped_in = pg_current_xact_id() "
        f"WHERE event_id = {target} AND bumped_in IS DISTINCT FROM pg_current_xact_id();"
    )


def _bumps(operation: str, column: str | None, bump=_bump) -> list[str]:
    """The statements a trigger runs: on UPDATE both the old and the new event (a run moved to
    another event changes both); a NULL event (a run of no event) matches no row."""
    if column is None:
        return [bump("NEW", None)]
    if operation == "INSERT":
        return [bump("NEW", column)]
    if operation == "DELETE":
        return [bump("OLD", column)]
    return [bump("OLD", column), bump("NEW", column)]


def _watched():
    for table, column in EVENT_TABLES.items():
        for operation in OPERATIONS:
            yield table, operation, column
    for table in CATALOG_TABLES:
        for operation in OPERATIONS:
            yield table, operation, None
    yield "planning_event", "UPDATE", "id"
    yield "planning_event", "DELETE", "id"


def _name(table: str, operation: str) -> str:
    return f"live_{table}_{operation.lower()}"


def _sqlite(schema_editor):
    run = schema_editor.execute
    for table, operation, column in _watched():
        body = " ".join(_bumps(operation, column))
        run(
            f"CREATE TRIGGER {_name(table, operation)} AFTER {operation} ON {table} "
            f"FOR EACH ROW BEGIN {body} END"
        )
    run(
        f"CREATE TRIGGER live_planning_event_insert AFTER INSERT ON planning_event "
        f"FOR EACH ROW BEGIN INSERT OR IGNORE INTO {TABLE} (event_id, version) "
        f"VALUES (NEW.id, 1); END"
    )


def _postgresql(schema_editor):
    run = schema_editor.execute
    run(f"ALTER TABLE {TABLE} ADD COLUMN bumped_in xid8")
    for table, operation, column in _watched():
        body = " ".join(_bumps(operation, column, _bump_once))
        function = _name(table, operation)
        run(
            f"CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN {body} RETURN NULL; END $$"
        )
        # Deferred to the commit: the counter's row lock is then the last lock a transaction
        # takes and is held only while it commits, so writers of one event do not queue on
        # it for their whole transaction, and a transaction that writes several rows (needs
        # applied as targets) cannot hold the counter while waiting for a row another writer
        # holds while waiting for the counter (a deadlock).
        run(
            f"CREATE CONSTRAINT TRIGGER {function} AFTER {operation} ON {table} "
            f"DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION {function}()"
        )
    run(
        "CREATE FUNCTION live_planning_event_insert() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN INSERT INTO {TABLE} (event_id, version) VALUES (NEW.id, 1) "
        "ON CONFLICT (event_id) DO NOTHING; RETURN NULL; END $$"
    )
    run(
        "CREATE TRIGGER live_planning_event_insert AFTER INSERT ON planning_event "
        "FOR EACH ROW EXECUTE FUNCTION live_planning_event_insert()"
    )


def create(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor not in ("sqlite", "postgresql"):
        raise NotImplementedError(f"live page versions need triggers written for {vendor}")
    schema_editor.execute(
        f"CREATE TABLE {TABLE} (event_id bigint NOT NULL PRIMARY KEY, version bigint NOT NULL)"
    )
    schema_editor.execute(
        f"INSERT INTO {TABLE} (event_id, version) SELECT id, 1 FROM planning_event"
    )
    schema_editor.execute(f"INSERT INTO {TABLE} (event_id, version) VALUES ({CATALOG}, 1)")
    (_sqlite if vendor == "sqlite" else _postgresql)(schema_editor)


def drop(apps, schema_editor):
    postgresql = schema_editor.connection.vendor == "postgresql"
    names = [(t, _name(t, op)) for t, op, _ in _watched()]
    names.append(("planning_event", "live_planning_event_insert"))
    for table, name in names:
        if postgresql:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
            schema_editor.execute(f"DROP FUNCTION IF EXISTS {name}()")
        else:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}")
    schema_editor.execute(f"DROP TABLE IF EXISTS {TABLE}")


class Migration(migrations.Migration):
    dependencies = [
        ("planning", "0003_latest_runs_indexes"),
        ("fulfillment", "0004_assignment_event_recipient_index"),
    ]

    operations = [migrations.RunPython(create, drop)]
