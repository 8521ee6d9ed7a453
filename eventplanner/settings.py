"""Settings for eventplanner.

Everything that differs between a laptop and production comes from the environment:
DATABASE_URL (default: an SQLite file under var/), SECRET_KEY, DEBUG, ALLOWED_HOSTS,
CACHE_URL, and the HTTPS settings below. With DEBUG off the secure defaults apply, and
`manage.py check --deploy` is clean (tests/test_production_settings.py).
"""

import os
import zoneinfo
from datetime import timedelta
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("EVENTPLANNER_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return default if value is None or not value.strip() else int(value)


# Off unless asked for: a deployment that forgets DEBUG must not serve debug pages signed with
# the development key below. `make` and the test settings turn it on for development.
DEBUG = env_bool("DEBUG", False)

_DEV_SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production"
# Empty without DEBUG unless set: the system check eventplanner.E002 then refuses `check`,
# `migrate`, `runserver` and gunicorn's start, while commands that sign nothing
# (`makemigrations --check`, `collectstatic`) still run; Django refuses any signing itself.
SECRET_KEY = os.environ.get("SECRET_KEY", _DEV_SECRET_KEY if DEBUG else "")

ALLOWED_HOSTS = [
    h.strip()
    for h in os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]").split(",")
    if h.strip()
]
CSRF_TRUSTED_ORIGINS = [
    o.strip() for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "axes",
    "template_partials.apps.SimpleAppConfig",
    # The project's own system checks and static files (eventplanner/static).
    "eventplanner.apps.EventplannerConfig",
    "planning",
    "fulfillment",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # Picks the browser's English variant so dates read the way the user writes them.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "eventplanner.middleware.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "eventplanner.middleware.HtmxLoginRedirectMiddleware",
    # Turns a sign-in refused for too many failures into the 429 page.
    "axes.middleware.AxesMiddleware",
    # Last, so its process_exception sees a view's database error first.
    "eventplanner.middleware.DatabaseUnavailableMiddleware",
]

ROOT_URLCONF = "eventplanner.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
            # Partials as a builtin: `{% partialdef %}` works in every template and moving
            # to Django 6's core partials later is a settings change.
            "builtins": ["template_partials.templatetags.partials"],
            "loaders": [
                (
                    "template_partials.loader.Loader",
                    [
                        (
                            "django.template.loaders.cached.Loader",
                            [
                                "django.template.loaders.filesystem.Loader",
                                "django.template.loaders.app_directories.Loader",
                            ],
                        )
                    ],
                )
            ],
        },
    },
]

WSGI_APPLICATION = "eventplanner.wsgi.application"

SQLITE_OPTIONS = {
    # IMMEDIATE takes the write lock at BEGIN, so concurrent writers queue instead of
    # failing with "database is locked" when a reader upgrades to a writer.
    "transaction_mode": "IMMEDIATE",
    "timeout": 5,
    "init_command": (
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
        "PRAGMA busy_timeout=5000; PRAGMA foreign_keys=ON;"
    ),
}


def database_from_env(url: str | None, sqlite_path: Path) -> dict[str, Any]:
    if url:
        config: dict[str, Any] = dict(
            dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True)
        )
        if config["ENGINE"] == "django.db.backends.sqlite3":
            config["OPTIONS"] = {**SQLITE_OPTIONS, **config.get("OPTIONS", {})}
        return config
    # Kept open between requests like PostgreSQL's: opening a SQLite connection runs four
    # PRAGMAs and cost 2.6-3.3 ms a request, ten times an unchanged live poll's own work.
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": sqlite_path,
        "OPTIONS": dict(SQLITE_OPTIONS),
        "CONN_MAX_AGE": 60,
        "CONN_HEALTH_CHECKS": True,
    }


VAR_DIR.mkdir(parents=True, exist_ok=True)
DATABASES = {
    "default": database_from_env(os.environ.get("DATABASE_URL"), VAR_DIR / "eventplanner.sqlite3")
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# axes first: it refuses a locked-out sign-in before any password is checked.
AUTHENTICATION_BACKENDS = [
    "eventplanner.signin.SignInLimitBackend",
    "django.contrib.auth.backends.ModelBackend",
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
# The interface is in English; the variant decides how dates are written
# (Dec. 24, 2026 / 24 Dec 2026 / 2026-12-24 formats follow the browser's language).
LANGUAGES = [
    ("en", "English (US)"),
    ("en-gb", "English (UK)"),
    ("en-au", "English (Australia)"),
    ("en-ca", "English (Canada)"),
]
# Where the bakery is: "today", run dates and history times are shown in it.
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
try:
    zoneinfo.ZoneInfo(TIME_ZONE)
except (zoneinfo.ZoneInfoNotFoundError, ValueError) as error:
    raise ImproperlyConfigured(
        f"TIME_ZONE={TIME_ZONE!r} is not a time zone name; use one like America/Chicago."
    ) from error
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
# One storage everywhere: `collectstatic` writes the same hashed files and manifest whatever
# DEBUG is, so a release step cannot produce a tree the app then fails to serve. With DEBUG on
# (runserver) the storage links unhashed names and whitenoise serves them from the apps.
# Without the manifest, production pages would all fail: the eventplanner.E001 check says so.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}

# ---------------------------------------------------------------------------------------
# HTTPS and browser security. Secure by default when DEBUG is off; each can be overridden
# from the environment (see README, "Production deployment").
# ---------------------------------------------------------------------------------------

# Behind a reverse proxy that terminates TLS, trust its X-Forwarded-Proto header (only
# when the proxy always sets it: otherwise a client could claim https itself).
if env_bool("TRUST_X_FORWARDED_PROTO", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
# Load balancers probe the app directly over plain http: answer them, never redirect.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_HTTPONLY = True
# The CSRF token reaches htmx through the page (hx-headers on <body>), never from the
# cookie, so scripts need no access to it.
CSRF_COOKIE_HTTPONLY = True
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Only the app's own scripts and styles: htmx is served from our static files and every
# script is a file (no inline <script>, no style attributes, no eval). The Django admin
# works under the same policy (tests/test_security_headers.py loads it in Chromium and
# fails on any CSP violation), so no relaxed policy is needed for /admin/.
CONTENT_SECURITY_POLICY = os.environ.get(
    "CONTENT_SECURITY_POLICY",
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'self'; object-src 'none'",
)

# ---------------------------------------------------------------------------------------
# Cache. The default is per process (LocMem); with several app processes or machines, point
# CACHE_URL at a shared cache: "db://eventplanner_cache" (a table in the shared database,
# created with `manage.py createcachetable`) or "redis://host:6379/0". /readyz checks it.
# ---------------------------------------------------------------------------------------


def cache_from_env(url: str | None) -> dict:
    if not url or url.startswith("locmem://"):
        return {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    if url.startswith("db://"):
        return {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": url.removeprefix("db://") or "eventplanner_cache",
        }
    if url.startswith(("redis://", "rediss://")):
        return {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}
    if url.startswith("dummy://"):
        return {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}
    raise ImproperlyConfigured(f"CACHE_URL must be locmem://, db://TABLE or redis://... ({url!r})")


CACHES = {"default": cache_from_env(os.environ.get("CACHE_URL"))}

# ---------------------------------------------------------------------------------------
# Sign-in limits (django-axes, eventplanner/signin.py). After AXES_FAILURE_LIMIT failures for
# one username from one address, or LOGIN_ADDRESS_FAILURE_LIMIT from one address across
# usernames, sign-in there answers 429 until AXES_COOLOFF_MINUTES after the last failure, or
# until staff unlock it. Counted in the database: the same for every process and machine.
# ---------------------------------------------------------------------------------------
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
LOGIN_ADDRESS_FAILURE_LIMIT = env_int("LOGIN_ADDRESS_FAILURE_LIMIT", 30)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_HANDLER = "eventplanner.signin.SignInPolicyHandler"
AXES_USERNAME_CALLABLE = "eventplanner.signin.lockout_username"
AXES_CLIENT_IP_CALLABLE = "eventplanner.signin.client_ip"
AXES_LOCKOUT_CALLABLE = "eventplanner.signin.lockout_response"
# A successful sign-in clears that username's failures from that address.
AXES_RESET_ON_SUCCESS = True
# Failures while locked out do not extend the block: the page promises a fixed time.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# How many reverse proxies in front of the app append to X-Forwarded-For; 0 means
# REMOTE_ADDR is the client (no proxy).
NUM_PROXIES = env_int("NUM_PROXIES", 0)

# ---------------------------------------------------------------------------------------
# Live pages: how often an open events list, dashboard or fulfillment page asks whether a
# colleague changed something (a conditional poll, answered 204 when nothing did); 0 turns
# live updates off.
# ---------------------------------------------------------------------------------------
LIVE_POLL_SECONDS = env_int("LIVE_POLL_SECONDS", 5)
