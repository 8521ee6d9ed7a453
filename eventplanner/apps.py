from django.apps import AppConfig


class EventplannerConfig(AppConfig):
    name = "eventplanner"
    verbose_name = "eventplanner"

    def ready(self) -> None:
        from eventplanner import checks  # noqa: F401  (registers the system checks)
