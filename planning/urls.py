from django.urls import path, register_converter

import eventplanner.converters  # noqa: F401  (registers the <id:...> converter)
from planning import catalog_views, views


class TargetKindConverter:
    regex = "production|assembly"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(TargetKindConverter, "kind")

app_name = "planning"

urlpatterns = [
    path("", views.event_list, name="event_list"),
    path("events/new/", views.event_create, name="event_create"),
    path("events/<id:event_id>/", views.event_detail, name="event_detail"),
    path("events/<id:event_id>/edit/", views.event_edit, name="event_edit"),
    path("events/<id:event_id>/delete/", views.event_delete, name="event_delete"),
    path("events/<id:event_id>/clone/", views.event_clone, name="event_clone"),
    path(
        "events/<id:event_id>/production-targets/",
        views.production_target_add,
        name="production_target_add",
    ),
    path(
        "events/<id:event_id>/assembly-targets/",
        views.assembly_target_add,
        name="assembly_target_add",
    ),
    path(
        "events/<id:event_id>/targets/<kind:kind>/<id:item_id>/",
        views.target_row,
        name="target_row",
    ),
    path(
        "events/<id:event_id>/targets/<kind:kind>/<id:item_id>/edit/",
        views.target_edit,
        name="target_edit",
    ),
    path(
        "events/<id:event_id>/targets/<kind:kind>/<id:item_id>/delete/",
        views.target_delete,
        name="target_delete",
    ),
    path(
        "events/<id:event_id>/production-runs/",
        views.production_run_add,
        name="production_run_add",
    ),
    path("events/<id:event_id>/assembly-runs/", views.assembly_run_add, name="assembly_run_add"),
    path(
        "events/<id:event_id>/runs/<kind:kind>/<id:run_id>/delete/",
        views.run_delete,
        name="run_delete",
    ),
    path("events/<id:event_id>/needs/", views.event_needs, name="event_needs"),
    path("events/<id:event_id>/needs/apply/", views.needs_apply, name="needs_apply"),
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
