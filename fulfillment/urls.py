from django.urls import path

import eventplanner.converters  # noqa: F401  (registers the <id:...> converter)
from fulfillment import views
from fulfillment.views import live

app_name = "fulfillment"

_row = "events/<id:event_id>/fulfillment/<id:assignment_id>/"


def _catalog_routes(catalog: str, base: str) -> list:
    """The same five pages for each catalog; the path names the entry by `<catalog>_id`."""
    entry = f"{base}<id:{catalog}_id>/"
    kind = {"catalog": catalog}
    return [
        path(base, views.catalog_list, kind, name=f"{catalog}_list"),
        path(f"{base}new/", views.catalog_form, kind, name=f"{catalog}_new"),
        path(entry, views.catalog_detail, kind, name=f"{catalog}_detail"),
        path(f"{entry}edit/", views.catalog_form, kind, name=f"{catalog}_edit"),
        path(f"{entry}delete/", views.catalog_delete, kind, name=f"{catalog}_delete"),
    ]


urlpatterns = [
    path(
        "events/<id:event_id>/fulfillment/",
        views.event_fulfillment,
        name="event_fulfillment",
    ),
    path("events/<id:event_id>/fulfillment/live/", live.fulfillment_live, name="live"),
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
    path(f"{_row}take-back/", views.assignment_take_back, name="assignment_take_back"),
    path(f"{_row}edit/", views.assignment_edit, name="assignment_edit"),
    path(f"{_row}remove/", views.assignment_remove, name="assignment_remove"),
    *[
        route
        for catalog, base in (("recipient", "recipients/"), ("package", "packages/"))
        for route in _catalog_routes(catalog, base)
    ],
]
