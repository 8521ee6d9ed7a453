"""Failed sign-ins are limited (django-axes, eventplanner/signin.py): 5 per username and
address within 15 minutes, a higher cap per address across usernames, on the site's and
the admin's sign-in; staff unlock from the admin or with a command."""

import time
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from tests.concurrency import run_concurrently

pytestmark = pytest.mark.django_db

LOGIN = reverse("login")
ADMIN_LOGIN = reverse("admin:login")
IP = "203.0.113.7"


@pytest.fixture
def pat(django_user_model):
    return django_user_model.objects.create_user(
        username="pat", password="right-pw-1", is_staff=True
    )


def _login(client, password, username="pat", url=LOGIN, ip=IP, **extra):
    return client.post(url, {"username": username, "password": password}, REMOTE_ADDR=ip, **extra)


def _fail(client, times, **kwargs):
    """Sign in with a wrong password `times` times: the form again with its error, until the
    fifth failure, which answers with the lockout page (five guesses, then no more)."""
    for attempt in range(1, times + 1):
        response = _login(client, "wrong", **kwargs)
        assert response.status_code == (429 if attempt >= 5 else 200)


def test_after_five_failures_the_right_password_is_refused_too(client, pat):
    _fail(client, 5)
    response = _login(client, "right-pw-1")
    assert response.status_code == 429
    assert response["Retry-After"] == "900"
    page = response.content.decode()
    assert "blocked for 15 minutes after the last failed attempt" in page
    assert "a coordinator or an administrator can unlock it sooner" in page
    assert "reset your password" not in page  # a new password would not unblock anyone
    assert "_auth_user_id" not in client.session


def test_four_failures_do_not_block(client, pat):
    _fail(client, 4)
    assert _login(client, "right-pw-1").status_code == 302


def test_success_resets_the_count(client, pat):
    _fail(client, 4)
    assert _login(client, "right-pw-1").status_code == 302
    client.logout()
    _fail(client, 4)
    assert _login(client, "right-pw-1").status_code == 302


def test_the_limit_is_per_username_and_address(client, pat, django_user_model):
    django_user_model.objects.create_user(username="sam", password="sam-pw-1")
    _fail(client, 5)
    assert _login(client, "right-pw-1", ip="198.51.100.9").status_code == 302
    client.logout()
    assert _login(client, "sam-pw-1", username="sam").status_code == 302
    client.logout()
    assert _login(client, "right-pw-1", username="PAT ").status_code == 429  # case, spaces


def test_one_address_guessing_many_usernames_is_capped(client, pat, settings):
    settings.LOGIN_ADDRESS_FAILURE_LIMIT = 8
    _fail(client, 4, username="ann")  # under the per-username limit
    _fail(client, 3, username="bob")
    # The eighth failure from this address reaches the cap: every username is refused now.
    assert _login(client, "wrong", username="bob").status_code == 429
    assert _login(client, "right-pw-1").status_code == 429
    # The control: the same user from another address is not affected.
    assert _login(client, "right-pw-1", ip="198.51.100.9").status_code == 302


def test_admin_login_is_limited_too(client, pat):
    _fail(client, 5, url=ADMIN_LOGIN)
    response = _login(client, "right-pw-1", url=ADMIN_LOGIN)
    assert response.status_code == 429
    assert "Too many failed sign-in attempts" in response.content.decode()


def test_the_block_ends_after_the_cool_off(client, pat, settings):
    settings.AXES_COOLOFF_TIME = timedelta(seconds=1)
    _fail(client, 5)
    assert _login(client, "right-pw-1").status_code == 429
    time.sleep(1.1)
    assert _login(client, "right-pw-1").status_code == 302


def test_failures_while_locked_out_do_not_extend_the_block(client, pat, settings):
    settings.AXES_COOLOFF_TIME = timedelta(seconds=1)
    _fail(client, 5)
    time.sleep(0.6)
    assert _login(client, "wrong").status_code == 429
    time.sleep(0.5)
    assert _login(client, "right-pw-1").status_code == 302


def test_behind_a_proxy_the_forwarded_client_address_counts(client, pat, settings):
    settings.NUM_PROXIES = 1
    _fail(client, 5, HTTP_X_FORWARDED_FOR="192.0.2.1")
    # Same proxy address, another client behind it: not blocked.
    assert _login(client, "right-pw-1", HTTP_X_FORWARDED_FOR="192.0.2.2").status_code == 302
    client.logout()
    # A forged leftmost entry does not escape the block: the proxy appends the real address.
    forged = _login(client, "right-pw-1", HTTP_X_FORWARDED_FOR="10.9.9.9, 192.0.2.1")
    assert forged.status_code == 429


def _staff_client(django_user_model, username: str, role: str) -> Client:
    """A client signed in as a new staff member of the role's group."""
    user = django_user_model.objects.create_user(username=username, is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    staff = Client()
    staff.force_login(user)
    return staff


def test_a_coordinator_unlocks_a_sign_in_from_the_admin(client, pat, django_user_model):
    _fail(client, 5)
    staff = _staff_client(django_user_model, "cora", "Coordinators")
    attempt = AccessAttempt.objects.get(username="pat", ip_address=IP)
    listing = staff.get(reverse("admin:axes_accessattempt_changelist"))
    assert listing.status_code == 200
    assert "pat" in listing.content.decode()
    delete = reverse("admin:axes_accessattempt_delete", args=[attempt.pk])
    assert staff.post(delete, {"post": "yes"}).status_code == 302
    assert _login(client, "right-pw-1").status_code == 302


def test_a_planner_cannot_unlock(client, pat, django_user_model):
    _fail(client, 5)
    staff = _staff_client(django_user_model, "plan", "Planners")
    attempt = AccessAttempt.objects.get(username="pat")
    delete = reverse("admin:axes_accessattempt_delete", args=[attempt.pk])
    assert staff.post(delete, {"post": "yes"}).status_code == 403
    assert _login(client, "right-pw-1").status_code == 429


@pytest.mark.parametrize(
    ("command", "arguments"),
    [("axes_reset_username", ["pat"]), ("axes_reset_ip", [IP]), ("axes_reset", [])],
)
def test_staff_unlock_with_a_management_command(client, pat, command, arguments):
    _fail(client, 5)
    assert _login(client, "right-pw-1").status_code == 429
    call_command(command, *arguments, stdout=None)
    assert _login(client, "right-pw-1").status_code == 302


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    "not __import__('django.db').db.connection.features.has_select_for_update",
    reason="concurrent counting needs PostgreSQL's row locks (SQLite serialises writers)",
)
def test_concurrent_failures_are_counted_exactly(pat, settings):
    settings.AXES_FAILURE_LIMIT = 100  # count them all, none refused
    threads = 16
    results = run_concurrently(threads, lambda i: _login(Client(), "wrong").status_code)
    assert results == [("ok", 200)] * threads
    assert AccessAttempt.objects.get(username="pat", ip_address=IP).failures_since_start == 16


def test_authenticate_without_a_request_checks_only_the_password(pat):
    from django.contrib.auth import authenticate

    assert authenticate(username="pat", password="right-pw-1") == pat
    assert authenticate(username="pat", password="wrong") is None


def test_an_overlong_username_is_counted_not_a_server_error(client, pat):
    long_name = "x" * 5000
    _fail(client, 5, username=long_name)
    assert AccessAttempt.objects.get(ip_address=IP).username == long_name[:255]


def test_a_forwarded_value_that_is_no_address_falls_back_to_the_peer(client, pat, settings):
    settings.NUM_PROXIES = 1
    assert _login(client, "wrong", HTTP_X_FORWARDED_FOR="not-an-ip").status_code == 200
    assert AccessAttempt.objects.get(username="pat").ip_address == IP
