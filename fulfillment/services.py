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

import datetime
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Count, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.expressions import RawSQL
from django.utils import timezone

from eventplanner.domain import (
    DomainError,
    has_perm_expression,
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
    PackageItem,
    Recipient,
    assignments_with_status,
    next_status,
    previous_status,
)
from planning.models import Event, FinishedGood

CHANGE_STATUS_PERM = "fulfillment.change_fulfillment_status"
UNDO_STATUS_PERM = "fulfillment.undo_fulfillment_status"
CHANGE_STATUS_ACTION = "change fulfillment statuses"
UNDO_STATUS_ACTION = "undo fulfillment statuses"

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
    "Only a pending assignment that was never marked ready can be removed; this one is "
    "{current}. Its status history is the record of what happened, so it stays."
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


def _locked(
    assignment_id: int,
    connection,
    *,
    changed_by: Any = None,
    perm: str | None = None,
    action: str = "",
) -> EventRecipientPackage:
    """The assignment with its recipient, package and event, its row locked (FOR UPDATE).

    With `perm`, whether `changed_by` holds it is selected in the same statement (None is a
    trusted caller) and a missing permission is PermissionDenied: a status change is then
    this statement and its write."""
    validate_id(assignment_id, "assignment_id")
    queryset = _lockable(connection.alias)
    if perm is None or changed_by is None:
        return queryset.get(pk=assignment_id)
    assignment = queryset.annotate(
        may_change=has_perm_expression(changed_by, perm, alias=connection.alias)
    ).get(pk=assignment_id)
    if not assignment.may_change:
        raise PermissionDenied(NO_PERMISSION.format(user=changed_by, action=action))
    return assignment


def _record_change(
    assignment: EventRecipientPackage,
    new_status: str,
    *,
    changed_by: Any,
    source: str,
    note: str,
    connection,
) -> EventRecipientPackage:
    """Move the locked row to `new_status` with its history entry (the same write as a bulk
    change's), and keep the object in step with the database."""
    now = timezone.now()
    _step_rows(
        [assignment.pk],
        from_status=assignment.fulfillment_status,
        to_status=new_status,
        changed_by=changed_by,
        now=now,
        source=source,
        note=note,
        connection=connection,
    )
    assignment.fulfillment_status = new_status
    assignment.status_changed_at = assignment.updated_at = now
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

    assignment = _locked(
        assignment_id,
        connection,
        changed_by=changed_by,
        perm=CHANGE_STATUS_PERM,
        action=CHANGE_STATUS_ACTION,
    )
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
    event_id: int | None = None,
) -> int:
    """Move many assignments one step forward, all or nothing; returns how many changed.

    With `event_id`, every id must be an assignment of that event (a page acting for one
    event); otherwise DoesNotExist, as for an unknown id.

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
    _check_permission(changed_by, CHANGE_STATUS_PERM, CHANGE_STATUS_ACTION, connection)
    if event_id is not None:
        validate_id(event_id, "event_id")
    if not ids:
        return 0

    alias = connection.alias
    # The id list is turned into SQL parameters once, by this filter, and reused for the
    # UPDATE: with a thousand ids, building the IN clause is a good part of the call.
    selected = EventRecipientPackage.objects.using(alias).filter(pk__in=ids)
    if event_id is not None:
        selected = selected.filter(event_id=event_id)
    rows = list(
        selected.select_for_update(of=("self",))
        .order_by("pk")
        .values_list("pk", "fulfillment_status")
    )
    missing = set(ids) - {row[0] for row in rows}
    if missing:
        where = f" in event {event_id}" if event_id is not None else ""
        raise EventRecipientPackage.DoesNotExist(
            f"Assignments {', '.join(map(str, sorted(missing)))} do not exist{where}."
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

    # Under the lock, every selected row not yet at new_status is at its previous status.
    _step_rows(
        change_ids,
        from_status=previous_status(new_status),
        to_status=new_status,
        changed_by=changed_by,
        now=timezone.now(),
        source=source,
        note=note,
        connection=connection,
    )
    return len(change_ids)


def _step_rows(
    row_ids: list[int],
    *,
    from_status: str,
    to_status: str,
    changed_by: Any,
    now: datetime.datetime,
    source: str,
    note: str,
    connection,
) -> None:
    """Move the locked rows (the caller has checked under the lock that all are at
    `from_status`) to `to_status` and write one history row each, whatever the number of
    rows: on PostgreSQL in one statement (the UPDATE feeds the history INSERT in a
    data-modifying CTE: a round trip saved on every status change), elsewhere an UPDATE and
    an INSERT ... SELECT (SQLite has no data-modifying CTE; its statements are calls inside
    the process, not round trips).

    Every status change of the services goes through here, so the status and its history
    are written together. bulk_create would split the history into batches by SQLite's
    parameter limit, so the statement count would grow with the selection."""
    statements = _step_sql(
        len(row_ids), connection.vendor == "postgresql", connection.ops.quote_name
    )
    stamp = connection.ops.adapt_datetimefield_value(now)
    changed_by_id = changed_by.pk if changed_by is not None else None
    update = [to_status, stamp, stamp, *row_ids]
    history = [from_status, to_status, changed_by_id, stamp, source, note]
    with connection.cursor() as cursor:
        if len(statements) == 1:
            cursor.execute(statements[0], [*update, *history])
        else:
            cursor.execute(statements[0], update)
            cursor.execute(statements[1], [*history, *row_ids])


def _step_sql(count: int, one_statement: bool, qn: Callable[[str], str]) -> list[str]:
    assignments = EventRecipientPackage._meta
    history = FulfillmentStatusChange._meta
    table, pk = qn(assignments.db_table), qn(assignments.pk.column)

    def column(name: str) -> str:
        return qn(assignments.get_field(name).column)

    ids = ", ".join(["%s"] * count)
    update = (
        f"UPDATE {table} SET {column('fulfillment_status')} = %s, "
        f"{column('status_changed_at')} = %s, {column('updated_at')} = %s "
        f"WHERE {pk} IN ({ids})"
    )
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
    insert = f"INSERT INTO {qn(history.db_table)} ({columns}) SELECT {pk}, %s, %s, %s, %s, %s, %s"
    if one_statement:
        return [f"WITH moved AS ({update} RETURNING {pk}) {insert} FROM moved ORDER BY {pk}"]
    return [update, f"{insert} FROM {table} WHERE {pk} IN ({ids}) ORDER BY {pk}"]


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

    assignment = _locked(
        assignment_id,
        connection,
        changed_by=changed_by,
        perm=UNDO_STATUS_PERM,
        action=UNDO_STATUS_ACTION,
    )
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


@dataclass(frozen=True, slots=True)
class AssignmentRow:
    """One assignment of an event (a recipient's package), as a light list shows it."""

    assignment_id: int
    recipient_id: int
    recipient_name: str
    household: str
    package_id: int
    package_name: str
    quantity: int
    fulfillment_status: str
    status_changed_at: datetime.datetime
    notes: str


_ASSIGNMENT_ROW_FIELDS = (
    "id",
    "recipient_id",
    "recipient__name",
    "recipient__household",
    "package_id",
    "package__name",
    "quantity",
    "fulfillment_status",
    "status_changed_at",
    "notes",
)


def _assignments_by_status(event_id: int, status: str | None, alias: str) -> QuerySet:
    """The one definition of an event's assignment list (optionally of one status), ordered
    by recipient name, then id; the model read and the row read below both take it."""
    queryset = EventRecipientPackage.objects.using(alias).filter(event_id=event_id)
    if status is not None:
        queryset = queryset.filter(fulfillment_status=status)
    return queryset.order_by("recipient__name", "id")


def _validated_list_args(event_id: Any, status: Any) -> str | None:
    validate_id(event_id, "event_id")
    return None if status is None else _validate_status(status, "status")


def get_packages_by_status(
    event_id: int, status: str | None = None, *, connection: BaseDatabaseWrapper
) -> list[EventRecipientPackage]:
    """The event's assignments (optionally of one status) as model objects with their
    recipient and package loaded, ordered by recipient name, then id; DoesNotExist for an
    unknown event.

    The recipients and packages come from one query each (prefetch_related): assignments of
    the same recipient or package share one object, where a join would build one per row."""
    require_atomic(connection, "get_packages_by_status")
    status = _validated_list_args(event_id, status)
    assignments = list(
        _assignments_by_status(event_id, status, connection.alias).prefetch_related(
            "recipient", "package"
        )
    )
    if not assignments:
        _require_exists(Event, event_id, "event_id", connection)
    return assignments


def list_assignment_rows(
    event_id: int, status: str | None = None, *, connection: BaseDatabaseWrapper
) -> list[AssignmentRow]:
    """The same list as `get_packages_by_status`, as plain rows with the recipient's and
    package's names, in one statement: for a page or an export that need not build three
    model objects per row."""
    require_atomic(connection, "list_assignment_rows")
    status = _validated_list_args(event_id, status)
    rows = [
        AssignmentRow(*values)
        for values in _assignments_by_status(event_id, status, connection.alias).values_list(
            *_ASSIGNMENT_ROW_FIELDS
        )
    ]
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


# ---------------------------------------------------------------------------------------
# Bulk undo (admin action)
# ---------------------------------------------------------------------------------------

BULK_UNDO_REFUSED = (
    "Nothing was changed: {count} of the selected packages are pending and have no earlier "
    "status to go back to: {rows}."
)


def bulk_undo_fulfillment_status(
    assignment_ids: Iterable[int],
    *,
    reason: str,
    connection: BaseDatabaseWrapper,
    changed_by: Any = None,
    source: str = ChangeSource.ADMIN,
) -> int:
    """Step many assignments back one status each, all or nothing; returns how many changed.

    Each row goes back from its own status (delivered -> ready, ready -> pending). A pending
    row cannot go back, so any pending row in the selection refuses the whole change with
    BulkTransitionError listing those rows. Rows are locked in primary-key order; the
    number of statements does not grow with the selection (one update and one history
    insert per source status).
    """
    require_atomic(connection, "bulk_undo_fulfillment_status")
    validate_text(reason, "reason")
    if not reason.strip():
        raise ValidationError({"reason": [UNDO_REASON_REQUIRED]}, code="required")
    if isinstance(assignment_ids, (str, bytes)):
        raise ValidationError({"assignment_ids": ["assignment_ids must be a list of ids."]})
    ids = sorted({validate_id(pk, "assignment_ids") for pk in assignment_ids})
    source = _validate_source(source)
    _check_permission(changed_by, UNDO_STATUS_PERM, UNDO_STATUS_ACTION, connection)
    if not ids:
        return 0

    alias = connection.alias
    rows = list(
        EventRecipientPackage.objects.using(alias)
        .select_for_update(of=("self",))
        .filter(pk__in=ids)
        .order_by("pk")
        .values_list("pk", "fulfillment_status", "recipient__name", "package__name")
    )
    missing = set(ids) - {row[0] for row in rows}
    if missing:
        raise EventRecipientPackage.DoesNotExist(
            f"Assignments {', '.join(map(str, sorted(missing)))} do not exist."
        )
    blocked = [
        BlockedRow(pk, recipient, package, status)
        for pk, status, recipient, package in rows
        if previous_status(status) is None
    ]
    if blocked:
        raise BulkTransitionError(
            BULK_UNDO_REFUSED.format(
                count=len(blocked), rows="; ".join(str(row) for row in blocked)
            ),
            blocked=blocked,
            requested="previous",
        )
    now = timezone.now()
    for current in (FulfillmentStatus.DELIVERED, FulfillmentStatus.READY):
        group = [pk for pk, status, _, _ in rows if status == current]
        if group:
            _step_rows(
                group,
                from_status=current,
                to_status=previous_status(current),
                changed_by=changed_by,
                now=now,
                source=source,
                note=reason.strip(),
                connection=connection,
            )
    return len(rows)


# ---------------------------------------------------------------------------------------
# The fulfillment page, exports, packing list and delivery checklist
# ---------------------------------------------------------------------------------------

MAX_PER_PAGE = 200


@dataclass(frozen=True)
class StatusCounts:
    pending: int
    ready: int
    delivered: int

    @property
    def total(self) -> int:
        return self.pending + self.ready + self.delivered

    def get(self, status: str) -> int:
        return getattr(self, status)


class _Paging:
    """Page navigation for a result holding `matching`, `page`, `num_pages`, `per_page`."""

    matching: int
    page: int
    num_pages: int
    per_page: int

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.num_pages

    @property
    def start_index(self) -> int:
        return (self.page - 1) * self.per_page + 1 if self.matching else 0

    @property
    def end_index(self) -> int:
        return min(self.page * self.per_page, self.matching)


@dataclass(frozen=True)
class AssignmentPage(_Paging):
    """One page of an event's assignments, with the event-wide counts per status."""

    rows: list[EventRecipientPackage]
    counts: StatusCounts
    matching: int
    page: int
    num_pages: int
    per_page: int


def _last_change(field: str, alias: str) -> Subquery:
    return Subquery(
        FulfillmentStatusChange.objects.using(alias)
        .filter(assignment_id=OuterRef("pk"))
        .order_by("-changed_at", "-id")
        .values(field)[:1]
    )


@cache
def _annotated_assignments(alias: str) -> QuerySet:
    """Assignments with recipient and package loaded and who made the last status change
    (`last_changed_by`, None for a script or no change; `last_change_source`).

    Built once per database alias and never evaluated itself: callers filter a clone
    (building the two subqueries was a tenth of a fulfillment page's service time)."""
    return (
        EventRecipientPackage.objects.using(alias)
        .select_related("recipient", "package")
        .annotate(
            last_changed_by=_last_change("changed_by__username", alias),
            last_change_source=_last_change("source", alias),
        )
    )


def _search_term(search: str) -> str:
    # PostgreSQL text cannot hold NUL: a pasted or hostile "\x00" must not reach the query.
    return search.replace("\x00", "").strip()


def _filtered(queryset, status: str | None, search: str):
    if status:
        queryset = queryset.filter(fulfillment_status=status)
    search = _search_term(search)
    if search:
        queryset = queryset.filter(
            Q(recipient__name__icontains=search) | Q(recipient__household__icontains=search)
        )
    return queryset


def _validate_filter(status: str | None, search: str) -> str | None:
    if status is not None:
        status = _validate_status(status, "status")
    validate_text(search, "search")
    return status


@cache
def _status_counts(alias: str) -> QuerySet:
    # Built once per database alias, like _lockable: each call filters a clone by event, and
    # building the three subqueries was a third of the call.
    return (
        Event.objects.using(alias)
        .order_by()
        .values_list(*(assignments_with_status(status) for status in FulfillmentStatus.values))
    )


def get_status_counts(event_id: int, *, connection: BaseDatabaseWrapper) -> StatusCounts:
    """The event's assignments counted per status, in one query (DoesNotExist for an
    unknown event)."""
    require_atomic(connection, "get_status_counts")
    validate_id(event_id, "event_id")
    values = _status_counts(connection.alias).filter(pk=event_id).first()
    if values is None:
        raise Event.DoesNotExist(f"Event {event_id} does not exist.")
    return StatusCounts(*values)


# Below this many matching rows, sorting them is cheaper than walking the recipients' index.
INDEX_ORDER_MIN_ROWS = 200


def _page_ids_in_name_order(
    event_id: int, status: str | None, offset: int, limit: int, connection
) -> RawSQL:
    """The ids of one page of the event's assignments in (recipient name, id) order, read in
    index order instead of sorting every row of the event for each page.

    SQLite never reorders the tables of a CROSS JOIN (its documented way to fix a join
    order), so it walks the recipients' (name, id) index and, for each recipient, finds its
    rows of the event through the (event, recipient, status) index: a page costs the rows
    before it, and only each run of one name is sorted by id. Without statistics SQLite
    would otherwise start from the event's rows and sort all of them. PostgreSQL plans a
    CROSS JOIN with a join condition in WHERE like any inner join.
    """
    qn = connection.ops.quote_name
    status_clause = "AND a.fulfillment_status = %s" if status else ""
    sql = (
        f"SELECT a.id FROM {qn(Recipient._meta.db_table)} r "
        f"CROSS JOIN {qn(EventRecipientPackage._meta.db_table)} a "
        f"WHERE a.recipient_id = r.id AND a.event_id = %s {status_clause} "
        "ORDER BY r.name, a.id LIMIT %s OFFSET %s"
    )
    params = [event_id, *([status] if status else []), limit, offset]
    return RawSQL(sql, params)


def list_event_assignments(
    event_id: int,
    *,
    connection: BaseDatabaseWrapper,
    status: str | None = None,
    search: str = "",
    page: int = 1,
    per_page: int = 50,
) -> AssignmentPage:
    """One page of the event's assignments (optionally of one status, and whose recipient
    name or household contains `search`), ordered by recipient name then id, plus the
    event-wide counts per status. Three queries whatever the number of rows; a page past the
    end gives the last page."""
    require_atomic(connection, "list_event_assignments")
    status = _validate_filter(status, search)
    validate_positive_int(page, "page")
    validate_positive_int(per_page, "per_page")
    per_page = min(per_page, MAX_PER_PAGE)
    counts = get_status_counts(event_id, connection=connection)
    alias = connection.alias
    base = _filtered(
        EventRecipientPackage.objects.using(alias).filter(event_id=event_id), status, search
    )
    # Without a search the counts already say how many rows match: no second count.
    if _search_term(search):
        matching = base.count()
    elif status:
        matching = counts.get(status)
    else:
        matching = counts.total
    num_pages = max(1, -(-matching // per_page))
    page = min(page, num_pages)
    offset = (page - 1) * per_page
    # The page's ids first, then its rows, so the last-change subqueries run for this page's
    # rows only, not for every row of the event before the sort.
    if _search_term(search) or matching < INDEX_ORDER_MIN_ROWS:
        page_ids = base.order_by("recipient__name", "id").values("pk")[offset : offset + per_page]
    else:
        page_ids = _page_ids_in_name_order(event_id, status, offset, per_page, connection)
    rows = list(
        _annotated_assignments(alias).filter(pk__in=page_ids).order_by("recipient__name", "id")
    )
    return AssignmentPage(
        rows=rows,
        counts=counts,
        matching=matching,
        page=page,
        num_pages=num_pages,
        per_page=per_page,
    )


def get_assignment_row(
    assignment_id: int, *, connection: BaseDatabaseWrapper, event_id: int | None = None
) -> EventRecipientPackage:
    """One assignment as the fulfillment page shows it (recipient, package, last change).
    With `event_id`, an assignment of another event does not exist."""
    require_atomic(connection, "get_assignment_row")
    validate_id(assignment_id, "assignment_id")
    queryset = _annotated_assignments(connection.alias).select_related("event")
    if event_id is not None:
        validate_id(event_id, "event_id")
        queryset = queryset.filter(event_id=event_id)
    return queryset.get(pk=assignment_id)


@dataclass(frozen=True)
class ExportRow:
    recipient: str
    household: str
    address: str
    package: str
    quantity: int
    status: str
    last_changed_at: Any
    last_changed_by: str


def get_export_rows(
    event_id: int,
    *,
    connection: BaseDatabaseWrapper,
    status: str | None = None,
    search: str = "",
) -> list[ExportRow]:
    """Every assignment of the event matching the filter (as on the page, without paging),
    for the CSV export: one query plus the existence check."""
    require_atomic(connection, "get_export_rows")
    status = _validate_filter(status, search)
    _require_exists(Event, event_id, "event_id", connection)
    queryset = _filtered(
        _annotated_assignments(connection.alias).filter(event_id=event_id), status, search
    ).order_by("recipient__name", "id")
    return [
        ExportRow(
            recipient=row.recipient.name,
            household=row.recipient.household,
            address=row.recipient.address,
            package=row.package.name,
            quantity=row.quantity,
            status=row.get_fulfillment_status_display(),
            # Never moved: no status change to report (not the time it was assigned).
            last_changed_at=row.status_changed_at if row.last_change_source else None,
            last_changed_by=row.last_changed_by or "",
        )
        for row in queryset
    ]


@dataclass(frozen=True)
class PackedGood:
    name: str
    units: int


@dataclass(frozen=True)
class PackedPackage:
    assignment_id: int
    name: str
    quantity: int
    status: str
    notes: str
    contents: list[PackedGood]


@dataclass(frozen=True)
class PackingSection:
    recipient_id: int
    name: str
    household: str
    address: str
    notes: str
    packages: list[PackedPackage]


def get_packing_list(
    event_id: int, *, connection: BaseDatabaseWrapper, status: str | None = None
) -> list[PackingSection]:
    """One section per recipient (by id: two "Aunt Mary"s stay apart), ordered by name, with
    each assigned package and its contents: units of each finished good = the assignment's
    quantity x the package item's quantity. No prices. Three queries."""
    require_atomic(connection, "get_packing_list")
    status = _validate_filter(status, "")
    _require_exists(Event, event_id, "event_id", connection)
    alias = connection.alias
    assignments = list(
        _filtered(
            EventRecipientPackage.objects.using(alias)
            .filter(event_id=event_id)
            .select_related("recipient", "package"),
            status,
            "",
        ).order_by("recipient__name", "recipient_id", "package__name", "id")
    )
    items: dict[int, list[tuple[str, int]]] = {}
    if assignments:
        package_ids = EventRecipientPackage.objects.using(alias).filter(event_id=event_id)
        for item in (
            PackageItem.objects.using(alias)
            .filter(package__in=package_ids.values("package_id"))
            .select_related("finished_good")
            .order_by("finished_good__name", "id")
        ):
            items.setdefault(item.package_id, []).append((item.finished_good.name, item.quantity))
    sections: list[PackingSection] = []
    for assignment in assignments:
        recipient = assignment.recipient
        if not sections or sections[-1].recipient_id != recipient.pk:
            sections.append(
                PackingSection(
                    recipient_id=recipient.pk,
                    name=recipient.name,
                    household=recipient.household,
                    address=recipient.address,
                    notes=recipient.notes,
                    packages=[],
                )
            )
        sections[-1].packages.append(
            PackedPackage(
                assignment_id=assignment.pk,
                name=assignment.package.name,
                quantity=assignment.quantity,
                status=assignment.fulfillment_status,
                notes=assignment.notes,
                contents=[
                    PackedGood(name, per_package * assignment.quantity)
                    for name, per_package in items.get(assignment.package_id, [])
                ],
            )
        )
    return sections


@dataclass(frozen=True)
class HouseholdStop:
    household: str
    address: str
    rows: list[EventRecipientPackage]


def get_delivery_checklist(
    event_id: int, *, connection: BaseDatabaseWrapper
) -> list[HouseholdStop]:
    """The event's ready packages grouped into stops: one per household and address (a
    household spread over several addresses is several stops, so nobody is sent to the
    wrong door; a recipient without a household is a stop of their own), in household
    then address order. Two queries."""
    require_atomic(connection, "get_delivery_checklist")
    _require_exists(Event, event_id, "event_id", connection)
    rows = (
        _annotated_assignments(connection.alias)
        .filter(event_id=event_id, fulfillment_status=FulfillmentStatus.READY)
        .order_by("recipient__household", "recipient__name", "recipient_id", "id")
    )
    stops: dict[tuple[str, str, int], HouseholdStop] = {}
    for row in rows:
        recipient = row.recipient
        address = " ".join(recipient.address.split()).casefold()
        household = " ".join(recipient.household.split()).casefold()
        key = (household, address, 0) if household else ("", address, recipient.pk)
        stop = stops.get(key)
        if stop is None:
            stop = stops[key] = HouseholdStop(
                household=recipient.household or recipient.name,
                address=recipient.address,
                rows=[],
            )
        stop.rows.append(row)
    return sorted(
        stops.values(), key=lambda stop: (stop.household.casefold(), stop.address.casefold())
    )


# ---------------------------------------------------------------------------------------
# Catalog: recipients and packages
# ---------------------------------------------------------------------------------------

NAME_REQUIRED = "Enter a name."
PACKAGE_NAME_TAKEN = "There is already a package called {name!r}; choose another name."
PACKAGE_ITEM_TWICE = "{good} is listed twice; put the whole quantity on one line."
RECIPIENT_IN_USE = (
    "{name} cannot be deleted: they have {count} package assignment(s) across events, "
    "which are the record of what they were given. Remove those assignments first (only "
    "pending ones without history can be removed)."
)
PACKAGE_IN_USE = (
    "{name} cannot be deleted: it is assigned {count} time(s) across events. Remove those "
    "assignments first, or keep the package and stop using it."
)


@dataclass(frozen=True)
class CatalogPage(_Paging):
    """One page of a catalog list; each row carries an `assignment_count` annotation."""

    rows: list[Any]
    matching: int
    page: int
    num_pages: int
    per_page: int


def _catalog_page(queryset, page: int, per_page: int) -> CatalogPage:
    validate_positive_int(page, "page")
    validate_positive_int(per_page, "per_page")
    per_page = min(per_page, MAX_PER_PAGE)
    matching = queryset.count()
    num_pages = max(1, -(-matching // per_page))
    page = min(page, num_pages)
    offset = (page - 1) * per_page
    rows = list(queryset[offset : offset + per_page])
    return CatalogPage(rows, matching, page, num_pages, per_page)


def _clean_name(name: Any, field: str = "name", max_length: int = 200) -> str:
    validate_text(name, field)
    name = name.strip()
    if not name:
        raise ValidationError({field: [NAME_REQUIRED]}, code="required")
    if len(name) > max_length:
        raise ValidationError(
            {field: [f"Keep the {field} to {max_length} characters or fewer."]}, code="max_length"
        )
    return name


def list_recipients(
    *, connection: BaseDatabaseWrapper, search: str = "", page: int = 1, per_page: int = 50
) -> CatalogPage:
    """Recipients whose name, household or address contains `search`, by name then id,
    each with its number of assignments across events. Two queries."""
    require_atomic(connection, "list_recipients")
    validate_text(search, "search")
    queryset = Recipient.objects.using(connection.alias)
    if term := _search_term(search):
        queryset = queryset.filter(
            Q(name__icontains=term) | Q(household__icontains=term) | Q(address__icontains=term)
        )
    queryset = queryset.annotate(assignment_count=Count("assignments")).order_by("name", "id")
    return _catalog_page(queryset, page, per_page)


def search_recipients(
    search: str, *, connection: BaseDatabaseWrapper, limit: int = 20
) -> list[Recipient]:
    """Up to `limit` recipients matching by name or household, for choosing one in a form."""
    require_atomic(connection, "search_recipients")
    validate_text(search, "search")
    validate_positive_int(limit, "limit")
    queryset = Recipient.objects.using(connection.alias).order_by("name", "id")
    if term := _search_term(search):
        queryset = queryset.filter(Q(name__icontains=term) | Q(household__icontains=term))
    return list(queryset[:limit])


def search_packages(
    search: str, *, connection: BaseDatabaseWrapper, limit: int = 20
) -> list[Package]:
    """Up to `limit` packages whose name contains `search`, for choosing one in a form."""
    require_atomic(connection, "search_packages")
    validate_text(search, "search")
    validate_positive_int(limit, "limit")
    queryset = Package.objects.using(connection.alias).order_by("name", "id")
    if term := _search_term(search):
        queryset = queryset.filter(name__icontains=term)
    return list(queryset[:limit])


def _recipient_fields(name: Any, household: Any, address: Any, notes: Any) -> dict[str, str]:
    fields = {"name": _clean_name(name)}
    fields["household"] = _clean_name(household, "household") if household.strip() else ""
    for field, value in (("address", address), ("notes", notes)):
        fields[field] = validate_text(value, field).strip()
    return fields


def create_recipient(
    *,
    name: str,
    household: str = "",
    address: str = "",
    notes: str = "",
    connection: BaseDatabaseWrapper,
) -> Recipient:
    """Add a recipient. Names need not be unique (two "Aunt Mary"s may exist)."""
    require_atomic(connection, "create_recipient")
    validate_text(household, "household")
    fields = _recipient_fields(name, household, address, notes)
    return Recipient.objects.using(connection.alias).create(**fields)


def update_recipient(
    recipient_id: int,
    *,
    name: str,
    household: str = "",
    address: str = "",
    notes: str = "",
    connection: BaseDatabaseWrapper,
) -> Recipient:
    require_atomic(connection, "update_recipient")
    validate_id(recipient_id, "recipient_id")
    validate_text(household, "household")
    fields = _recipient_fields(name, household, address, notes)
    recipient = Recipient.objects.using(connection.alias).select_for_update().get(pk=recipient_id)
    for field, value in fields.items():
        setattr(recipient, field, value)
    recipient.save(using=connection.alias, update_fields=[*fields, "updated_at"])
    return recipient


def delete_recipient(recipient_id: int, *, connection: BaseDatabaseWrapper) -> None:
    """Delete a recipient who has no assignments; one with assignments is kept (refused
    with a message saying why and what to do)."""
    require_atomic(connection, "delete_recipient")
    validate_id(recipient_id, "recipient_id")
    alias = connection.alias
    recipient = Recipient.objects.using(alias).select_for_update().get(pk=recipient_id)
    count = EventRecipientPackage.objects.using(alias).filter(recipient_id=recipient_id).count()
    if count:
        raise DomainError(RECIPIENT_IN_USE.format(name=recipient, count=count), code="in_use")
    Recipient.objects.using(alias).filter(pk=recipient_id).delete()


def list_packages(
    *, connection: BaseDatabaseWrapper, search: str = "", page: int = 1, per_page: int = 50
) -> CatalogPage:
    """Packages whose name or description contains `search`, by name, each with its number
    of assignments (`assignment_count`) and its items loaded. Three queries."""
    require_atomic(connection, "list_packages")
    validate_text(search, "search")
    alias = connection.alias
    queryset = Package.objects.using(alias)
    if term := _search_term(search):
        queryset = queryset.filter(Q(name__icontains=term) | Q(description__icontains=term))
    queryset = (
        queryset.annotate(assignment_count=Count("assignments"))
        .order_by("name", "id")
        .prefetch_related(
            Prefetch(
                "items",
                queryset=PackageItem.objects.using(alias)
                .select_related("finished_good")
                .order_by("finished_good__name", "id"),
            )
        )
    )
    return _catalog_page(queryset, page, per_page)


def get_package(package_id: int, *, connection: BaseDatabaseWrapper) -> Package:
    """The package with its items (and their finished goods) and `assignment_count`."""
    require_atomic(connection, "get_package")
    validate_id(package_id, "package_id")
    alias = connection.alias
    return (
        Package.objects.using(alias)
        .annotate(assignment_count=Count("assignments"))
        .prefetch_related(
            Prefetch(
                "items",
                queryset=PackageItem.objects.using(alias)
                .select_related("finished_good")
                .order_by("finished_good__name", "id"),
            )
        )
        .get(pk=package_id)
    )


def _validate_items(items: Any, connection) -> list[tuple[int, int]]:
    if isinstance(items, (str, bytes)):
        raise ValidationError({"items": ["items must be a list of (finished good id, quantity)."]})
    cleaned: list[tuple[int, int]] = []
    for good_id, quantity in items:
        cleaned.append(
            (validate_id(good_id, "finished_good_id"), validate_positive_int(quantity, "quantity"))
        )
    ids = [good_id for good_id, _ in cleaned]
    names = dict(
        FinishedGood.objects.using(connection.alias).filter(pk__in=ids).values_list("pk", "name")
    )
    missing = set(ids) - set(names)
    if missing:
        raise FinishedGood.DoesNotExist(
            f"Finished goods {', '.join(map(str, sorted(missing)))} do not exist."
        )
    seen: set[int] = set()
    for good_id in ids:
        if good_id in seen:
            raise ValidationError(
                {"items": [PACKAGE_ITEM_TWICE.format(good=names[good_id])]}, code="duplicate"
            )
        seen.add(good_id)
    return cleaned


def _check_package_name(name: str, exclude_pk: int | None, alias: str) -> None:
    taken = Package.objects.using(alias).filter(name__iexact=name)
    if exclude_pk is not None:
        taken = taken.exclude(pk=exclude_pk)
    if taken.exists():
        raise ValidationError({"name": [PACKAGE_NAME_TAKEN.format(name=name)]}, code="unique")


def _replace_items(package: Package, items: list[tuple[int, int]], alias: str) -> None:
    PackageItem.objects.using(alias).filter(package=package).delete()
    PackageItem.objects.using(alias).bulk_create(
        [
            PackageItem(package=package, finished_good_id=good_id, quantity=quantity)
            for good_id, quantity in items
        ]
    )


def create_package(
    *,
    name: str,
    description: str = "",
    items: Iterable[tuple[int, int]] = (),
    connection: BaseDatabaseWrapper,
) -> Package:
    """Add a package with its items: (finished good id, quantity) pairs, each good once.
    The name is unique (case does not make a new name)."""
    require_atomic(connection, "create_package")
    name = _clean_name(name)
    description = validate_text(description, "description").strip()
    cleaned = _validate_items(list(items), connection)
    alias = connection.alias
    _check_package_name(name, None, alias)
    now = timezone.now()
    package = Package(name=name, description=description, created_at=now, updated_at=now)
    # A concurrent package of the same name ends in a validation error, not an
    # IntegrityError that would abort the caller's transaction.
    pk = insert_unless_conflict(package, connection=connection)
    if pk is None:
        raise ValidationError({"name": [PACKAGE_NAME_TAKEN.format(name=name)]}, code="unique")
    package.pk = pk
    package._state.adding = False
    package._state.db = alias
    _replace_items(package, cleaned, alias)
    return package


def update_package(
    package_id: int,
    *,
    name: str,
    description: str = "",
    items: Iterable[tuple[int, int]] = (),
    connection: BaseDatabaseWrapper,
) -> Package:
    """Rename or describe a package and replace its items with `items`."""
    require_atomic(connection, "update_package")
    validate_id(package_id, "package_id")
    name = _clean_name(name)
    description = validate_text(description, "description").strip()
    cleaned = _validate_items(list(items), connection)
    alias = connection.alias
    package = Package.objects.using(alias).select_for_update().get(pk=package_id)
    _check_package_name(name, package.pk, alias)
    package.name = name
    package.description = description
    package.save(using=alias, update_fields=["name", "description", "updated_at"])
    _replace_items(package, cleaned, alias)
    return package


def delete_package(package_id: int, *, connection: BaseDatabaseWrapper) -> None:
    """Delete a package (and its item list) that no assignment uses; one in use is kept."""
    require_atomic(connection, "delete_package")
    validate_id(package_id, "package_id")
    alias = connection.alias
    package = Package.objects.using(alias).select_for_update().get(pk=package_id)
    count = EventRecipientPackage.objects.using(alias).filter(package_id=package_id).count()
    if count:
        raise DomainError(PACKAGE_IN_USE.format(name=package.name, count=count), code="in_use")
    Package.objects.using(alias).filter(pk=package_id).delete()
