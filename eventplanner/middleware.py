"""Middleware for what every response needs: a Content-Security-Policy, a 503 page when the
database is unavailable, and a sign-in page that replaces the whole page for htmx. (Failed
sign-ins are limited by django-axes: eventplanner/signin.py.)"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import resolve_url
from django.template.loader import render_to_string
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
