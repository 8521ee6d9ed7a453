"""Fulfillment services: the public contract of assignments, the status workflow and its
history, the fulfillment pages' reads and the recipients and packages catalog.

Callers (views, admin actions, management commands, tests) use these names and only these;
each is defined in the module named for what it holds, beside this one:

- fulfillment/workflow.py: status changes, one row or many, forward and one step back,
  and taking back one's own step;
- fulfillment/errors.py: what is refused and why (messages and error types);
- fulfillment/assignments.py: assign, edit, remove, copy for next season; a recipient's and
  an assignment's history;
- fulfillment/reads.py: an event's assignments, the page with its counts, exports, packing
  list and delivery checklist;
- fulfillment/catalog.py: recipients and packages.

The service contract (README, "Transactions"): every public function takes the caller's
database connection as the keyword-only `connection`, runs every query through that
connection's alias, refuses to run outside an atomic block on it and never opens, commits or
rolls back a transaction itself. A refused status change is a ValidationError subclass naming
the statuses; a missing permission of `changed_by` is PermissionDenied (None is a trusted
caller such as a management command). tests/test_transaction_discipline.py holds every public
function of these modules to it.
"""

from fulfillment.assignments import (
    assign_package,
    copy_assignments,
    get_recipient_history,
    get_status_history,
    remove_assignment,
    update_assignment,
)
from fulfillment.catalog import (
    NAME_REQUIRED,
    PACKAGE_IN_USE,
    PACKAGE_ITEM_TWICE,
    PACKAGE_NAME_TAKEN,
    RECIPIENT_IN_USE,
    CatalogPage,
    create_package,
    create_recipient,
    delete_package,
    delete_recipient,
    get_package,
    list_packages,
    list_recipients,
    search_packages,
    search_recipients,
    update_package,
    update_recipient,
)
from fulfillment.errors import (
    BULK_REFUSED,
    BULK_UNDO_REFUSED,
    BULK_UNDO_STALE,
    DUPLICATE_ASSIGNMENT,
    NO_PERMISSION,
    REMOVE_HAS_HISTORY,
    REMOVE_NOT_PENDING,
    STALE_STATUS,
    TAKE_BACK_NOT_YOURS,
    TAKE_BACK_NOTHING,
    TAKE_BACK_TOO_LATE,
    TRANSITION_REFUSED,
    UNDO_NOTHING,
    UNDO_REASON_REQUIRED,
    BlockedRow,
    BulkTransitionError,
    DuplicateAssignmentError,
    InvalidTransitionError,
    StaleStatusError,
)
from fulfillment.models import TAKE_BACK_WINDOW
from fulfillment.reads import (
    MAX_PER_PAGE,
    AssignmentPage,
    AssignmentRow,
    ExportRow,
    HouseholdStop,
    PackedGood,
    PackedPackage,
    PackingSection,
    StatusCounts,
    get_assignment_row,
    get_delivery_checklist,
    get_export_rows,
    get_packages_by_status,
    get_packing_list,
    get_status_counts,
    list_assignment_rows,
    list_event_assignments,
)
from fulfillment.workflow import (
    CHANGE_STATUS_PERM,
    UNDO_STATUS_PERM,
    bulk_undo_fulfillment_status,
    bulk_update_fulfillment_status,
    take_back_fulfillment_status,
    undo_fulfillment_status,
    update_fulfillment_status,
)

__all__ = [
    # The status workflow
    "update_fulfillment_status",
    "bulk_update_fulfillment_status",
    "undo_fulfillment_status",
    "bulk_undo_fulfillment_status",
    "take_back_fulfillment_status",
    "TAKE_BACK_WINDOW",
    "CHANGE_STATUS_PERM",
    "UNDO_STATUS_PERM",
    # What is refused, and why
    "InvalidTransitionError",
    "StaleStatusError",
    "BulkTransitionError",
    "BlockedRow",
    "DuplicateAssignmentError",
    "TRANSITION_REFUSED",
    "STALE_STATUS",
    "TAKE_BACK_NOT_YOURS",
    "TAKE_BACK_TOO_LATE",
    "TAKE_BACK_NOTHING",
    "BULK_REFUSED",
    "BULK_UNDO_REFUSED",
    "BULK_UNDO_STALE",
    "UNDO_REASON_REQUIRED",
    "UNDO_NOTHING",
    "NO_PERMISSION",
    "DUPLICATE_ASSIGNMENT",
    "REMOVE_NOT_PENDING",
    "REMOVE_HAS_HISTORY",
    # Assignments and histories
    "assign_package",
    "copy_assignments",
    "update_assignment",
    "remove_assignment",
    "get_recipient_history",
    "get_status_history",
    # Reads
    "get_packages_by_status",
    "list_assignment_rows",
    "get_status_counts",
    "list_event_assignments",
    "get_assignment_row",
    "get_export_rows",
    "get_packing_list",
    "get_delivery_checklist",
    "AssignmentRow",
    "StatusCounts",
    "AssignmentPage",
    "ExportRow",
    "PackedGood",
    "PackedPackage",
    "PackingSection",
    "HouseholdStop",
    "MAX_PER_PAGE",
    # The catalog
    "list_recipients",
    "search_recipients",
    "create_recipient",
    "update_recipient",
    "delete_recipient",
    "list_packages",
    "search_packages",
    "get_package",
    "create_package",
    "update_package",
    "delete_package",
    "CatalogPage",
    "NAME_REQUIRED",
    "PACKAGE_NAME_TAKEN",
    "PACKAGE_ITEM_TWICE",
    "RECIPIENT_IN_USE",
    "PACKAGE_IN_USE",
]
