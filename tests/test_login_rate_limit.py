"""Failed sign-ins are limited per username and address (settings.LOGIN_RATE_LIMIT within
LOGIN_RATE_WINDOW seconds), on the site's and the admin's login page."""

import time

import pytest
from django.urls import reverse

from eventplanner.middleware import TOO_MANY_ATTEMPTS

pytestmark = pytest.mark.django_db

LOGIN = reverse("login")
ADMIN_LOGIN = reverse("admin:login")


@pytest.fixture
def pat(django_user_model):
    return django_user_model.objects.create_user(
        username="pat", password="right-pw-1", is_staff=True
    )


def _login(client, password, username="pat", url=LOGIN, ip="203.0.113.7", **extra):
    return client.post(url, {"username": username, "password": password}, REMOTE_ADDR=ip, **extra)


def _fail(client, times, **kwargs):
    for _ in range(times):
        response = _login(client, "wrong", **kwargs)
        assert response.status_code == 200  # the form again, with its error


def test_sixth_attempt_after_five_failures_is_refused_even_with_the_right_password(client, pat):
    _fail(client, 5)
    response = _login(client, "right-pw-1")
    assert response.status_code == 429
    assert response["Retry-After"] == "900"
    assert TOO_MANY_ATTEMPTS.format(minutes=15) in response.content.decode()
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
    assert _login(client, "right-pw-1", username="PAT").status_code == 429  # case-insensitive


def test_admin_login_is_limited_too(client, pat):
    _fail(client, 5, url=ADMIN_LOGIN)
    response = _login(client, "right-pw-1", url=ADMIN_LOGIN)
    assert response.status_code == 429
    assert "Too many failed sign-in attempts" in response.content.decode()


def test_the_block_ends_after_the_window(client, pat, settings):
    settings.LOGIN_RATE_WINDOW = 1
    _fail(client, 5)
    assert _login(client, "right-pw-1").status_code == 429
    time.sleep(1.1)
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
