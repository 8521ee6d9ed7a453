import os
from pathlib import Path

import pytest
from django.contrib.auth.models import Group

SCREENSHOTS = Path(os.environ.get("SCREENSHOT_DIR", Path(__file__).parents[2] / "test-artifacts"))
PHONE = {"width": 375, "height": 812}
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture
def make_user(django_user_model):
    def make(username: str, role: str | None = "Coordinators", **extra):
        user = django_user_model.objects.create_user(
            username=username, password=f"pw-{username}-1", **extra
        )
        if role:
            user.groups.add(Group.objects.get(name=role))
        return user

    return make


@pytest.fixture
def login(live_server):
    """Sign a user in through the real login form of the given page."""

    def do_login(page, user) -> None:
        page.goto(f"{live_server.url}/login/")
        page.get_by_label("Username").fill(user.username)
        page.get_by_label("Password").fill(f"pw-{user.username}-1")
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(lambda url: "/login/" not in url)

    return do_login


@pytest.fixture
def screenshot():
    """Save a full-page screenshot to test-artifacts/screenshots/<name>.png."""

    def take(page, name: str) -> Path:
        folder = SCREENSHOTS / "screenshots"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


def wait_for_htmx(page) -> None:
    """Wait until no htmx request, swap or settle is in progress on the page."""
    page.wait_for_function(
        "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling, "
        ".htmx-added')"
    )
    page.wait_for_timeout(50)
