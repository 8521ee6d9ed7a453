from django.urls import path, register_converter

import eventplanner.converters  # noqa: F401  (registers the <id:...> converter)
from planning import catalog_views
from planning.views import dashboard, events, needs, runs, targets


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


app_name = "planning"

urlpatterns = [
    path("", events.event_list, name="event_list"),
    path("events/new/", events.event_create, name="event_create"),
    path(EVENT, dashboard.event_detail, name="event_detail"),
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
    # Catalog
    path("recipes/", catalog_views.recipe_list, name="recipe_list"),
    path("recipes/new/", catalog_views.recipe_create, name="recipe_create"),
    path("recipes/<id:pk>/edit/", catalog_views.recipe_edit, name="recipe_edit"),
    path("recipes/<id:pk>/delete/", catalog_views.recipe_delete, name="recipe_delete"),
    path("finished-goods/", catalog_views.finished_good_list, name="finished_good_list"),
    path("finished-goods/new/", catalog_views.finished_good_create, name="finished_good_create"),
    path(
        "finished-goods/<id:pk>/edit/",
        catalog_views.finished_good_edit,
        name="finished_good_edit",
    ),
    path(
        "finished-goods/<id:pk>/delete/",
        catalog_views.finished_good_delete,
        name="finished_good_delete",
    ),
]
