"""Project-level views that belong to no app: the health check and the error views that
must work while the database does not."""

from __future__ import annotations

import sys

from django.http import HttpRequest, HttpResponse, HttpResponseServerError
from django.template.loader import render_to_string
from django.views.decorators.http import require_GET

from eventplanner.middleware import DATABASE_UNAVAILABLE_ERRORS, database_unavailable_response


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
