"""The sign-in policy, on django-axes: after AXES_FAILURE_LIMIT failures for one username
from one address within the cool-off, or LOGIN_ADDRESS_FAILURE_LIMIT failures from one
address across usernames, sign-in there answers 429 (site and admin) until the cool-off
passes after the last failure or staff unlock it (admin, "Access attempts", or
`manage.py axes_reset_username` / `axes_reset_ip`). Counts live in the database, so every
app process and machine sees the same ones."""

from __future__ import annotations

import ipaddress
from typing import Any

from axes.attempts import get_cool_off_threshold
from axes.backends import AxesStandaloneBackend
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_cool_off, get_failure_limit
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Sum
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string

USERNAME_COLUMN = 255  # axes.models.AccessAttempt.username
LOCKED_OUT = (
    "Too many failed sign-in attempts from your network. Sign-in here is blocked for "
    "{minutes} minutes after the last failed attempt, even with the right password; a "
    "coordinator or an administrator can unlock it sooner (admin, Access attempts)."
)


def client_ip(request: HttpRequest) -> str:
    """The client's address: REMOTE_ADDR, or with NUM_PROXIES trusted proxies in front, the
    address the outermost of them saw (earlier X-Forwarded-For entries can be forged)."""
    proxies = settings.NUM_PROXIES
    if proxies > 0:
        forwarded = [
            part.strip()
            for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
            if part.strip()
        ]
        if len(forwarded) >= proxies and _is_address(forwarded[-proxies]):
            return forwarded[-proxies]
    return str(request.META.get("REMOTE_ADDR", ""))


def _is_address(value: str) -> bool:
    # Stored in an IP address column: anything else would fail the sign-in with a 500.
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def lockout_username(request: HttpRequest, credentials: dict[str, Any] | None) -> str:
    """Usernames are counted ignoring case and surrounding spaces: "PAT " is "pat"; cut to
    the attempts' column (no real username is that long: Django allows 150)."""
    source = credentials if credentials is not None else request.POST
    field = getattr(settings, "AXES_USERNAME_FORM_FIELD", "username")  # set by axes at import
    username = source.get(field) or source.get("username") or ""
    return str(username).strip().lower()[:USERNAME_COLUMN]


def cool_off_minutes() -> int:
    cool_off = get_cool_off()
    return max(1, int(cool_off.total_seconds() // 60)) if cool_off else 0


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None, credentials: Any = None
) -> HttpResponse:
    message = LOCKED_OUT.format(minutes=cool_off_minutes())
    response = HttpResponse(
        render_to_string("429.html", {"message": message}, request=request), status=429
    )
    cool_off = get_cool_off(request)
    if cool_off:
        response["Retry-After"] = str(int(cool_off.total_seconds()))
    return response


class SignInPolicyHandler(AxesDatabaseHandler):
    """axes' database handler (row-locked counts, shared by all processes) with a second,
    higher cap per address across usernames: one address guessing many usernames is stopped
    too, without locking a shared office network out after a few honest typos."""

    def get_failures(self, request: HttpRequest, credentials: dict | None = None) -> int:
        failures = super().get_failures(request, credentials)
        if self.address_failures(request) >= settings.LOGIN_ADDRESS_FAILURE_LIMIT:
            # In the per-username limit's units, so axes' one comparison locks both out.
            return max(failures, get_failure_limit(request, credentials))
        return failures

    @staticmethod
    def address_failures(request: HttpRequest) -> int:
        attempts = AccessAttempt.objects.filter(
            ip_address=request.axes_ip_address,  # type: ignore[attr-defined]
            attempt_time__gte=get_cool_off_threshold(request),
        )
        return attempts.aggregate(total=Sum("failures_since_start"))["total"] or 0


class SignInLimitBackend(AxesStandaloneBackend):
    """axes' lockout check for sign-ins through a page. `authenticate()` without a request (a
    management command, a script, the shell) is not a sign-in from an address: it passes on
    to the password check instead of failing, as it did before the limit existed."""

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> None:
        if request is None:
            return None
        return super().authenticate(request, username, password, **kwargs)
