"""What the fulfillment services refuse, and why: the messages users see (module constants,
so tests can assert them) and the errors that carry them with the data a page needs to
explain the refusal.
"""

from __future__ import annotations

from dataclasses import dataclass

from eventplanner.domain import DomainError
from fulfillment.models import EventRecipientPackage

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
TAKE_BACK_NOBODY = "Only the person who made a step can take it back; a script cannot."
TAKE_BACK_NOT_YOURS = (
    "Only {author} can take back this step: they made it. A coordinator can undo it with a reason."
)
TAKE_BACK_TOO_LATE = (
    "This step can no longer be taken back: that is possible for {minutes} minutes after "
    "making it. A coordinator can undo it with a reason."
)
TAKE_BACK_NOTHING = "This package has no step of yours to take back: it is {current}."
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

    @staticmethod
    def text(message: str, blocked: list[BlockedRow], **names: str) -> str:
        """`message` with how many rows it refuses and which, as a user sees them."""
        return message.format(count=len(blocked), rows="; ".join(map(str, blocked)), **names)


class DuplicateAssignmentError(DomainError):
    def __init__(self, message: str, *, existing: EventRecipientPackage) -> None:
        super().__init__(message, code="duplicate")
        self.existing = existing


BULK_UNDO_STALE = (
    "Nothing was changed: {count} of the selected packages changed after the page was shown "
    "and are now: {rows}. Check them and select again."
)
UNDO_UNSEEN = "The status seen is missing for packages {ids}; show the selection again and confirm."
BULK_UNDO_REFUSED = (
    "Nothing was changed: {count} of the selected packages are pending and have no earlier "
    "status to go back to: {rows}."
)
