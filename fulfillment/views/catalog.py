"""The recipient and package catalogs: a searchable list, a detail page, add, edit and a
delete that says why it is refused while assignments use the entry.

Both catalogs are the same pages over a different model, so the views are written once and
each catalog is a small description (`Catalog`); the URLs name which one they serve."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db import IntegrityError, connection, transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods
from django.views.decorators.vary import vary_on_headers

from eventplanner.htmx import (
    ALREADY_DELETED,
    Attempt,
    Outcome,
    apply_form_errors,
    error_text,
    gone_text,
    respond,
    wants_fragment,
)
from fulfillment import services
from fulfillment.forms import (
    PackageForm,
    PackageItemFormSet,
    RecipientForm,
    SearchForm,
    package_items_from,
)
from fulfillment.models import Package, Recipient
from fulfillment.views._common import PER_PAGE, not_found, require

CONFIRM_DELETE = "fulfillment/confirm_delete.html"
FORM_PAGE = "fulfillment/catalog_form.html"
LIST_PAGE = "fulfillment/catalog_list.html"


class _UrlName:
    """The URL name of one of a catalog's views: `detail_view` is "fulfillment:<name>_detail"."""

    def __set_name__(self, owner: type, attribute: str) -> None:
        self.view = attribute.removesuffix("_view")

    def __get__(self, catalog: Catalog, owner: type | None = None) -> str:
        return f"fulfillment:{catalog.name}_{self.view}"


@dataclass(frozen=True)
class Catalog:
    """What tells one catalog's pages from the other's."""

    name: str  # "recipient": URL names, permissions, ids in the HTML, words
    plural: str  # "recipients": the navigation entry
    search_label: str
    form: type[forms.Form]
    fields: tuple[str, ...]  # what the form edits, read back from the entry to edit it
    list_entries: Callable[..., Any]
    load: Callable[[int], Any]  # the entry or a 404, inside the view's transaction
    create: Callable[..., Any]
    update: Callable[..., Any]
    delete: Callable[..., None]
    in_use: Callable[[Any], int]  # how many assignments keep the entry from being deleted
    in_use_text: str
    details: Callable[[Any], dict[str, Any]] = field(default=lambda entry: {})
    has_items: bool = False  # a package lists the finished goods that go in it
    missing_text: str = ""  # the form error when something the form chose is gone

    @property
    def title(self) -> str:
        return self.plural.capitalize()

    @property
    def parts(self) -> str:
        """The template with this catalog's own parts: its table rows and empty states."""
        return f"fulfillment/_{self.name}_parts.html"

    def perm(self, action: str) -> str:
        return f"fulfillment.{action}_{self.name}"

    def url(self, view: str, *args: int) -> str:
        return reverse(f"fulfillment:{self.name}_{view}", args=args)

    # URL names, for the templates' {% url %}.
    list_view = _UrlName()
    new_view = _UrlName()
    detail_view = _UrlName()
    edit_view = _UrlName()
    delete_view = _UrlName()

    def entry_id(self, url_ids: dict[str, int]) -> int:
        return url_ids[f"{self.name}_id"]


def _package(package_id: int) -> Package:
    with not_found("No such package."):
        return services.get_package(package_id, connection=connection)


RECIPIENTS = Catalog(
    name="recipient",
    plural="recipients",
    search_label="Search by name, household or address",
    form=RecipientForm,
    fields=("name", "household", "address", "notes"),
    list_entries=services.list_recipients,
    load=lambda pk: get_object_or_404(Recipient, pk=pk),
    create=services.create_recipient,
    update=services.update_recipient,
    delete=services.delete_recipient,
    in_use=lambda recipient: recipient.assignments.count(),
    in_use_text=services.RECIPIENT_IN_USE,
    details=lambda recipient: {
        "history": services.get_recipient_history(recipient.pk, connection=connection)
    },
)
PACKAGES = Catalog(
    name="package",
    plural="packages",
    search_label="Search by name or description",
    form=PackageForm,
    fields=("name", "description"),
    list_entries=services.list_packages,
    load=_package,
    create=services.create_package,
    update=services.update_package,
    delete=services.delete_package,
    in_use=lambda package: package.assignment_count,
    in_use_text=services.PACKAGE_IN_USE,
    has_items=True,
    missing_text="A chosen finished good no longer exists; choose again.",
)
CATALOGS = {catalog.name: catalog for catalog in (RECIPIENTS, PACKAGES)}


def _page_or_part(request: HttpRequest, template: str, part: str, context: dict) -> HttpResponse:
    if wants_fragment(request):
        return render(request, f"{template}#{part}", context)
    return render(request, template, context)


@require_GET
@login_required
@vary_on_headers("HX-Request")
def catalog_list(request: HttpRequest, catalog: str) -> HttpResponse:
    """The entries matching the search, paged; htmx (typing, paging) gets the results only."""
    kind = CATALOGS[catalog]
    filters = SearchForm(request.GET).filters()
    search = filters["search"]
    with transaction.atomic():
        page = kind.list_entries(
            search=search, page=filters["page"], per_page=PER_PAGE, connection=connection
        )
    context = {
        "catalog": kind,
        "page": page,
        "search": search,
        "search_query": urlencode({"q": search}) if search else "",
        "nav": kind.plural,
        "can_add": request.user.has_perm(kind.perm("add")),
    }
    return _page_or_part(request, LIST_PAGE, "results", context)


@require_GET
@login_required
def catalog_detail(request: HttpRequest, catalog: str, **url_ids: int) -> HttpResponse:
    """An entry, with what it holds or what was given, and the actions allowed on it."""
    kind = CATALOGS[catalog]
    with transaction.atomic():
        entry = kind.load(kind.entry_id(url_ids))
        details = kind.details(entry)
    context = {
        "catalog": kind,
        "entry": entry,
        kind.name: entry,
        **details,
        "nav": kind.plural,
        "can_edit": request.user.has_perm(kind.perm("change")),
        "can_delete": request.user.has_perm(kind.perm("delete")),
    }
    return render(request, f"fulfillment/{kind.name}_detail.html", context)


def _bound_forms(kind: Catalog, request: HttpRequest, entry) -> tuple[forms.Form, Any]:
    """The entry's form (and a package's item lines): as posted, or filled from the entry."""
    if request.method == "POST":
        items = PackageItemFormSet(request.POST, prefix="items") if kind.has_items else None
        return kind.form(request.POST), items
    initial = {name: getattr(entry, name) for name in kind.fields} if entry else {}
    items = None
    if kind.has_items:
        lines = entry and [
            {"finished_good": i.finished_good, "quantity": i.quantity} for i in entry.items.all()
        ]
        items = PackageItemFormSet(prefix="items", initial=lines or None)
    return kind.form(initial=initial), items


def _form_view(request: HttpRequest, kind: Catalog, entry) -> HttpResponse:
    form, items = _bound_forms(kind, request, entry)
    context = {"catalog": kind, "form": form, "items": items, "entry": entry, "nav": kind.plural}
    if request.method == "GET" or not (form.is_valid() and (items is None or items.is_valid())):
        return _page_or_part(request, FORM_PAGE, "form", context)
    fields = dict(form.cleaned_data)
    if items is not None:
        fields["items"] = package_items_from(items)
    # A unique name taken by a save at the same moment fails at the write, after the check:
    # it is the same refusal as the check's, so it gets the same words (the unique index is
    # the only thing that sees both saves; a savepoint is not the services' to take).
    refusals = (ValidationError, ObjectDoesNotExist, IntegrityError)
    with Attempt(*refusals) as change, transaction.atomic():
        if entry is None:
            saved = kind.create(**fields, connection=connection)
        else:
            saved = kind.update(entry.pk, **fields, connection=connection)
    if change.error is not None:
        _refused_save(kind, form, entry, fields, change.error)
        return _page_or_part(request, FORM_PAGE, "form", context)
    outcome = Outcome("success", f"Saved {saved.name}.")
    return respond(request, outcome, fragment=None, redirect_to=kind.url("detail", saved.pk))


def _refused_save(kind: Catalog, form: forms.Form, entry, fields: dict, error: Exception) -> None:
    """Say on the form, which keeps what was typed, why the entry was not saved."""
    if isinstance(error, ValidationError):
        apply_form_errors(form, error)
    elif isinstance(error, IntegrityError):
        form.add_error("name", services.PACKAGE_NAME_TAKEN.format(name=fields["name"].strip()))
    elif entry is not None and isinstance(error, type(entry).DoesNotExist):
        form.add_error(None, gone_text(error))
    elif isinstance(error, ObjectDoesNotExist):  # the last of the refusals _form_view catches
        form.add_error(None, kind.missing_text or gone_text(error))


@require_http_methods(["GET", "POST"])
@login_required
@vary_on_headers("HX-Request")
def catalog_form(request: HttpRequest, catalog: str, **url_ids: int) -> HttpResponse:
    """Add an entry, or with its id in the URL edit it; for htmx a refused form is shown
    again in place and a saved one sends the browser to the entry's page."""
    kind = CATALOGS[catalog]
    require(request, kind.perm("change" if url_ids else "add"))
    entry = None
    if url_ids:
        with transaction.atomic():
            entry = kind.load(kind.entry_id(url_ids))
    return _form_view(request, kind, entry)


@require_http_methods(["GET", "POST"])
@login_required
@vary_on_headers("HX-Request")
def catalog_delete(request: HttpRequest, catalog: str, **url_ids: int) -> HttpResponse:
    """Confirm, then delete; an entry that assignments use is kept and the page says why."""
    kind = CATALOGS[catalog]
    require(request, kind.perm("delete"))
    try:
        with transaction.atomic():
            entry = kind.load(kind.entry_id(url_ids))
            in_use = kind.in_use(entry)
    except Http404:
        if request.method != "POST":
            raise
        return _already_deleted(request, kind, f"This {kind.name}")
    context = {
        "object": entry,
        "kind": kind.name,
        "in_use": in_use,
        "cancel_url": kind.url("detail", entry.pk),
        "action_url": kind.url("delete", entry.pk),
        "refusal": kind.in_use_text.format(name=entry, count=in_use) if in_use else "",
        "nav": kind.plural,
    }
    if request.method == "GET":
        return render(request, CONFIRM_DELETE, context)
    with Attempt(ValidationError, ObjectDoesNotExist) as change, transaction.atomic():
        kind.delete(entry.pk, connection=connection)
    if isinstance(change.error, ObjectDoesNotExist):
        # A double submit: the first request deleted it while this one waited for its lock.
        return _already_deleted(request, kind, str(entry))
    if change.error is not None:
        context["error"] = error_text(change.error)
        return _page_or_part(request, CONFIRM_DELETE, "form", context)
    outcome = Outcome("success", f"Deleted {entry}.")
    return respond(request, outcome, fragment=None, redirect_to=kind.url("list"))


def _already_deleted(request: HttpRequest, kind: Catalog, what: str) -> HttpResponse:
    """Where the first of a double submit landed: the list, saying it is gone."""
    outcome = Outcome("success", ALREADY_DELETED.format(what=what))
    return respond(request, outcome, fragment=None, redirect_to=kind.url("list"))
