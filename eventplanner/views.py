"""Project-level views that belong to no app: the liveness and readiness checks and the error
views that must work while the database does not."""

from __future__ import annotations

import logging
import sys
import uuid

from django.core.cache import cache
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, HttpResponseServerError
from django.template.loader import render_to_string
from django.views.decorators.http import require_GET

from eventplanner.middleware import (
    DATABASE_UNAVAILABLE_ERRORS,
    RETRY_AFTER_SECONDS,
    database_unavailable_response,
)

logger = logging.getLogger("eventplanner.reliability")


@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness check for load balancers and monitoring: no sign-in, no database query.
    The benchmark also uses it as the ceiling of what a page of this app can serve."""
    return HttpResponse("ok", content_type="text/plain")


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: a database error raised outside a view (in a middleware, e.g. while the
    session is saved) still gets the 503 page; anything else the plain 500 page. Neither
    touches the database."""
    exception = sys.exc_info()[1]
    if isinstance(exception, DATABASE_UNAVAILABLE_ERRORS):
        return database_unavailable_response()
    return HttpResponseServerError(render_to_string("500.html"))


def _database_ready() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as error:
        return type(error).__name__
    return None


def _cache_ready() -> str | None:
    token = uuid.uuid4().hex
    try:
        cache.set(READY_CACHE_KEY, token, timeout=30)
        stored = cache.get(READY_CACHE_KEY)
    except Exception as error:  # every backend raises its own (redis, database, ...)
        return type(error).__name__
    return None if stored == token else "does not keep values"


READINESS_PROBES = (("database", _database_ready), ("cache", _cache_ready))
READY_CACHE_KEY = "eventplanner:readyz"


@require_GET
def readyz(request: HttpRequest) -> HttpResponse:
    """Readiness for load balancers: this process can reach the database (one `SELECT 1`)
    and the shared cache (a write and a read). No sign-in, session or user lookup; 503 with
    each failing part named, so the balancer takes the machine out until both answer."""
    lines, failing = [], False
    for name, probe in READINESS_PROBES:
        problem = probe()
        failing = failing or problem is not None
        lines.append(f"{name}: {'ok' if problem is None else f'unavailable ({problem})'}")
    if failing:
        logger.error("Not ready: %s", "; ".join(lines))
    response = HttpResponse(
        "\n".join(lines) + "\n", content_type="text/plain", status=503 if failing else 200
    )
    response["Cache-Control"] = "no-store"
    if failing:
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
