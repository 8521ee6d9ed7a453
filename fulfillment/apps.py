from django.apps import AppConfig
from django.db.models.signals import post_migrate


class FulfillmentConfig(AppConfig):
    name = "fulfillment"
    verbose_name = "Fulfillment"

    def ready(self) -> None:
        from fulfillment.roles import sync_roles_after_migrate

        # Runs after every app's permissions exist (this app is last in INSTALLED_APPS
        # among those with permissions the roles use).
        post_migrate.connect(sync_roles_after_migrate, sender=self)
