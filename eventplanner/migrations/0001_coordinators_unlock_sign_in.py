"""Coordinators may unlock a locked-out sign-in (view and delete axes' access attempts): the
role table in fulfillment/roles.py says so, and this brings existing databases in line."""

from django.db import migrations


def sync_role_permissions(apps, schema_editor):
    from fulfillment.roles import sync_roles_in_migration

    sync_roles_in_migration(apps, schema_editor)


def remove_unlock_permission(apps, schema_editor):
    from fulfillment.roles import UNLOCK_SIGN_IN

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    alias = schema_editor.connection.alias
    coordinators = Group.objects.using(alias).filter(name="Coordinators").first()
    if coordinators is None:
        return
    for app_label, codename in UNLOCK_SIGN_IN:
        coordinators.permissions.remove(
            *Permission.objects.using(alias).filter(
                content_type__app_label=app_label, codename=codename
            )
        )


class Migration(migrations.Migration):
    dependencies = [
        ("fulfillment", "0002_roles"),
        ("axes", "0010_accessattemptexpiration"),
    ]

    operations = [migrations.RunPython(sync_role_permissions, remove_unlock_permission)]
