from django.urls import path, register_converter

import eventplanner.converters  # noqa: F401  (registers the <id:...> converter)
from planning import catalog_views
from planning.views import dashboard, events, live, needs, runs, targets


class TargetKindConverter:
    regex = "production|assembly"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(TargetKindConverter, "kind")


EVENT = "events/<id:event_id>/"
TARGET = f"{EVENT}targets/<kind:kind>/<id:item_id>/"


def kind_urls(kind: str) -> list:
    """Adding a target and recording a run of one kind: one view each, told the kind."""
    which = {"kind": kind}
    return [
        path(f"{EVENT}{kind}-targets/", targets.target_add, which, name=f"{kind}_target_add"),
        path(f"{EVENT}{kind}-runs/", runs.run_add, which, name=f"{kind}_run_add"),
    ]


def catalog_urls(prefix: str, name: str, catalog: str) -> list:
    """A catalog's pages: one view each, told the catalog."""
    which = {"catalog": catalog}
    return [
        path(prefix, catalog_views.catalog_list, which, name=f"{name}_list"),
        path(f"{prefix}new/", catalog_views.catalog_form, which, name=f"{name}_create"),
        path(f"{prefix}<id:pk>/edit/", catalog_views.catalog_form, which, name=f"{name}_edit"),
        path(
            f"{prefix}<id:pk>/delete/", catalog_views.catalog_delete, which, name=f"{name}_delete"
        ),
    ]


app_name = "planning"

urlpatterns = [
    path("", events.event_list, name="event_list"),
    path("events/live/", live.events_live, name="events_live"),
    path("events/new/", events.event_create, name="event_create"),
    path(EVENT, dashboard.event_detail, name="event_detail"),
    path(f"{EVENT}live/", live.dashboard_live, name="dashboard_live"),
    path(f"{EVENT}edit/", events.event_edit, name="event_edit"),
    path(f"{EVENT}delete/", events.event_delete, name="event_delete"),
    path(f"{EVENT}clone/", events.event_clone, name="event_clone"),
    *kind_urls("production"),
    *kind_urls("assembly"),
    path(TARGET, targets.target_row, name="target_row"),
    path(f"{TARGET}edit/", targets.target_edit, name="target_edit"),
    path(f"{TARGET}delete/", targets.target_delete, name="target_delete"),
    path(f"{EVENT}runs/<kind:kind>/<id:run_id>/delete/", runs.run_delete, name="run_delete"),
    path(f"{EVENT}needs/", needs.event_needs, name="event_needs"),
    path(f"{EVENT}needs/apply/", needs.needs_apply, name="needs_apply"),
    *catalog_urls("recipes/", "recipe", "recipes"),
    *catalog_urls("finished-goods/", "finished_good", "finished_goods"),
]
