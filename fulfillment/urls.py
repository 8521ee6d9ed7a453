from django.urls import path

import eventplanner.converters  # noqa: F401  (registers the <id:...> converter)
from fulfillment import views

app_name = "fulfillment"

_row = "events/<id:event_id>/fulfillment/<id:assignment_id>/"

urlpatterns = [
    path(
        "events/<id:event_id>/fulfillment/",
        views.event_fulfillment,
        name="event_fulfillment",
    ),
    path(
        "events/<id:event_id>/fulfillment/bulk/",
        views.bulk_status,
        name="bulk_status",
    ),
    path(
        "events/<id:event_id>/fulfillment/new/",
        views.assignment_new,
        name="assignment_new",
    ),
    path(
        "events/<id:event_id>/fulfillment/export.csv",
        views.export_csv,
        name="export_csv",
    ),
    path(
        "events/<id:event_id>/packing-list/",
        views.packing_list,
        name="packing_list",
    ),
    path(
        "events/<id:event_id>/checklist/",
        views.delivery_checklist,
        name="delivery_checklist",
    ),
    path(_row, views.assignment_detail, name="assignment_detail"),
    path(f"{_row}status/", views.assignment_status, name="assignment_status"),
    path(f"{_row}history/", views.assignment_history, name="assignment_history"),
    path(f"{_row}undo/", views.assignment_undo, name="assignment_undo"),
    path(f"{_row}edit/", views.assignment_edit, name="assignment_edit"),
    path(f"{_row}remove/", views.assignment_remove, name="assignment_remove"),
    path("recipients/", views.recipient_list, name="recipient_list"),
    path("recipients/new/", views.recipient_new, name="recipient_new"),
    path("recipients/<id:recipient_id>/", views.recipient_detail, name="recipient_detail"),
    path("recipients/<id:recipient_id>/edit/", views.recipient_edit, name="recipient_edit"),
    path(
        "recipients/<id:recipient_id>/delete/",
        views.recipient_delete,
        name="recipient_delete",
    ),
    path("packages/", views.package_list, name="package_list"),
    path("packages/new/", views.package_new, name="package_new"),
    path("packages/<id:package_id>/", views.package_detail, name="package_detail"),
    path("packages/<id:package_id>/edit/", views.package_edit, name="package_edit"),
    path("packages/<id:package_id>/delete/", views.package_delete, name="package_delete"),
]
