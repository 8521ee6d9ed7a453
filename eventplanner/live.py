"""Live pages: the validator of what a page part shows, the signed token a page hands to its
poll, and the poll endpoint's cheap "nothing changed" answer.

What a part shows changes only when a row it reads changes; database triggers
(planning/migrations/0004_live_versions.py) bump a counter per event, and row 0 for the
catalog, in the same transaction as every write. A part's *state* is those counters (plus
what else it depends on, such as today's date), read in one indexed query.

A page renders its part with a token: the state, the part and the session it was issued to,
signed and expiring. A poll sends it back (X-Live-Token); if it verifies, belongs to this
part and this session cookie, and the state is unchanged, the answer is 204 with no body,
without loading the session or the user and without rendering anything. Anything else takes
the full path, which requires the real signed-in session: 401 when signed out, otherwise the
part's fresh rows and a new token.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, fields, is_dataclass
from datetime import date
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core import signing
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.utils.crypto import salted_hmac
from django.views.decorators.http import condition

TOKEN_HEADER = "HTTP_X_LIVE_TOKEN"
# A token older than this takes the full path once (which checks the session and the
# permissions again) and is replaced: a signed-out or demoted user is noticed within it.
TOKEN_MAX_AGE = 10 * 60
CATALOG = 0
SALT = "eventplanner.live"
SIGNED_OUT = "You are signed out. Sign in again to see your colleagues' changes."


def poll_seconds() -> int:
    return settings.LIVE_POLL_SECONDS


# ---------------------------------------------------------------------------------------
# State: one indexed query on the counters
# ---------------------------------------------------------------------------------------


def event_versions(event_id: int) -> list[int]:
    """The counters of an event and of the catalog (a deleted event's row stays, so a
    page of it notices the delete)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT event_id, version FROM planning_eventversion WHERE event_id IN (%s, %s)",
            [event_id, CATALOG],
        )
        found = dict(cursor.fetchall())
    return [found.get(event_id, 0), found.get(CATALOG, 0)]


def all_versions() -> list[int]:
    """The sum of every counter and the number of events ever counted: it grows with any
    change to any event (a new event adds a row, a deleted one bumps its row)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT COALESCE(SUM(version), 0), COUNT(*) FROM planning_eventversion")
        total, count = cursor.fetchone()
    return [int(total), int(count)]


@dataclass(frozen=True)
class Part:
    """A page that follows the data: its name, the view that renders its poll, and how to
    read its state from the URL's arguments."""

    name: str
    url_name: str
    state_of: Callable[[dict[str, Any]], list]

    def key(self, kwargs: dict[str, Any]) -> str:
        return ":".join([self.name, *(str(kwargs[k]) for k in sorted(kwargs))])

    def state(self, request: HttpRequest, kwargs: dict[str, Any]) -> list:
        """Read once per request: the page's ETag and its token share it. Read before the
        page's data, so a write committed in between makes the next poll fetch again
        instead of being missed."""
        cached = getattr(request, "_live_state", None)
        if cached is None:
            cached = self.state_of(kwargs)
            setattr(request, "_live_state", cached)  # noqa: B010 (HttpRequest declares no such field)
        return cached


def _event_state(kwargs: dict[str, Any]) -> list:
    return event_versions(kwargs["event_id"])


def _events_state(kwargs: dict[str, Any]) -> list:
    # "in 28 days" on each card changes at midnight without any write.
    return [*all_versions(), timezone.localdate().isoformat()]


FULFILLMENT = Part("fulfillment", "fulfillment:live", _event_state)
DASHBOARD = Part("dashboard", "planning:dashboard_live", _event_state)
EVENTS = Part("events", "planning:events_live", _events_state)


# ---------------------------------------------------------------------------------------
# Tokens
# ---------------------------------------------------------------------------------------


def _session_tag(request: HttpRequest) -> str:
    """Binds a token to the session cookie it was issued for, without loading the
    session: a token copied to another browser or user does not verify."""
    key = request.COOKIES.get(settings.SESSION_COOKIE_NAME, "")
    return salted_hmac(SALT, key).hexdigest()[:24] if key else ""


def issue_token(request: HttpRequest, part: Part, kwargs: dict[str, Any]) -> str:
    payload = [_session_tag(request), part.key(kwargs), part.state(request, kwargs)]
    return signing.dumps(payload, salt=SALT, compress=False)


def unchanged(request: HttpRequest, part: Part, kwargs: dict[str, Any]) -> bool:
    """True when the request's token is this part's, this session's, recent, and its state
    is the current one."""
    token = request.META.get(TOKEN_HEADER, "")
    tag = _session_tag(request)
    if not token or not tag:
        return False
    try:
        issued_tag, key, state = signing.loads(token, salt=SALT, max_age=TOKEN_MAX_AGE)
    except (signing.BadSignature, ValueError, TypeError):
        return False
    if issued_tag != tag or key != part.key(kwargs):
        return False
    return state == part.state(request, kwargs)


def page_context(request: HttpRequest, part: Part, **kwargs: Any) -> dict[str, Any]:
    """What a page's template needs to poll: None when live updates are off."""
    seconds = poll_seconds()
    if seconds <= 0:
        return {"live": None}
    return {
        "live": {
            "url": reverse(part.url_name, kwargs=kwargs),
            "token": issue_token(request, part, kwargs),
            "seconds": seconds,
        }
    }


# ---------------------------------------------------------------------------------------
# The poll endpoint
# ---------------------------------------------------------------------------------------


def no_change() -> HttpResponse:
    return HttpResponse(status=204)


def signed_out() -> HttpResponse:
    # Not a redirect to the sign-in page: that would be swapped into the page or, through
    # HX-Redirect, take the user away from what they are typing. The script stops polling.
    response = HttpResponse(SIGNED_OUT, status=401, content_type="text/plain; charset=utf-8")
    response["WWW-Authenticate"] = 'Cookie realm="eventplanner"'
    return response


def poll_view(part: Part) -> Callable[[Callable], Callable]:
    """Wrap a part's renderer `render(request, **kwargs) -> HttpResponse` as its poll
    endpoint: 204 while unchanged, 401 when signed out, else the fresh part with its new
    token in the X-Live-Token header."""

    def decorator(render: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(render)
        def view(request: HttpRequest, **kwargs: Any) -> HttpResponse:
            if request.method not in ("GET", "HEAD"):
                return HttpResponse(status=405, headers={"Allow": "GET, HEAD"})
            if unchanged(request, part, kwargs):
                response = no_change()
            elif not request.user.is_authenticated:
                response = signed_out()
            else:
                part.state(request, kwargs)  # before the part's data: see Part.state
                response = render(request, **kwargs)
                if response.status_code == 200:
                    response["X-Live-Token"] = issue_token(request, part, kwargs)
            patch_cache_control(response, private=True, no_store=True)
            return response

        return view

    return decorator


def row_ids_header(response: HttpResponse, ids: list[str]) -> HttpResponse:
    """Which rows the part now holds, so the page can mark rows that left it and offer
    rows that joined it."""
    response["X-Live-Rows"] = ",".join(ids)
    return response


# ---------------------------------------------------------------------------------------
# Full page loads: ordinary HTTP validators from the same state
# ---------------------------------------------------------------------------------------


def _page_etag(part: Part) -> Callable[..., str | None]:
    def etag(request: HttpRequest, **kwargs: Any) -> str | None:
        if not request.user.is_authenticated:
            return None
        state = part.state(request, kwargs)  # before the page's data: see Part.state
        if len(messages.get_messages(request)):
            return None  # a page with a message to show is always rendered
        parts = [
            part.key(kwargs),
            state,
            request.user.pk,
            request.get_full_path(),
            # A page cached with a CSRF token of an older secret would fail its next POST.
            request.COOKIES.get(settings.CSRF_COOKIE_NAME, ""),
            request.headers.get("HX-Request", ""),
            request.headers.get("HX-Target", ""),
            request.headers.get("HX-History-Restore-Request", ""),
            timezone.localdate().isoformat(),
            poll_seconds(),
        ]
        return hashlib.blake2b(repr(parts).encode(), digest_size=12).hexdigest()

    return etag


def conditional_page(part: Part) -> Callable[[Callable], Callable]:
    """Answer a repeat load of an unchanged page (browser back, a second tab) with 304;
    the browser revalidates every time (no-cache) and keeps it private."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        conditioned = condition(etag_func=_page_etag(part))(view)

        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            response = conditioned(request, *args, **kwargs)
            patch_cache_control(response, private=True, no_cache=True)
            patch_vary_headers(response, ["Cookie"])
            return response

        return wrapped

    return decorator


# ---------------------------------------------------------------------------------------
# Row digests
# ---------------------------------------------------------------------------------------

# What a row shows that is the user's own state, not the data.
_NOT_SHOWN = frozenset({"checked"})
_PLAIN = (str, int, float, bool, type(None), date)


def _plain(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return tuple(
            _plain(getattr(value, f.name)) for f in fields(value) if f.name not in _NOT_SHOWN
        )
    if isinstance(value, _PLAIN):
        return value
    if isinstance(value, list | tuple):
        return tuple(_plain(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((str(k), _plain(v)) for k, v in value.items()))
    return str(value)


def digest(*values: Any) -> str:
    """A short fingerprint of what a row shows, the same in every process: the page swaps
    only rows whose fingerprint changed."""
    return hashlib.blake2b(repr(_plain(values)).encode(), digest_size=8).hexdigest()
