"""Test settings: the app's settings plus a second database alias.

The second alias ("other") exists so tests can prove that services use only the connection
they are given. With DATABASE_URL set (PostgreSQL), both aliases live on that server.
"""

import os

# The tests run the development configuration (their own secret key, no https redirect);
# set before the settings read it. The production one is tested in subprocesses.
os.environ.setdefault("DEBUG", "true")

from .settings import *  # noqa: F403
from .settings import DATABASES, VAR_DIR, database_from_env

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

_url = os.environ.get("DATABASE_URL")
_worker = os.environ.get("PYTEST_XDIST_WORKER", "main")

if _url:
    DATABASES["default"]["TEST"] = {"NAME": f"test_eventplanner_{_worker}"}
    DATABASES["other"] = database_from_env(_url, VAR_DIR / "unused.sqlite3")
    DATABASES["other"]["TEST"] = {"NAME": f"test_eventplanner_other_{_worker}"}
else:
    # File-backed test databases: an in-memory database shared with live_server threads
    # gives "database table is locked".
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-default-{_worker}.sqlite3")}
    # Each test's live-server threads open their own connections; closing them after every
    # request keeps a finished thread from holding one across the test database's flush.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["other"] = database_from_env(None, VAR_DIR / "other.sqlite3")
    DATABASES["other"]["TEST"] = {"NAME": str(VAR_DIR / f"test-other-{_worker}.sqlite3")}
    DATABASES["other"]["CONN_MAX_AGE"] = 0

# Tests do not need collected files; whitenoise serves straight from the finders.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
