"""Small helpers shared by the apps' views for serving a page or its htmx fragment."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.cache import patch_vary_headers


def wants_fragment(request: HttpRequest) -> bool:
    # A history-restore request (back button with an empty htmx cache) needs the whole page.
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.history_restore_request


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
