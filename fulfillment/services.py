"""Fulfillment services: assignments, the status workflow and its history.

The service contract (see README, "Transactions"): every public function takes the caller's
database connection as the keyword-only `connection`, runs every query through that
connection's alias, refuses to run outside an atomic block on it and never opens, commits or
rolls back a transaction itself.

Status changes follow one recipe: validate, check the permission of `changed_by` (None means
a trusted caller such as a management command), lock the row(s) with select_for_update in
primary-key order, re-check the rule under the lock, write, append the history.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import QuerySet
from django.utils import timezone

from eventplanner.domain import (
    DomainError,
    insert_unless_conflict,
    require_atomic,
    user_has_perm,
    validate_id,
    validate_positive_int,
    validate_text,
)
from fulfillment.models import (
    ChangeSource,
    EventRecipientPackage,
    FulfillmentStatus,
    FulfillmentStatusChange,
    Package,
    Recipient,
    next_status,
    previous_status,
)
from planning.models import Event

CHANGE_STATUS_PERM = "fulfillment.change_fulfillment_status"
UNDO_STATUS_PERM = "fulfillment.undo_fulfillment_status"

INVALID_STATUS = "Unknown fulfillment status {value!r}: use pending, ready or delivered."
INVALID_SOURCE = "Unknown source {value!r}: use page, admin or command."
TRANSITION_REFUSED = "Cannot change the status from {current} to {requested}: {allowed}."
ALLOWED_NEXT = (
    "packages go pending -> ready -> delivered one step at a time, "
    "so from {current} the only next status is {next}"
)
ALLOWED_FINAL = "delivered is final (an authorised user can undo one step with a reason)"
STALE_STATUS = (
    "This package changed meanwhile: it is now {current}, not {expected}. "
    "Nothing was changed; check the row as it is now."
)
BULK_REFUSED = (
    "Nothing was changed: {count} of the selected packages cannot go to {requested}: {rows}."
)
UNDO_REASON_REQUIRED = "A reason is required to undo a status change."
UNDO_NOTHING = "This package is pending: there is no earlier status to go back to."
NO_PERMISSION = "{user} may not {action}."
DUPLICATE_ASSIGNMENT = (
    "{recipient} already has the package {package} for this event. "
    "Edit the existing assignment instead."
)
REMOVE_NOT_PENDING = (
    "Only a pending assignment can be removed; this one is {current}. "
    "Undo its status first if it was changed by mistake."
)
REMOVE_HAS_HISTORY = "This assignment has status history, which is kept: it cannot be removed."


class InvalidTransitionError(DomainError):
    """The workflow does not allow the requested status change."""

    def __init__(self, message: str, *, current: str, requested: str) -> None:
        super().__init__(message, code="invalid_transition")
        self.current = current
        self.requested = requested


class StaleStatusError(DomainError):
    """The row no longer has the status the caller saw; `assignment` is the row as it is."""

    def __init__(self, message: str, *, assignment: EventRecipientPackage, expected: str) -> None:
        super().__init__(message, code="stale")
        self.assignment = assignment
        self.expected = expected


@dataclass(frozen=True)
class BlockedRow:
    assignment_id: int
    recipient_name: str
    package_name: str
    current_status: str

    def __str__(self) -> str:
        return f"{self.recipient_name} / {self.package_name} ({self.current_status})"


class BulkTransitionError(DomainError):
    """Some selected rows cannot make the transition; `blocked` lists them."""

    def __init__(self, message: str, *, blocked: list[BlockedRow], requested: str) -> None:
        super().__init__(message, code="bulk_refused")
        self.blocked = blocked
        self.requested = requested


class DuplicateAssignmentError(DomainError):
    def __init__(self, message: str, *, existing: EventRecipientPackage) -> None:
        super().__init__(message, code="duplicate")
        self.existing = existing


# ---------------------------------------------------------------------------------------
# Validation helpers
# ---------------------------------------------------------------------------------------


def _validate_status(value: Any, field: str = "new_status") -> str:
    if value not in FulfillmentStatus.values:
        raise ValidationError({field: [INVALID_STATUS.format(value=value)]}, code="invalid")
    return FulfillmentStatus(value).value


def _validate_source(value: Any) -> str:
    if value not in ChangeSource.values:
        raise ValidationError({"source": [INVALID_SOURCE.format(value=value)]}, code="invalid")
    return ChangeSource(value).value


def _check_permission(user: Any, perm: str, action: str, connection) -> None:
    if user is None:
        return  # a trusted caller: management command, data migration, test
    if not user_has_perm(user, perm, connection=connection):
        raise PermissionDenied(NO_PERMISSION.format(user=user, action=action))


def _transition_message(current: str, requested: str) -> str:
    nxt = next_status(current)
    allowed = ALLOWED_NEXT.format(current=current, next=nxt) if nxt else ALLOWED_FINAL
    return TRANSITION_REFUSED.format(current=current, requested=requested, allowed=allowed)


@cache
def _lockable(alias: str) -> QuerySet:
    # Built once per database alias (about a fifth of a status change's Python time went into
    # building this queryset); every call adds its pk to a clone.
    return (
        EventRecipientPackage.objects.using(alias)
        .select_for_update(of=("self",))
        .select_related("recipient", "package", "event")
    )


def _locked(assignment_id: int, connection) -> EventRecipientPackage:
    validate_id(assignment_id, "assignment_id")
    return _lockable(connection.alias).get(pk=assignment_id)


def _record_change(
    assignment: EventRecipientPackage,
    new_status: str,
    *,
    changed_by: Any,
    source: str,
    note: str,
    connection,
) -> EventRecipientPackage:
    now = timezone.now()
    old_status = assignment.fulfillment_status
    assignment.fulfillment_status = new_status
    assignment.status_changed_at = now
    assignment.save(
        using=connection.alias,
        update_fields=["fulfillment_status", "status_changed_at", "updated_at"],
    )
    FulfillmentStatusChange.objects.using(connection.alias).create(
        assignment=assignment,
        from_status=old_status,
        to_status=new_status,
        changed_by=changed_by,
        changed_at=now,
        source=source,
        note=note,
    )
    return assignment


# ---------------------------------------------------------------------------------------
# Status workflow
# ---------------------------------------------------------------------------------------


def update_fulfillment_status(
    assignment_id: int,
    new_status: str,
    *,
    connection: BaseDatabaseWrapper,
    expected_status: str | None = None,
    changed_by: Any = None,
    source: str = ChangeSource.PAGE,
    note: str = "",
) -> EventRecipientPackage:
    """Move one assignment one step forward (pending -> ready -> delivered).

    Locks the row and re-checks under the lock. Asking for the status the row already has is
    a no-op (no history), whatever `expected_status` says. Otherwise, if `expected_status`
    (what the caller's page showed) differs from the row, StaleStatusError carries the row as
    it is now. One FulfillmentStatusChange is written per real change.
    """
    require_atomic(connection, "update_fulfillment_status")
    new_status = _validate_status(new_status)
    if expected_status is not None:
        expected_status = _validate_status(expected_status, "expected_status")
    source = _validate_source(source)
    validate_text(note, "note")
    _check_permission(changed_by, CHANGE_STATUS_PERM, "change fulfillment statuses", connection)

    assignment = _locked(assignment_id, connection)
    current = assignment.fulfillment_status
    if current == new_status:
        return assignment
    if expected_status is not None and expected_status != current:
        raise StaleStatusError(
            STALE_STATUS.format(current=current, expected=expected_status),
            assignment=assignment,
            expected=expected_status,
        )
    if not assignment.can_transition_to(new_status):
        raise InvalidTransitionError(
            _transition_message(current, new_status), current=current, requested=new_status
        )
    return _record_change(
        assignment,
        new_status,
        changed_by=changed_by,
        source=source,
        note=note,
        connection=connection,
    )


def bulk_update_fulfillment_status(
    assignment_ids: Iterable[int],
    new_status: str,
    *,
    connection: BaseDatabaseWrapper,
    changed_by: Any = None,
    source: str = ChangeSource.ADMIN,
    note: str = "",
) -> int:
    """Move many assignments one step forward, all or nothing; returns how many changed.

    Rows that already have `new_status` are left alone (not counted, no history). If any
    other row cannot make the transition, BulkTransitionError lists every such row and
    nothing is written. Rows are locked in primary-key order, so overlapping bulk changes
    queue instead of deadlocking. Four statements whatever the number of rows.
    """
    require_atomic(connection, "bulk_update_fulfillment_status")
    if isinstance(assignment_ids, (str, bytes)):
        raise ValidationError({"assignment_ids": ["assignment_ids must be a list of ids."]})
    ids = sorted({validate_id(pk, "assignment_ids") for pk in assignment_ids})
    new_status = _validate_status(new_status)
    source = _validate_source(source)
    validate_text(note, "note")
    _check_permission(changed_by, CHANGE_STATUS_PERM, "change fulfillment statuses", connection)
    if not ids:
        return 0

    alias = connection.alias
    # The id list is turned into SQL parameters once, by this filter, and reused for the
    # UPDATE: with a thousand ids, building the IN clause is a good part of the call.
    selected = EventRecipientPackage.objects.using(alias).filter(pk__in=ids)
    rows = list(
        selected.select_for_update(of=("self",))
        .order_by("pk")
        .values_list("pk", "fulfillment_status")
    )
    missing = set(ids) - {row[0] for row in rows}
    if missing:
        raise EventRecipientPackage.DoesNotExist(
            f"Assignments {', '.join(map(str, sorted(missing)))} do not exist."
        )
    blocked_ids = [
        pk for pk, status in rows if status != new_status and next_status(status) != new_status
    ]
    if blocked_ids:
        # Names are needed only to explain a refusal: read them then, not on every call.
        blocked = [
            BlockedRow(pk, recipient, package, status)
            for pk, status, recipient, package in EventRecipientPackage.objects.using(alias)
            .filter(pk__in=blocked_ids)
            .order_by("pk")
            .values_list("pk", "fulfillment_status", "recipient__name", "package__name")
        ]
        raise BulkTransitionError(
            BULK_REFUSED.format(
                count=len(blocked),
                requested=new_status,
                rows="; ".join(str(row) for row in blocked),
            ),
            blocked=blocked,
            requested=new_status,
        )
    change_ids = [pk for pk, status in rows if status != new_status]
    if not change_ids:
        return 0

    from_status = previous_status(new_status)
    now = timezone.now()
    # Under the lock, every selected row not yet at new_status is at from_status.
    selected.filter(fulfillment_status=from_status).update(
        fulfillment_status=new_status, status_changed_at=now, updated_at=now
    )
    _insert_history_for(
        change_ids,
        from_status=from_status,
        to_status=new_status,
        changed_by_id=changed_by.pk if changed_by is not None else None,
        changed_at=now,
        source=source,
        note=note,
        connection=connection,
    )
    return len(change_ids)


def _insert_history_for(
    assignment_ids: list[int],
    *,
    from_status: str,
    to_status: str,
    changed_by_id: int | None,
    changed_at: Any,
    source: str,
    note: str,
    connection,
) -> None:
    """One INSERT ... SELECT for all history rows of a bulk change.

    bulk_create would split the rows into batches by SQLite's parameter limit, so the
    statement count would grow with the selection; this stays a single statement.
    """
    history = FulfillmentStatusChange._meta
    assignments = EventRecipientPackage._meta
    qn = connection.ops.quote_name
    columns = ", ".join(
        qn(history.get_field(name).column)
        for name in (
            "assignment",
            "from_status",
            "to_status",
            "changed_by",
            "changed_at",
            "source",
            "note",
        )
    )
    placeholders = ", ".join(["%s"] * len(assignment_ids))
    sql = (
        f"INSERT INTO {qn(history.db_table)} ({columns}) "
        f"SELECT {qn(assignments.pk.column)}, %s, %s, %s, %s, %s, %s "
        f"FROM {qn(assignments.db_table)} WHERE {qn(assignments.pk.column)} IN ({placeholders}) "
        f"ORDER BY {qn(assignments.pk.column)}"
    )
    params = [
        from_status,
        to_status,
        changed_by_id,
        connection.ops.adapt_datetimefield_value(changed_at),
        source,
        note,
        *assignment_ids,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def undo_fulfillment_status(
    assignment_id: int,
    *,
    reason: str,
    connection: BaseDatabaseWrapper,
    expected_status: str | None = None,
    changed_by: Any = None,
    source: str = ChangeSource.PAGE,
) -> EventRecipientPackage:
    """Step one assignment back one status (delivered -> ready -> pending).

    Needs the undo permission and a reason, which is kept in the history like any change.
    A stale `expected_status` (someone undid or moved it meanwhile) is refused.
    """
    require_atomic(connection, "undo_fulfillment_status")
    validate_text(reason, "reason")
    if not reason.strip():
        raise ValidationError({"reason": [UNDO_REASON_REQUIRED]}, code="required")
    if expected_status is not None:
        expected_status = _validate_status(expected_status, "expected_status")
    source = _validate_source(source)
    _check_permission(changed_by, UNDO_STATUS_PERM, "undo fulfillment statuses", connection)

    assignment = _locked(assignment_id, connection)
    current = assignment.fulfillment_status
    if expected_status is not None and expected_status != current:
        raise StaleStatusError(
            STALE_STATUS.format(current=current, expected=expected_status),
            assignment=assignment,
            expected=expected_status,
        )
    target = previous_status(current)
    if target is None:
        raise InvalidTransitionError(UNDO_NOTHING, current=current, requested=current)
    return _record_change(
        assignment,
        target,
        changed_by=changed_by,
        source=source,
        note=reason.strip(),
        connection=connection,
    )


# ---------------------------------------------------------------------------------------
# Assignments
# ---------------------------------------------------------------------------------------


def _require_exists(model: Any, pk: Any, field: str, connection) -> None:
    validate_id(pk, field)
    if not model._default_manager.using(connection.alias).filter(pk=pk).exists():
        raise model.DoesNotExist(f"{model._meta.verbose_name.capitalize()} {pk} does not exist.")


def assign_package(
    event_id: int,
    recipient_id: int,
    package_id: int,
    quantity: int = 1,
    notes: str = "",
    *,
    connection: BaseDatabaseWrapper,
) -> EventRecipientPackage:
    """Give a recipient a package for an event; the new assignment is pending.

    The same package for the same recipient and event again is refused with
    DuplicateAssignmentError, which carries the existing row so the caller can offer to edit
    it. A concurrent duplicate is caught by ON CONFLICT DO NOTHING, not by an IntegrityError
    that would poison the caller's transaction.
    """
    require_atomic(connection, "assign_package")
    validate_positive_int(quantity, "quantity")
    validate_text(notes, "notes")
    _require_exists(Event, event_id, "event_id", connection)
    _require_exists(Recipient, recipient_id, "recipient_id", connection)
    _require_exists(Package, package_id, "package_id", connection)
    alias = connection.alias
    now = timezone.now()
    row = EventRecipientPackage(
        event_id=event_id,
        recipient_id=recipient_id,
        package_id=package_id,
        quantity=quantity,
        notes=notes,
        created_at=now,
        updated_at=now,
        status_changed_at=now,
    )
    new_pk = insert_unless_conflict(row, connection=connection)
    assignment = (
        EventRecipientPackage.objects.using(alias)
        .select_related("recipient", "package", "event")
        .get(event_id=event_id, recipient_id=recipient_id, package_id=package_id)
    )
    if new_pk is None:
        raise DuplicateAssignmentError(
            DUPLICATE_ASSIGNMENT.format(recipient=assignment.recipient, package=assignment.package),
            existing=assignment,
        )
    return assignment


def update_assignment(
    assignment_id: int,
    *,
    quantity: int | None = None,
    notes: str | None = None,
    connection: BaseDatabaseWrapper,
) -> EventRecipientPackage:
    """Change the quantity and/or notes of an assignment (None leaves a field as it is)."""
    require_atomic(connection, "update_assignment")
    if quantity is not None:
        validate_positive_int(quantity, "quantity")
    if notes is not None:
        validate_text(notes, "notes")
    assignment = _locked(assignment_id, connection)
    fields = ["updated_at"]
    if quantity is not None:
        assignment.quantity = quantity
        fields.append("quantity")
    if notes is not None:
        assignment.notes = notes
        fields.append("notes")
    assignment.save(using=connection.alias, update_fields=fields)
    return assignment


def remove_assignment(assignment_id: int, *, connection: BaseDatabaseWrapper) -> None:
    """Remove a pending assignment that has no status history."""
    require_atomic(connection, "remove_assignment")
    assignment = _locked(assignment_id, connection)
    if assignment.fulfillment_status != FulfillmentStatus.PENDING:
        raise DomainError(
            REMOVE_NOT_PENDING.format(current=assignment.fulfillment_status), code="not_pending"
        )
    if assignment.status_changes.using(connection.alias).exists():
        raise DomainError(REMOVE_HAS_HISTORY, code="has_history")
    EventRecipientPackage.objects.using(connection.alias).filter(pk=assignment.pk).delete()


# ---------------------------------------------------------------------------------------
# Reads
# ---------------------------------------------------------------------------------------


def get_packages_by_status(
    event_id: int, status: str | None = None, *, connection: BaseDatabaseWrapper
) -> list[EventRecipientPackage]:
    """The event's assignments (optionally of one status) with recipient and package loaded,
    ordered by recipient name, then id."""
    require_atomic(connection, "get_packages_by_status")
    validate_id(event_id, "event_id")
    if status is not None:
        status = _validate_status(status, "status")
    queryset = (
        EventRecipientPackage.objects.using(connection.alias)
        .filter(event_id=event_id)
        .select_related("recipient", "package")
        .order_by("recipient__name", "id")
    )
    if status is not None:
        queryset = queryset.filter(fulfillment_status=status)
    rows = list(queryset)
    if not rows:
        _require_exists(Event, event_id, "event_id", connection)
    return rows


def get_recipient_history(
    recipient_id: int, *, connection: BaseDatabaseWrapper
) -> list[EventRecipientPackage]:
    """Every assignment of the recipient across events, newest event first, with the event
    and package loaded, so a planner can avoid giving the same thing twice."""
    require_atomic(connection, "get_recipient_history")
    _require_exists(Recipient, recipient_id, "recipient_id", connection)
    return list(
        EventRecipientPackage.objects.using(connection.alias)
        .filter(recipient_id=recipient_id)
        .select_related("event", "package")
        .order_by("-event__event_date", "event__name", "package__name", "id")
    )


def get_status_history(
    assignment_id: int, *, connection: BaseDatabaseWrapper
) -> list[FulfillmentStatusChange]:
    """The assignment's status changes, oldest first, with who made them."""
    require_atomic(connection, "get_status_history")
    _require_exists(EventRecipientPackage, assignment_id, "assignment_id", connection)
    return list(
        FulfillmentStatusChange.objects.using(connection.alias)
        .filter(assignment_id=assignment_id)
        .select_related("changed_by")
        .order_by("changed_at", "id")
    )
