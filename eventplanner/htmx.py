"""Small helpers shared by the apps' views for serving a page or its htmx fragment."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils.cache import patch_vary_headers


def apply_form_errors(form, error: ValidationError) -> None:
    """Show a service's ValidationError on the form: per field where the field exists."""
    if hasattr(error, "error_dict"):
        for field, errors in error.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error.messages)


def wants_fragment(request: HttpRequest) -> bool:
    # A history-restore request (back button with an empty htmx cache) and a boosted link
    # need the whole page.
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.boosted and not htmx.history_restore_request


def page_or_fragment(
    request: HttpRequest,
    template: str,
    fragment: str,
    context: dict,
    *,
    oob: tuple[str, ...] = (),
    status: int = 200,
) -> HttpResponse:
    """Render the whole page, or for htmx just `fragment` plus out-of-band `oob` fragments
    (each rendered with `oob=True` in its context so its root element can carry
    hx-swap-oob)."""
    if wants_fragment(request):
        parts = [render_to_string(f"{template}#{fragment}", context, request)]
        parts += [
            render_to_string(f"{template}#{name}", {**context, "oob": True}, request)
            for name in oob
        ]
        if context.get("flash"):
            parts.append(render_to_string("includes/messages_oob.html", context, request))
        response = HttpResponse("".join(parts), status=status)
    else:
        response = render(request, template, context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response


@dataclass(frozen=True)
class Outcome:
    """What an action came to, in words for the user."""

    level: str  # "success" | "warning" | "error"
    text: str


LEVELS = {"success": messages.SUCCESS, "warning": messages.WARNING, "error": messages.ERROR}


def respond(
    request: HttpRequest,
    outcome: Outcome,
    *,
    fragment: Callable[[], HttpResponse],
    redirect_to: str,
) -> HttpResponse:
    """After an action: for htmx the re-rendered fragment (which shows the outcome itself);
    without JavaScript the outcome as a message and a redirect (POST, redirect, GET)."""
    if wants_fragment(request):
        return fragment()
    messages.add_message(request, LEVELS[outcome.level], outcome.text)
    return redirect(redirect_to)


class HtmxLoginRedirectMiddleware:
    """When a signed-out user's htmx request is redirected to the login page, send the whole
    browser there (HX-Redirect), coming back to the page they were on, instead of letting
    htmx swap the login form into a fragment of the page."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        htmx = getattr(request, "htmx", None)
        if not htmx or response.status_code != 302:
            return response
        from urllib.parse import urlencode

        from django.conf import settings
        from django.shortcuts import resolve_url
        from django_htmx.http import HttpResponseClientRedirect

        login_url = resolve_url(settings.LOGIN_URL)
        if not response["Location"].startswith(login_url):
            return response
        back_to = htmx.current_url_abs_path or "/"
        return HttpResponseClientRedirect(f"{login_url}?{urlencode({'next': back_to})}")
