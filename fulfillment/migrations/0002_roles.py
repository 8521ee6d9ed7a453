"""Permission groups for the three roles: Planners, Packers, Coordinators."""

from django.db import migrations


def create_roles(apps, schema_editor):
    from fulfillment.roles import sync_roles_in_migration

    sync_roles_in_migration(apps, schema_editor)


def remove_roles(apps, schema_editor):
    from fulfillment.roles import ROLES

    Group = apps.get_model("auth", "Group")
    Group.objects.using(schema_editor.connection.alias).filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("fulfillment", "0001_initial"),
        ("planning", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
