"""What both apps' service layers share: the transaction guard, the domain errors and the
small validation and permission helpers that must run through the caller's connection."""

from __future__ import annotations

from functools import cache
from typing import Any

from django.core.exceptions import ValidationError
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.transaction import TransactionManagementError

NOT_IN_ATOMIC = (
    "{operation}() must be called inside transaction.atomic() on the database '{alias}': "
    "the caller owns the transaction, the service never opens one."
)
NOT_A_POSITIVE_INT = "{field} must be a whole number greater than 0 (got {value!r})."
NOT_A_NON_NEGATIVE_INT = "{field} must be a whole number of 0 or more (got {value!r})."
NOT_A_STRING = "{field} must be text (got {value!r})."
TOO_LARGE = "{field} must be at most {maximum:,} (got {value:,})."

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


def user_has_perm(user: Any, perm: str, *, connection: BaseDatabaseWrapper) -> bool:
    """Check a model permission through the given connection.

    `user.has_perm()` would query through the default alias (and cache across transactions);
    services must use only the connection they are given, so this asks that database
    directly: active superusers have every permission, others need it on themselves or on
    one of their groups.
    """
    from django.db.models import Q

    if user is None or not getattr(user, "is_active", False):
        return False
    if getattr(user, "is_superuser", False):
        return True
    return (
        _permission(connection.alias, perm)
        .filter(Q(user__pk=user.pk) | Q(group__user__pk=user.pk))
        .exists()
    )


@cache
def _permission(alias: str, perm: str) -> Any:
    """The permission's row, as a queryset built once per alias and permission: every status
    change checks one, and building the query cost more than running it."""
    from django.contrib.auth.models import Permission

    app_label, codename = perm.split(".", 1)
    return Permission.objects.using(alias).filter(
        content_type__app_label=app_label, codename=codename
    )


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
