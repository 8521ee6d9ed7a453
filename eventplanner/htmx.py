"""Small helpers shared by the apps' views for serving a page or its htmx fragment."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.apps import apps
from django.contrib import messages
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils.cache import patch_vary_headers
from django_htmx.http import HttpResponseClientRedirect, reswap
from django_htmx.middleware import HtmxDetails

from eventplanner.middleware import DATABASE_UNAVAILABLE_ERRORS

# A delete that finds its row gone (a second click, or someone else was faster) lands where
# the first one did, and says so instead of failing.
ALREADY_DELETED = "{what} was already deleted."
# A change to something deleted after the page was shown: nothing is saved, and what the
# user typed stays on the page.
DELETED_MEANWHILE = "{what} was deleted meanwhile, so this was not saved."


class HtmxHttpRequest(HttpRequest):
    """The type of a view's request that reads `request.htmx`, which django-htmx's
    middleware (settings.MIDDLEWARE) sets on every request."""

    htmx: HtmxDetails


def gone_text(error: ObjectDoesNotExist) -> str:
    """DELETED_MEANWHILE naming what the missing row was: "The recipe was deleted ..."."""
    for model in apps.get_models():
        # Every concrete model has its DoesNotExist; the stubs' Model does not declare it.
        if isinstance(error, model.DoesNotExist):  # type: ignore[attr-defined]
            return DELETED_MEANWHILE.format(what=f"The {model._meta.verbose_name}")
    return DELETED_MEANWHILE.format(what="Something it refers to")


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
    if not htmx:
        return False
    return not htmx.boosted and not htmx.history_restore_request


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
    fragment: Callable[[], HttpResponse] | None,
    redirect_to: str,
) -> HttpResponse:
    """After an action: for htmx the re-rendered fragment (which shows the outcome itself);
    without JavaScript the outcome as a message and a redirect (POST, redirect, GET).

    With no fragment the whole page moves on, for htmx too: the message waits on the next
    page and htmx is told to load it (HX-Redirect) instead of swapping anything."""
    if fragment is not None and wants_fragment(request):
        return fragment()
    messages.add_message(request, LEVELS[outcome.level], outcome.text)
    if fragment is None and wants_fragment(request):
        return HttpResponseClientRedirect(redirect_to)
    return redirect(redirect_to)


def error_text(error: Exception) -> str:
    """The words of a refusal as the user reads them, on a page or in the admin."""
    if isinstance(error, ValidationError):
        return " ".join(error.messages)
    return str(error)


class Attempt:
    """Try a change, keeping a refusal instead of raising it::

        with Attempt() as change, transaction.atomic():
            services.remove_assignment(pk, connection=connection)
        if change.error: ...

    Named first in the `with`, it catches the error after the atomic block has rolled the
    change back, so a refused change never commits half its writes. It catches
    ValidationError (every domain refusal) unless told which errors are refusals."""

    def __init__(self, *refusals: type[Exception]) -> None:
        self.refusals = refusals or (ValidationError,)
        self.error: Exception | None = None

    def __enter__(self) -> Attempt:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb) -> bool:
        if isinstance(error, self.refusals):
            self.error = error
            return True
        return False

    def outcome(self, success: str) -> Outcome:
        if self.error is None:
            return Outcome("success", success)
        return Outcome("error", error_text(self.error))


SAVED_NOT_SHOWN = (
    "{text} It was saved, but the page could not be refreshed because the database did not "
    "answer; reload the page in a moment to see it."
)


def saved_but_not_shown(request: HttpRequest, text: str) -> HttpResponse:
    """The answer when a change has committed and reading the page after it failed: it says
    the change was saved (the 503 page would say nothing was changed). Rendered without the
    request, like the error pages: the database just failed."""
    message = SAVED_NOT_SHOWN.format(text=text)
    if wants_fragment(request):
        context = {"flash": message, "flash_level": "warning"}
        response = HttpResponse(render_to_string("includes/messages_oob.html", context))
        return reswap(response, "none")
    return HttpResponse(render_to_string("errors/saved.html", {"message": message}))


def answer_after_commit(
    request: HttpRequest, text: str, read: Callable[[], HttpResponse]
) -> HttpResponse:
    """`read()`, the answer to a committed change, in its own transaction; if the database
    goes away there, the answer still says the change was saved."""
    try:
        with transaction.atomic():
            return read()
    except DATABASE_UNAVAILABLE_ERRORS:
        return saved_but_not_shown(request, text)


def keep_typing(request: HttpRequest, text: str, page: Callable[[], HttpResponse]):
    """A refusal that leaves nothing to re-render (what it was for is gone): for htmx the
    form stays in the browser as typed, nothing is swapped, and the message shows above the
    page; otherwise `page()`, which shows the message with what was typed."""
    if wants_fragment(request):
        context = {"flash": text, "flash_level": "error"}
        response = HttpResponse(render_to_string("includes/messages_oob.html", context))
        return reswap(response, "none")
    return page()
