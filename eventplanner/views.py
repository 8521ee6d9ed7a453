"""Error views that must work while the database does not."""

from __future__ import annotations

import sys

from django.http import HttpRequest, HttpResponse, HttpResponseServerError
from django.template.loader import render_to_string

from eventplanner.middleware import DATABASE_UNAVAILABLE_ERRORS, database_unavailable_response


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: a database error raised outside a view (in a middleware, e.g. while the
    session is saved) still gets the 503 page; anything else the plain 500 page. Neither
    touches the database."""
    exception = sys.exc_info()[1]
    if isinstance(exception, DATABASE_UNAVAILABLE_ERRORS):
        return database_unavailable_response()
    return HttpResponseServerError(render_to_string("500.html"))
