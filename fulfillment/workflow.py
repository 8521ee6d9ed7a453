"""The fulfillment status workflow: pending -> ready -> delivered one step at a time, a
permission-gated step back with a reason, one row or many, each real change with its
history entry.

Every change follows one recipe: validate, lock the row(s) with select_for_update in
primary-key order (a single row's lock also selects the permission of `changed_by`; None is
a trusted caller such as a management command), re-check the rule under the lock, write the
status and its history together. Public functions follow the service contract (README,
"Transactions").
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable, Mapping
from functools import cache
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import QuerySet
from django.utils import timezone

from eventplanner.domain import (
    concrete_field,
    has_perm_expression,
    require_atomic,
    user_has_perm,
    validate_id,
    validate_text,
)
from fulfillment.errors import (
    ALLOWED_FINAL,
    ALLOWED_NEXT,
    BULK_REFUSED,
    BULK_UNDO_REFUSED,
    BULK_UNDO_STALE,
    INVALID_SOURCE,
    INVALID_STATUS,
    NO_PERMISSION,
    STALE_STATUS,
    TAKE_BACK_NOBODY,
    TAKE_BACK_NOT_YOURS,
    TAKE_BACK_NOTHING,
    TAKE_BACK_TOO_LATE,
    TRANSITION_REFUSED,
    UNDO_NOTHING,
    UNDO_REASON_REQUIRED,
    UNDO_UNSEEN,
    BlockedRow,
    BulkTransitionError,
    InvalidTransitionError,
    StaleStatusError,
)
from fulfillment.models import (
    TAKE_BACK_WINDOW,
    ChangeSource,
    EventRecipientPackage,
    FulfillmentStatus,
    FulfillmentStatusChange,
    next_status,
    previous_status,
)

CHANGE_STATUS_PERM = "fulfillment.change_fulfillment_status"
UNDO_STATUS_PERM = "fulfillment.undo_fulfillment_status"
CHANGE_STATUS_ACTION = "change fulfillment statuses"
UNDO_STATUS_ACTION = "undo fulfillment statuses"


def _validate_status(value: Any, field: str = "new_status") -> str:
    if value not in FulfillmentStatus.values:
        raise ValidationError({field: [INVALID_STATUS.format(value=value)]}, code="invalid")
    return FulfillmentStatus(value).value


def _validate_source(value: Any) -> str:
    # A take-back is only ever written by take_back_fulfillment_status, which checks that its
    # author made the step: no other change may claim that source.
    if value not in ChangeSource.values or value == ChangeSource.TAKE_BACK:
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


def _locked_to_move(assignment_id: int, connection, changed_by: Any) -> EventRecipientPackage:
    """The row locked for a status change by someone who may move statuses."""
    return _locked(
        assignment_id,
        connection,
        changed_by=changed_by,
        perm=CHANGE_STATUS_PERM,
        action=CHANGE_STATUS_ACTION,
    )


def _stepped_back_already(assignment: EventRecipientPackage, expected_status: str) -> bool:
    """The row is one step below what the caller saw: the step back was done already (the
    same post again, or a colleague was faster)."""
    current = assignment.fulfillment_status
    return current != expected_status and current == previous_status(expected_status)


def _refuse_if_stale(assignment: EventRecipientPackage, expected_status: str | None) -> None:
    """StaleStatusError, with the row as it now is, when the caller saw another status."""
    current = assignment.fulfillment_status
    if expected_status is not None and expected_status != current:
        raise StaleStatusError(
            STALE_STATUS.format(current=current, expected=expected_status),
            assignment=assignment,
            expected=expected_status,
        )


def _record_change(
    assignment: EventRecipientPackage,
    new_status: str,
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

    assignment = _locked_to_move(assignment_id, connection, changed_by)
    current = assignment.fulfillment_status
    if current == new_status:
        return assignment
    _refuse_if_stale(assignment, expected_status)
    if not assignment.can_transition_to(new_status):
        raise InvalidTransitionError(
            _transition_message(current, new_status), current=current, requested=new_status
        )
    return _record_change(assignment, new_status, changed_by, source, note, connection)


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
    queue instead of deadlocking. Four statements whatever the number of rows (three on
    PostgreSQL).
    """
    require_atomic(connection, "bulk_update_fulfillment_status")
    ids = _selection(assignment_ids)
    new_status = _validate_status(new_status)
    source = _validate_source(source)
    validate_text(note, "note")
    _check_permission(changed_by, CHANGE_STATUS_PERM, CHANGE_STATUS_ACTION, connection)
    if event_id is not None:
        validate_id(event_id, "event_id")
    if not ids:
        return 0
    rows = _lock_selection(ids, event_id, connection.alias)
    stuck = [
        pk for pk, status in rows if status != new_status and next_status(status) != new_status
    ]
    if stuck:
        blocked = _blocked_rows(stuck, connection.alias)
        raise BulkTransitionError(
            BulkTransitionError.text(BULK_REFUSED, blocked, requested=new_status),
            blocked=blocked,
            requested=new_status,
        )
    change_ids = [pk for pk, status in rows if status != new_status]
    from_status = previous_status(new_status)  # None (to pending): every other row is stuck
    if change_ids and from_status is not None:
        # Under the lock, every selected row not yet at new_status is at its previous status.
        _step_rows(
            change_ids,
            from_status=from_status,
            to_status=new_status,
            changed_by=changed_by,
            now=timezone.now(),
            source=source,
            note=note,
            connection=connection,
        )
    return len(change_ids)


def _selection(assignment_ids: Any) -> list[int]:
    """The selected ids, each checked, once each, in primary-key order (the lock order)."""
    if isinstance(assignment_ids, (str, bytes)):
        raise ValidationError({"assignment_ids": ["assignment_ids must be a list of ids."]})
    return sorted({validate_id(pk, "assignment_ids") for pk in assignment_ids})


def _lock_selection(ids: list[int], event_id: int | None, alias: str) -> list[tuple[int, str]]:
    """(id, status) of every selected row, locked in primary-key order so that overlapping
    bulk changes queue instead of deadlocking; DoesNotExist names the ids that are not there
    (with `event_id`: not in that event)."""
    selected = EventRecipientPackage.objects.using(alias).filter(pk__in=ids)
    if event_id is not None:
        selected = selected.filter(event_id=event_id)
    locked = selected.select_for_update(of=("self",)).order_by("pk")
    rows = list(locked.values_list("pk", "fulfillment_status"))
    missing = set(ids) - {row[0] for row in rows}
    if missing:
        where = f" in event {event_id}" if event_id is not None else ""
        raise EventRecipientPackage.DoesNotExist(
            f"Assignments {', '.join(map(str, sorted(missing)))} do not exist{where}."
        )
    return rows


def _blocked_rows(ids: list[int], alias: str) -> list[BlockedRow]:
    # Names are needed only to explain a refusal: read them then, not on every call.
    return [
        BlockedRow(pk, recipient, package, status)
        for pk, status, recipient, package in EventRecipientPackage.objects.using(alias)
        .filter(pk__in=ids)
        .order_by("pk")
        .values_list("pk", "fulfillment_status", "recipient__name", "package__name")
    ]


def _undo_reason(reason: Any) -> str:
    validate_text(reason, "reason")
    if not reason.strip():
        raise ValidationError({"reason": [UNDO_REASON_REQUIRED]}, code="required")
    return reason.strip()


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
        return qn(concrete_field(EventRecipientPackage, name).column)

    ids = ", ".join(["%s"] * count)
    update = (
        f"UPDATE {table} SET {column('fulfillment_status')} = %s, "
        f"{column('status_changed_at')} = %s, {column('updated_at')} = %s "
        f"WHERE {pk} IN ({ids})"
    )
    columns = ", ".join(
        qn(concrete_field(FulfillmentStatusChange, name).column)
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
    expected_status: str,
    connection: BaseDatabaseWrapper,
    changed_by: Any = None,
    source: str = ChangeSource.PAGE,
) -> EventRecipientPackage:
    """Step one assignment back one status (delivered -> ready -> pending).

    Needs the undo permission, a reason, which is kept in the history like any change, and
    the status the caller saw (`expected_status`): the step goes back from that status only.
    A row already one step below it (this undo posted again, or a colleague was faster) is
    left as it is, no history; any other status is refused as stale, with the row as it is.
    """
    require_atomic(connection, "undo_fulfillment_status")
    reason = _undo_reason(reason)
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
    if _stepped_back_already(assignment, expected_status):
        return assignment  # already stepped back from what the caller saw
    _refuse_if_stale(assignment, expected_status)
    target = previous_status(current)
    if target is None:
        raise InvalidTransitionError(UNDO_NOTHING, current=current, requested=current)
    return _record_change(assignment, target, changed_by, source, reason, connection)


def _expected_statuses(expected_status: Any, ids: list[int]) -> dict[int, str]:
    """The status the caller saw for each selected row, each checked."""
    if not isinstance(expected_status, Mapping):
        raise ValidationError(
            {"expected_status": ["expected_status must map each selected id to its status."]}
        )
    missing = [pk for pk in ids if pk not in expected_status]
    if missing:
        raise ValidationError(
            {"expected_status": [UNDO_UNSEEN.format(ids=", ".join(map(str, missing)))]}
        )
    return {pk: _validate_status(expected_status[pk], "expected_status") for pk in ids}


def _undo_plan(
    rows: list[tuple[int, str]], seen: dict[int, str], alias: str
) -> list[tuple[int, str]]:
    """The rows to step back, as (id, status); a row already one step below what was seen is
    left out; pending or moved rows refuse the whole change (BulkTransitionError)."""
    steps: list[tuple[int, str]] = []
    pending: list[tuple[int, str]] = []
    stale: list[int] = []
    for pk, current in rows:
        if current == seen[pk]:
            (steps if previous_status(current) else pending).append((pk, current))
        elif current != previous_status(seen[pk]):
            stale.append(pk)
    for ids, message in (([pk for pk, _ in pending], BULK_UNDO_REFUSED), (stale, BULK_UNDO_STALE)):
        if ids:
            blocked = _blocked_rows(ids, alias)
            raise BulkTransitionError(
                BulkTransitionError.text(message, blocked),
                blocked=blocked,
                requested="previous",
            )
    return steps


def bulk_undo_fulfillment_status(
    assignment_ids: Iterable[int],
    *,
    reason: str,
    expected_status: Mapping[int, str],
    connection: BaseDatabaseWrapper,
    changed_by: Any = None,
    source: str = ChangeSource.ADMIN,
) -> int:
    """Step many assignments back one status each, all or nothing; returns how many changed.

    `expected_status` maps each selected id to the status the caller saw; each row goes
    back from that status (delivered -> ready, ready -> pending). A row already one step
    below it (the same confirmation posted again) is left as it is, not counted, no
    history. A pending row, or one that moved to another status meanwhile, refuses the
    whole change with BulkTransitionError listing those rows as they now are. Rows are
    locked in primary-key order; the number of statements does not grow with the selection
    (one update and one history insert per source status).
    """
    require_atomic(connection, "bulk_undo_fulfillment_status")
    reason = _undo_reason(reason)
    ids = _selection(assignment_ids)
    seen = _expected_statuses(expected_status, ids)
    source = _validate_source(source)
    _check_permission(changed_by, UNDO_STATUS_PERM, UNDO_STATUS_ACTION, connection)
    if not ids:
        return 0
    steps = _undo_plan(_lock_selection(ids, None, connection.alias), seen, connection.alias)
    now = timezone.now()
    for current in (FulfillmentStatus.DELIVERED, FulfillmentStatus.READY):
        group = [pk for pk, status in steps if status == current]
        to_status = previous_status(current)  # never None from delivered or ready
        if group and to_status is not None:
            _step_rows(
                group,
                from_status=current,
                to_status=to_status,
                changed_by=changed_by,
                now=now,
                source=source,
                note=reason,
                connection=connection,
            )
    return len(steps)


def _own_last_step(assignment: EventRecipientPackage, changed_by: Any, connection) -> None:
    """Refuse unless the row's latest change is a step forward `changed_by` made within
    TAKE_BACK_WINDOW. Read under the row's lock, so no change can slip in between."""
    current = assignment.fulfillment_status
    last = (
        FulfillmentStatusChange.objects.using(connection.alias)
        .filter(assignment_id=assignment.pk)
        .select_related("changed_by")
        .order_by("-changed_at", "-id")
        .first()
    )
    if last is None or not last.is_step_forward or last.to_status != current:
        raise InvalidTransitionError(
            TAKE_BACK_NOTHING.format(current=current), current=current, requested="previous"
        )
    if last.changed_by_id != changed_by.pk:
        author = last.changed_by.get_username() if last.changed_by else "a script"
        raise PermissionDenied(TAKE_BACK_NOT_YOURS.format(author=author))
    if not last.may_be_taken_back_by(changed_by, timezone.now()):
        minutes = int(TAKE_BACK_WINDOW.total_seconds() // 60)
        raise InvalidTransitionError(
            TAKE_BACK_TOO_LATE.format(minutes=minutes), current=current, requested="previous"
        )


def take_back_fulfillment_status(
    assignment_id: int,
    *,
    expected_status: str,
    connection: BaseDatabaseWrapper,
    changed_by: Any,
) -> EventRecipientPackage:
    """Take back the step `changed_by` just made: the row goes back one status, without a
    reason, if its latest change is that user's step forward to `expected_status`, made
    within TAKE_BACK_WINDOW (so only until someone else changes the row). Needs the
    permission to move statuses; a step by anyone else, or an older one, is left to a
    coordinator's undo with a reason.

    Locks the row like every change. A row already one step below `expected_status` (the
    take-back posted twice) is left as it is; any other status than the one seen is stale.
    One history row, source "take_back", by `changed_by`.
    """
    require_atomic(connection, "take_back_fulfillment_status")
    expected_status = _validate_status(expected_status, "expected_status")
    if changed_by is None:
        raise PermissionDenied(TAKE_BACK_NOBODY)
    assignment = _locked_to_move(assignment_id, connection, changed_by)
    if _stepped_back_already(assignment, expected_status):
        return assignment  # already taken back
    _refuse_if_stale(assignment, expected_status)
    _own_last_step(assignment, changed_by, connection)
    target = previous_status(assignment.fulfillment_status)
    assert target is not None  # a forward step was the latest change
    return _record_change(assignment, target, changed_by, ChangeSource.TAKE_BACK, "", connection)
