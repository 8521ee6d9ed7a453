"""System checks for what an operator can get wrong in a deployment. They run with
`check --deploy` and when gunicorn starts with deploy/gunicorn.conf.py, so a broken release
refuses to start instead of answering 500."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.staticfiles.storage import ManifestFilesMixin, staticfiles_storage
from django.core.checks import Error, Tags, Warning, register
from django.core.exceptions import ImproperlyConfigured


# Deploy checks (`check --deploy`, run by deploy/gunicorn.conf.py before any worker starts):
# a production start refuses without them, while commands that serve nothing
# (`makemigrations --check`, `collectstatic`, which writes the manifest) run in a checkout
# that has no key, no DEBUG and no collected files.
@register("static_manifest", deploy=True)
def static_manifest_exists(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """With DEBUG off every {% static %} is looked up in the manifest; without it every page
    fails with "Missing staticfiles manifest entry"."""
    storage = staticfiles_storage
    if settings.DEBUG or not isinstance(storage, ManifestFilesMixin):
        return []
    manifest = Path(settings.STATIC_ROOT) / storage.manifest_name
    if manifest.exists():
        return []
    return [
        Error(
            f"The static files manifest {manifest} is missing, so every page would fail.",
            hint="Run `python manage.py collectstatic --noinput` with this environment "
            "(the same STATIC_ROOT) before starting the app.",
            id="eventplanner.E001",
        )
    ]


SECRET_KEY_MISSING = (
    "SECRET_KEY must be set in the environment when DEBUG is off "
    "(for development on this machine, set DEBUG=true)."
)


@register(Tags.security, deploy=True)
def secret_key_is_set(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """Sessions, CSRF tokens and signed live-page tokens all need the key; without DEBUG no
    development key stands in for it."""
    try:
        settings.SECRET_KEY  # noqa: B018 (Django refuses an empty key when it is read)
    except ImproperlyConfigured:
        return [Error(SECRET_KEY_MISSING, id="eventplanner.E002")]
    return []


@register(Tags.security, deploy=True)
def time_zone_is_chosen(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    """Left on the UTC default, "today" and history times are wrong for most bakeries in the
    evening; an operator who means UTC says so."""
    if "TIME_ZONE" in os.environ:
        return []
    return [
        Warning(
            "TIME_ZONE is not set: dates and times are shown in UTC.",
            hint="Set TIME_ZONE to the bakery's zone (e.g. America/Chicago), or to UTC.",
            id="eventplanner.W001",
        )
    ]
