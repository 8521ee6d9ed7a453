"""The three roles as permission groups: Planners, Packers, Coordinators.

Created by a data migration and kept in sync after every migrate (and after the test
database is flushed) by a post_migrate handler, so new permissions reach the roles too.
"""

from __future__ import annotations

from typing import Any

PLANNING_MODELS = [
    "event",
    "recipe",
    "finishedgood",
    "finishedgoodcomponent",
    "eventproductiontarget",
    "eventassemblytarget",
    "productionrun",
    "assemblyrun",
]
FULFILLMENT_MODELS = ["recipient", "package", "packageitem", "eventrecipientpackage"]

VIEW_ALL = [("planning", f"view_{m}") for m in PLANNING_MODELS] + [
    ("fulfillment", f"view_{m}") for m in [*FULFILLMENT_MODELS, "fulfillmentstatuschange"]
]
EDIT_PLANS = [
    ("planning", f"{action}_{m}") for m in PLANNING_MODELS for action in ("add", "change", "delete")
] + [
    ("fulfillment", f"{action}_{m}")
    for m in FULFILLMENT_MODELS
    for action in ("add", "change", "delete")
]
MOVE_STATUS = [("fulfillment", "change_fulfillment_status")]
UNDO_STATUS = [("fulfillment", "undo_fulfillment_status")]
# Unlock a sign-in locked after too many failures: delete its access attempt in the admin.
UNLOCK_SIGN_IN = [("axes", "view_accessattempt"), ("axes", "delete_accessattempt")]

ROLES: dict[str, list[tuple[str, str]]] = {
    "Planners": VIEW_ALL + EDIT_PLANS,
    "Packers": VIEW_ALL + MOVE_STATUS,
    "Coordinators": VIEW_ALL + EDIT_PLANS + MOVE_STATUS + UNDO_STATUS + UNLOCK_SIGN_IN,
}


def sync_roles(group_model: Any, permission_model: Any, using: str) -> None:
    """Create the role groups and set exactly their permissions (idempotent)."""
    for name, perms in ROLES.items():
        group, _ = group_model.objects.using(using).get_or_create(name=name)
        wanted = [
            permission_model.objects.using(using).get(
                content_type__app_label=app_label, codename=codename
            )
            for app_label, codename in perms
        ]
        group.permissions.set(wanted)


def sync_roles_in_migration(apps: Any, schema_editor: Any) -> None:
    """A data migration's step: the roles as the table above says, on the migrated database.

    Permissions are normally created after migrate; they are created here first so the groups
    can reference them on a fresh database. Every migration that changes the table calls this,
    so each brings existing databases in line the same way."""
    from django.contrib.auth.management import create_permissions

    alias = schema_editor.connection.alias
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0, using=alias)
        app_config.models_module = None
    sync_roles(apps.get_model("auth", "Group"), apps.get_model("auth", "Permission"), alias)


def sync_roles_after_migrate(sender, using: str = "default", apps=None, **kwargs) -> None:
    if apps is None:
        from django.apps import apps as global_apps

        apps = global_apps
    try:
        group_model = apps.get_model("auth", "Group")
        permission_model = apps.get_model("auth", "Permission")
    except LookupError:
        return
    sync_roles(group_model, permission_model, using)
