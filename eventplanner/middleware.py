"""Middleware for what every response needs: a Content-Security-Policy, a 503 page when the
database is unavailable, a sign-in page that replaces the whole page for htmx, and a limit on
failed sign-ins."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.core.cache import cache
from django.db import InterfaceError, OperationalError
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.shortcuts import resolve_url
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django_htmx.http import HttpResponseClientRedirect

logger = logging.getLogger("eventplanner.reliability")

# Errors that mean "the database cannot serve this request right now" (connection lost,
# server restarting, lock or statement timeout, deadlock victim): worth a retry, not a bug.
DATABASE_UNAVAILABLE_ERRORS = (OperationalError, InterfaceError)
RETRY_AFTER_SECONDS = 5


class ContentSecurityPolicyMiddleware:
    """Send settings.CONTENT_SECURITY_POLICY on every response that has none yet."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        policy = settings.CONTENT_SECURITY_POLICY
        # Django's own debug pages (DEBUG only) are built with inline styles and scripts.
        debug_page = settings.DEBUG and response.status_code in (404, 500)
        if policy and not debug_page and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = policy
        return response


def database_unavailable_response() -> HttpResponse:
    """The 503 page, rendered without the request: no context processor, session or user
    lookup may touch the database that just failed."""
    response = HttpResponse(render_to_string("503.html"), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


class DatabaseUnavailableMiddleware:
    """Turn a database that went away while a view ran into a 503 page (htmx shows its own
    message for a 503), and log it. The view's transaction has already been rolled back by
    its atomic block; Django closes the broken connection when the request ends, so the
    next request opens a fresh one."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> Any:
        if not isinstance(exception, DATABASE_UNAVAILABLE_ERRORS):
            return None
        logger.error(
            "Database unavailable while handling %s %s: %s",
            request.method,
            request.path,
            exception,
            exc_info=exception,
        )
        response = database_unavailable_response()
        patch_vary_headers(response, ["HX-Request"])
        return response


class HtmxLoginRedirectMiddleware:
    """When a signed-out user's htmx request is redirected to the login page, send the whole
    browser there (HX-Redirect), coming back to the page they were on, instead of letting
    htmx swap the login form into a fragment of the page."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        htmx = getattr(request, "htmx", None)
        if not htmx or response.status_code != 302:
            return response
        login_url = resolve_url(settings.LOGIN_URL)
        if not response["Location"].startswith(login_url):
            return response
        back_to = htmx.current_url_abs_path or "/"
        return HttpResponseClientRedirect(f"{login_url}?{urlencode({'next': back_to})}")


# ---------------------------------------------------------------------------------------
# Login rate limiting
# ---------------------------------------------------------------------------------------

TOO_MANY_ATTEMPTS = (
    "Too many failed sign-in attempts for this username from your network. "
    "Wait {minutes} minutes and try again, or ask a coordinator to reset your password."
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
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR", "")


def _attempts_key(username: str, ip: str) -> str:
    digest = hashlib.sha256(f"{username.strip().lower()}|{ip}".encode()).hexdigest()
    return f"login-failures:{digest}"


def login_blocked(username: str, ip: str) -> bool:
    return cache.get(_attempts_key(username, ip), 0) >= settings.LOGIN_RATE_LIMIT


@receiver(user_login_failed, dispatch_uid="eventplanner.count_failed_login")
def count_failed_login(sender: Any, credentials: dict, request: HttpRequest | None = None, **kw):
    if request is None:
        return  # not a sign-in through a page (a script or a test calling authenticate())
    key = _attempts_key(str(credentials.get("username", "")), client_ip(request))
    # Counted from the last failure. get + set is not atomic across processes: a burst of
    # parallel guesses may slip a few past the limit, which still caps guessing at a crawl.
    cache.set(key, cache.get(key, 0) + 1, timeout=settings.LOGIN_RATE_WINDOW)


@receiver(user_logged_in, dispatch_uid="eventplanner.reset_failed_logins")
def reset_failed_logins(sender: Any, request: HttpRequest | None, user: Any, **kwargs) -> None:
    if request is not None:
        cache.delete(_attempts_key(user.get_username(), client_ip(request)))


class LoginRateLimitMiddleware:
    """Answer 429 to a sign-in (the site's or the admin's) for a username and address that
    failed LOGIN_RATE_LIMIT times within LOGIN_RATE_WINDOW seconds, even with the right
    password, so guessing cannot continue; a successful sign-in resets the count."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method == "POST" and request.path_info in (
            reverse("login"),
            reverse("admin:login"),
        ):
            username = request.POST.get("username", "")
            if login_blocked(username, client_ip(request)):
                minutes = max(1, settings.LOGIN_RATE_WINDOW // 60)
                logger.warning("Sign-in rate limit reached for %r", username[:150])
                response = HttpResponse(
                    render_to_string(
                        "429.html", {"message": TOO_MANY_ATTEMPTS.format(minutes=minutes)}
                    ),
                    status=429,
                )
                response["Retry-After"] = str(settings.LOGIN_RATE_WINDOW)
                return response
        return self.get_response(request)
