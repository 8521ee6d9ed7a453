"""Project-level views that belong to no app."""

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET


@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness check for load balancers and monitoring: no sign-in, no database query.
    The benchmark also uses it as the ceiling of what a page of this app can serve."""
    return HttpResponse("ok", content_type="text/plain")
