"""Fulfillment pages, one module per page: the packing page of an event (`page`), moving rows
through the workflow (`status`), one assignment (`assignments`), what leaves the screen
(`exports`), and the recipient and package catalogs (`catalog`).

Every view parses its input and then reads in the same beats: load what the URL names, try
the change, reload what the answer shows, respond (eventplanner.htmx.respond). Each phase is
its own short `transaction.atomic()` in the view's body, never in a helper, and nothing is
rendered while one is open. A refused change is caught outside its atomic block (Attempt), so
it has rolled back before it is shown. For htmx the view answers with the fragment it changed
(django-template-partials); without JavaScript a POST redirects after it is done.
"""

from fulfillment.views._common import RowDisplay, RowDisplayer
from fulfillment.views.assignments import (
    assignment_detail,
    assignment_edit,
    assignment_history,
    assignment_new,
    assignment_remove,
)
from fulfillment.views.catalog import (
    catalog_delete,
    catalog_detail,
    catalog_form,
    catalog_list,
)
from fulfillment.views.exports import csv_safe, delivery_checklist, export_csv, packing_list
from fulfillment.views.page import event_fulfillment
from fulfillment.views.status import (
    assignment_status,
    assignment_take_back,
    assignment_undo,
    bulk_status,
)

__all__ = [
    "RowDisplay",
    "RowDisplayer",
    "assignment_detail",
    "assignment_edit",
    "assignment_history",
    "assignment_new",
    "assignment_remove",
    "assignment_status",
    "assignment_take_back",
    "assignment_undo",
    "bulk_status",
    "catalog_delete",
    "catalog_detail",
    "catalog_form",
    "catalog_list",
    "csv_safe",
    "delivery_checklist",
    "event_fulfillment",
    "export_csv",
    "packing_list",
]
