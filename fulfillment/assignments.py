"""Assignments: giving a recipient a package for an event, changing its quantity or notes,
removing a pending one that never moved, and the histories of a recipient and of an
assignment. Public functions follow the service contract (README, "Transactions").
"""

from __future__ import annotations

import datetime

from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone

from eventplanner.domain import (
    DomainError,
    insert_unless_conflict,
    lock_referenced,
    require_atomic,
    require_exists,
    validate_id,
    validate_positive_int,
    validate_text,
)
from fulfillment.errors import (
    DUPLICATE_ASSIGNMENT,
    REMOVE_HAS_HISTORY,
    REMOVE_NOT_PENDING,
    DuplicateAssignmentError,
)
from fulfillment.models import (
    EventRecipientPackage,
    FulfillmentStatus,
    FulfillmentStatusChange,
    Package,
    Recipient,
)
from fulfillment.workflow import _locked
from planning.models import Event


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
    # Held until commit: a concurrent delete of any of them waits, then finds this row.
    lock_referenced(Event, event_id, "event_id", connection=connection)
    lock_referenced(Recipient, recipient_id, "recipient_id", connection=connection)
    lock_referenced(Package, package_id, "package_id", connection=connection)
    alias = connection.alias
    row = _new_assignment(event_id, (recipient_id, package_id, quantity, notes), timezone.now())
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


def get_recipient_history(
    recipient_id: int, *, connection: BaseDatabaseWrapper
) -> list[EventRecipientPackage]:
    """Every assignment of the recipient across events, newest event first, with the event
    and package loaded, so a planner can avoid giving the same thing twice."""
    require_atomic(connection, "get_recipient_history")
    require_exists(Recipient, recipient_id, "recipient_id", connection=connection)
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
    require_exists(EventRecipientPackage, assignment_id, "assignment_id", connection=connection)
    return list(
        FulfillmentStatusChange.objects.using(connection.alias)
        .filter(assignment_id=assignment_id)
        .select_related("changed_by")
        .order_by("changed_at", "id")
    )


# What an assignment is given, as a copy for another event takes it over.
_GIVEN = ("recipient_id", "package_id", "quantity", "notes")


def copy_assignments(
    source_event_id: int, target_event_id: int, *, connection: BaseDatabaseWrapper
) -> int:
    """Give every recipient of the source event the same packages for the target event (a
    copy for next season): new assignments, all pending, without history. Returns how many.
    Two queries whatever the number of assignments."""
    require_atomic(connection, "copy_assignments")
    require_exists(Event, source_event_id, "source_event_id", connection=connection)
    validate_id(target_event_id, "target_event_id")
    alias = connection.alias
    now = timezone.now()
    copies = EventRecipientPackage.objects.using(alias).bulk_create(
        _new_assignment(target_event_id, given, now)
        for given in EventRecipientPackage.objects.using(alias)
        .filter(event_id=source_event_id)
        .values_list(*_GIVEN)
    )
    return len(copies)


def _new_assignment(event_id: int, given: tuple, now: datetime.datetime) -> EventRecipientPackage:
    """An unsaved assignment of the event, pending, never moved (its status dates from its
    creation); `given` holds the values of _GIVEN."""
    return EventRecipientPackage(
        event_id=event_id,
        **dict(zip(_GIVEN, given, strict=True)),
        created_at=now,
        updated_at=now,
        status_changed_at=now,
    )
