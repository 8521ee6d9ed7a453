"""What both apps' service layers share: the transaction guard, the domain errors and the
small validation and permission helpers that must run through the caller's connection."""

from __future__ import annotations

import datetime
from functools import cache
from typing import Any, cast

from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import BooleanField, Expression, Field, Model, Value
from django.db.models.expressions import RawSQL
from django.db.transaction import TransactionManagementError

NOT_IN_ATOMIC = (
    "{operation}() must be called inside transaction.atomic() on the database '{alias}': "
    "the caller owns the transaction, the service never opens one."
)
NOT_A_POSITIVE_INT = "{field} must be a whole number greater than 0 (got {value!r})."
NOT_A_NON_NEGATIVE_INT = "{field} must be a whole number of 0 or more (got {value!r})."
NOT_A_STRING = "{field} must be text (got {value!r})."
TOO_LARGE = "{field} must be at most {maximum:,} (got {value:,})."
INVALID_DATE = "{field} must be a date (got {value!r})."

# The largest amount an integer column holds on every supported database (PostgreSQL
# "integer"): a larger value is a validation error, never a database error.
MAX_DB_INT = 2_147_483_647


class DomainError(ValidationError):
    """A rule of the domain refused the request. The message is meant for the user."""


class ServiceTransactionError(TransactionManagementError):
    """A service was called outside an atomic block on the connection it was given."""


def require_atomic(connection: BaseDatabaseWrapper, operation: str) -> None:
    if not connection.in_atomic_block:
        raise ServiceTransactionError(
            NOT_IN_ATOMIC.format(operation=operation, alias=connection.alias)
        )


def is_whole_number(value: Any) -> bool:
    # bool is a subclass of int, and True must not silently mean 1 batch.
    return isinstance(value, int) and not isinstance(value, bool)


def _validate_storable(value: int, field: str) -> int:
    if value > MAX_DB_INT:
        raise ValidationError(
            {field: [TOO_LARGE.format(field=field, maximum=MAX_DB_INT, value=value)]},
            code="max_value",
        )
    return value


def validate_positive_int(value: Any, field: str) -> int:
    if not is_whole_number(value) or value <= 0:
        raise ValidationError(
            {field: [NOT_A_POSITIVE_INT.format(field=field, value=value)]}, code="invalid"
        )
    return _validate_storable(value, field)


def validate_non_negative_int(value: Any, field: str) -> int:
    if not is_whole_number(value) or value < 0:
        raise ValidationError(
            {field: [NOT_A_NON_NEGATIVE_INT.format(field=field, value=value)]}, code="invalid"
        )
    return _validate_storable(value, field)


def validate_text(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise ValidationError({field: [NOT_A_STRING.format(field=field, value=value)]})
    return value


# Ids are 64-bit integers in the database; a larger number cannot name a row, and SQLite
# raises OverflowError when one is passed in an IN (...) list.
MAX_ID = 2**63 - 1


def validate_id(value: Any, field: str) -> int:
    if not is_whole_number(value) or not -MAX_ID <= value <= MAX_ID:
        raise ValidationError({field: [f"{field} must be a whole number id (got {value!r})."]})
    return value


def require_exists(model: Any, pk: Any, field: str, *, connection: BaseDatabaseWrapper) -> None:
    """DoesNotExist, with the model's name and the id, unless the row is there."""
    validate_id(pk, field)
    if not model._default_manager.using(connection.alias).filter(pk=pk).exists():
        raise model.DoesNotExist(f"{model._meta.verbose_name.capitalize()} {pk} does not exist.")


def lock_referenced(model: Any, pk: Any, field: str, *, connection: BaseDatabaseWrapper) -> None:
    """Like require_exists, and the row stays as it is until the caller's transaction ends.

    A row that a new row is about to refer to is locked FOR KEY SHARE, the lock PostgreSQL's
    own foreign-key check takes at commit: a delete of it waits for this transaction (and
    then sees what it wrote, e.g. a run that forbids deleting an event), and a delete that
    got there first makes this wait and then find nothing, a DoesNotExist the page can put
    in words, instead of an IntegrityError at commit. Other writers that refer to the same
    row are not held up. SQLite runs one writer at a time, so a plain check holds there."""
    validate_id(pk, field)
    meta = model._meta
    qn = connection.ops.quote_name
    sql = f"SELECT 1 FROM {qn(meta.db_table)} WHERE {qn(meta.pk.column)} = %s"
    if connection.vendor == "postgresql":
        sql += " FOR KEY SHARE"
    with connection.cursor() as cursor:
        cursor.execute(sql, [pk])
        found = cursor.fetchone() is not None
    if not found:
        raise model.DoesNotExist(f"{meta.verbose_name.capitalize()} {pk} does not exist.")


def validate_date(value: Any, field: str) -> None:
    """None or a date; a datetime is a date subclass, but comparing it with a DateField is a
    silent bug."""
    if value is not None and (
        not isinstance(value, datetime.date) or isinstance(value, datetime.datetime)
    ):
        raise ValidationError({field: [INVALID_DATE.format(field=field, value=value)]})


def clean_search(search: str) -> str:
    # PostgreSQL text cannot hold NUL: a pasted or hostile "\x00" must not reach the query.
    return search.replace("\x00", "").strip()


def plural(n: int, word: str) -> str:
    """ "1 batch run", "2 batch runs": the count and the word, with an s unless it is one."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def user_has_perm(user: Any, perm: str, *, connection: BaseDatabaseWrapper) -> bool:
    """Check a model permission through the given connection.

    `user.has_perm()` would query through the default alias (and cache across transactions);
    services must use only the connection they are given, so this asks that database
    directly: active superusers have every permission, others need it on themselves or on
    one of their groups.
    """
    known = _known_permission(user)
    if known is not None:
        return known
    with connection.cursor() as cursor:
        cursor.execute(_permission_sql(connection.alias), _permission_params(user, perm))
        return cursor.fetchone() is not None


def has_perm_expression(user: Any, perm: str, *, alias: str) -> Expression:
    """The same check as `user_has_perm`, as a boolean to select along with another query
    (a status change selects it with the row it locks: one statement instead of two)."""
    known = _known_permission(user)
    if known is not None:
        return Value(known, output_field=BooleanField())
    return RawSQL(
        f"EXISTS ({_permission_sql(alias)})",
        _permission_params(user, perm),
        output_field=BooleanField(),
    )


def _known_permission(user: Any) -> bool | None:
    """What needs no query: nobody, or an inactive user, has no permission; an active
    superuser has every one."""
    if user is None or not getattr(user, "is_active", False):
        return False
    if getattr(user, "is_superuser", False):
        return True
    return None


def _permission_params(user: Any, perm: str) -> list[Any]:
    app_label, codename = perm.split(".", 1)
    return [app_label, codename, user.pk, user.pk]


@cache
def _permission_sql(alias: str) -> str:
    """The permission check as one statement: the permission by its natural key, then two
    EXISTS probes on the link tables' (user, permission) and (group, permission) indexes.

    Every status change runs it. Written with the ORM it was either a join of five tables
    under an OR (0.30 ms on SQLite, 1.06 ms on PostgreSQL) or, with EXISTS, a queryset that
    costs 1-1.7 ms to build per call; this takes 0.03 ms on SQLite and 0.39 ms on PostgreSQL.
    tests/test_permissions.py holds it to Django's own `has_perm` for every way of holding a
    permission.
    """
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group, Permission
    from django.contrib.contenttypes.models import ContentType
    from django.db import connections

    user_model = get_user_model()
    quote = connections[alias].ops.quote_name

    def table(model: Any) -> str:
        return quote(model._meta.db_table)

    # The stubs type `through` as possibly absent and its fields as possibly reverse
    # relations; for these many-to-many fields both are always concrete.
    user_perms: Any = user_model._meta.get_field("user_permissions").remote_field.through
    user_groups: Any = user_model._meta.get_field("groups").remote_field.through
    group_perms: Any = Group._meta.get_field("permissions").remote_field.through
    user_field = cast(str, user_model._meta.model_name)
    user_column = quote(user_perms._meta.get_field(user_field).column)
    groups_user_column = quote(user_groups._meta.get_field(user_field).column)
    return f"""
        SELECT 1 FROM {table(Permission)} p
        JOIN {table(ContentType)} c ON c.id = p.content_type_id
        WHERE c.app_label = %s AND p.codename = %s AND (
            EXISTS (SELECT 1 FROM {table(user_perms)} up
                    WHERE up.{user_column} = %s AND up.permission_id = p.id)
            OR EXISTS (SELECT 1 FROM {table(user_groups)} ug
                       JOIN {table(group_perms)} gp ON gp.group_id = ug.group_id
                       WHERE ug.{groups_user_column} = %s AND gp.permission_id = p.id)
        )
    """


def insert_unless_conflict(instance: Any, *, connection: BaseDatabaseWrapper) -> int | None:
    """INSERT the unsaved instance, or do nothing if a unique constraint already holds such a
    row; return the new primary key, or None when the row existed.

    Unlike save() followed by catching IntegrityError, a conflict here does not abort the
    caller's transaction (which would need a savepoint the services may not take), and unlike
    bulk_create(ignore_conflicts=True) it tells the caller whether its row went in.
    PostgreSQL and SQLite (3.35+) both support ON CONFLICT DO NOTHING ... RETURNING.
    """
    meta = instance._meta
    qn = connection.ops.quote_name
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    columns = ", ".join(qn(f.column) for f in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    values = [f.get_db_prep_save(f.pre_save(instance, True), connection) for f in fields]
    sql = (
        f"INSERT INTO {qn(meta.db_table)} ({columns}) VALUES ({placeholders}) "
        f"ON CONFLICT DO NOTHING RETURNING {qn(meta.pk.column)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        row = cursor.fetchone()
    return row[0] if row else None


def concrete_field(model: type[Model], name: str) -> Field:
    """The field `name` of the model's own table (its column, its max_length): get_field
    also answers reverse relations and generic keys, which have neither."""
    field = model._meta.get_field(name)
    if not isinstance(field, Field):
        raise FieldDoesNotExist(f"{model._meta.label}.{name} is no column of its table.")
    return field


def instance_from_row(model: Any, row: tuple, *, connection: BaseDatabaseWrapper) -> Any:
    """A model instance from a row of all its concrete columns, in field order, as an
    INSERT ... RETURNING or a hand-written SELECT gives it: each value converted the way a
    query's results are (SQLite returns timestamps as text), then `Model.from_db`, as the ORM
    builds its own instances."""
    names, converters = _row_converters(model, connection.alias)
    values = list(row[: len(names)])
    for index, column, convert in converters:
        values[index] = convert(values[index], column, connection)
    return model.from_db(connection.alias, names, values)


@cache
def _row_converters(model: Any, alias: str) -> tuple[list[str], list[tuple]]:
    """The field names and the (position, column, converter) triples of a model's row, worked
    out once per model and database: looking them up was a good part of a two-statement
    write."""
    from django.db import connections

    connection = connections[alias]
    fields = model._meta.concrete_fields
    converters = []
    for index, field in enumerate(fields):
        column = field.get_col(model._meta.db_table)
        for convert in connection.ops.get_db_converters(column) + column.get_db_converters(
            connection
        ):
            converters.append((index, column, convert))
    return [field.attname for field in fields], converters
