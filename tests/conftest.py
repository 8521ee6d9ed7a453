import os
import shutil
from pathlib import Path

import pytest
from django.db import connection, transaction
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

# The Playwright sync API runs an event loop in the test thread; without this Django refuses
# ORM calls from browser tests (even while creating the test database).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

# Hypothesis: a quick default for local runs, at least 200 examples per endpoint in CI
# (`make test` sets HYPOTHESIS_PROFILE=ci). Tests reset the database per example
# themselves, so function-scoped fixtures are fine; requests are not time-boxed.
hypothesis_settings.register_profile(
    "dev",
    max_examples=25,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
# CI is derandomized: the same 200 examples per endpoint on every run, so a red build
# always means a change broke something, never that a new random draw found an old bug.
# Local runs stay random and keep exploring (a failure prints the blob to replay it).
hypothesis_settings.register_profile(
    "ci",
    parent=hypothesis_settings.get_profile("dev"),
    max_examples=200,
    derandomize=True,
    print_blob=True,
)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
E2E_DIR = Path(__file__).parent / "e2e"


@pytest.fixture(autouse=True, scope="session")
def _collected_static_files(django_test_environment):
    """Pages link hashed static names from the manifest (the production storage); `make test`
    collects them first, a plain `pytest` on a fresh clone does it here."""
    from django.conf import settings
    from django.contrib.staticfiles.storage import staticfiles_storage
    from django.core.management import call_command

    if not (Path(settings.STATIC_ROOT) / staticfiles_storage.manifest_name).exists():
        call_command("collectstatic", interactive=False, verbosity=0)


@pytest.fixture(autouse=True, scope="session")
def _live_server_serves_static_like_production():
    """live_server would answer /static/ from the finders, which know no hashed names; hand
    those requests to the app instead, whose whitenoise serves the collected files as in
    production (imported by live_server when it starts, so patched before)."""
    from django.contrib.staticfiles import handlers

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(handlers, "StaticFilesHandler", lambda application: application)
        yield


@pytest.fixture(autouse=True)
def _fresh_cache():
    """No test inherits another's cached values (the cache may be shared: CACHE_URL)."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def atomic():
    """Run the code under test inside a transaction on the default connection, as a view does;
    yields that connection."""
    with transaction.atomic():
        yield connection


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user(username="planner", password="pw-planner-1")


@pytest.fixture
def superuser(django_user_model):
    return django_user_model.objects.create_superuser(
        username="boss", password="pw-boss-1", email="boss@example.com"
    )


def is_browser_test(item) -> bool:
    return E2E_DIR in Path(item.path).parents


def pytest_collection_modifyitems(config, items):
    # The hook sees the whole session's items: mark exactly those under tests/e2e/, so a
    # missing browser skips the browser tests and nothing else.
    for item in items:
        if is_browser_test(item):
            item.add_marker(pytest.mark.e2e)
    if os.path.exists(CHROMIUM):
        return
    if os.environ.get("REQUIRE_E2E"):
        raise pytest.UsageError(f"Browser tests required but Chromium not found at {CHROMIUM}")
    skip = pytest.mark.skip(reason=f"Chromium not found at {CHROMIUM}; set CHROMIUM_PATH")
    for item in items:
        if "e2e" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }


@pytest.fixture
def role_user(django_user_model):
    """A signed-in-able user in one of the role groups."""
    from django.contrib.auth.models import Group

    def make(role: str, username: str | None = None):
        user = django_user_model.objects.create_user(
            username=username or role.lower(), password="pw-role-1"
        )
        user.groups.add(Group.objects.get(name=role))
        return user

    return make


@pytest.fixture
def planner_client(client, role_user):
    client.force_login(role_user("Planners"))
    return client


@pytest.fixture
def packer_client(client, role_user):
    client.force_login(role_user("Packers"))
    return client
