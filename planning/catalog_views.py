"""Catalog pages: recipes and finished goods (with components), one implementation described
per model by a `Catalog`.

Plain model data with no workflow: ModelForms save inside transaction.atomic(), and the
database's PROTECT foreign keys decide what cannot be deleted; the page explains why.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import reduce
from operator import or_
from typing import cast

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, router, transaction
from django.db.models import Count, ProtectedError, Q, QuerySet
from django.db.models.deletion import Collector
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from eventplanner.htmx import ALREADY_DELETED, page_or_fragment
from planning.forms import ComponentFormSet, FinishedGoodForm, RecipeForm
from planning.models import AssemblyRun, FinishedGood, ProductionRun, Recipe
from planning.views.common import SAVED_MEANWHILE

SEARCH_MAX = 100


@dataclass(frozen=True)
class Catalog:
    model: type[Recipe] | type[FinishedGood]
    form: type[forms.ModelForm]
    url_name: str  # the stem of its URL names: "recipe" -> "planning:recipe_list", ...
    nav: str
    rows: Callable[[], QuerySet]  # the list, in order, with what its table shows
    search_fields: tuple[str, ...]
    search_hint: str
    empty_text: str
    columns: str  # the template that defines its table's `head` and `cells`
    formset: type[forms.BaseInlineFormSet] | None = None
    formset_title: str = ""

    @property
    def urls(self) -> dict[str, str]:
        """Its pages' URL names: list, create, edit, delete."""
        pages = ("list", "create", "edit", "delete")
        return {page: f"planning:{self.url_name}_{page}" for page in pages}

    def perm(self, action: str) -> str:
        return f"planning.{action}_{self.model._meta.model_name}"


CATALOGS = {
    "recipes": Catalog(
        model=Recipe,
        form=RecipeForm,
        url_name="recipe",
        nav="recipes",
        rows=lambda: Recipe.objects.annotate(
            n_targets=Count("production_targets", distinct=True),
            n_components=Count("components", distinct=True),
        ).order_by("name", "id"),
        search_fields=("name", "category"),
        search_hint="Name or category",
        empty_text="No recipes yet. Add the things you bake, with how much one batch makes.",
        columns="planning/_recipe_columns.html",
    ),
    "finished_goods": Catalog(
        model=FinishedGood,
        form=FinishedGoodForm,
        url_name="finished_good",
        nav="finished_goods",
        rows=lambda: FinishedGood.objects.prefetch_related("components__recipe").order_by(
            "name", "id"
        ),
        search_fields=("name", "description"),
        search_hint="Name or description",
        empty_text=(
            "No finished goods yet. A finished good is something you assemble from baked "
            "items, such as a cookie gift box."
        ),
        columns="planning/_finished_good_columns.html",
        formset=ComponentFormSet,
        formset_title="Components (items of a recipe per unit)",
    ),
}


def _catalog(request: HttpRequest, name: str, action: str | None = None) -> Catalog:
    """The catalog named in the URL's extra arguments; PermissionDenied unless the user may
    do `action` ("add", "change", "delete") to its items."""
    catalog = CATALOGS[name]
    if action is not None and not request.user.has_perm(catalog.perm(action)):
        raise PermissionDenied
    return catalog


def protected_reason(name: str, error: ProtectedError) -> str:
    """Say in plain words what still uses the object."""
    counts = Counter(obj._meta.verbose_name for obj in error.protected_objects)
    parts = [f"{n} {label}{'s' if n != 1 else ''}" for label, n in counts.items()]
    reason = f"{name} cannot be deleted because it is still used by {', '.join(parts)}."
    if any(isinstance(obj, (ProductionRun, AssemblyRun)) for obj in error.protected_objects):
        return reason + (
            " Runs are the record of what was made, so something with recorded runs is kept."
        )
    return reason + " Remove it from those first."


def deletion_blocker(obj) -> str | None:
    """Why `obj` cannot be deleted, found without deleting anything (the same PROTECT rules
    the delete would hit), so the confirmation page can say it up front."""
    collector = Collector(using=router.db_for_write(type(obj)))
    try:
        collector.collect([obj])
    except ProtectedError as protected:
        return protected_reason(str(obj), protected)
    return None


def _search(request: HttpRequest) -> str:
    # PostgreSQL text cannot hold NUL: a pasted or hostile "\x00" must not reach the query.
    return request.GET.get("q", "").replace("\x00", "").strip()[:SEARCH_MAX]


@require_GET
@login_required
def catalog_list(request: HttpRequest, catalog: str) -> HttpResponse:
    described = _catalog(request, catalog)
    q = _search(request)
    rows = described.rows()
    if q:
        rows = rows.filter(
            reduce(or_, (Q(**{f"{f}__icontains": q}) for f in described.search_fields))
        )
    context = {
        "catalog": described,
        "meta": described.model._meta,
        "items": rows,
        "q": q,
        "nav": described.nav,
        "can_add": request.user.has_perm(described.perm("add")),
        "can_change": request.user.has_perm(described.perm("change")),
        "can_delete": request.user.has_perm(described.perm("delete")),
    }
    return page_or_fragment(request, "planning/catalog_list.html", "results", context)


@require_http_methods(["GET", "POST"])
@login_required
def catalog_form(request: HttpRequest, catalog: str, pk: int | None = None) -> HttpResponse:
    """A new item (no `pk`) or an existing one, with its components where it has them."""
    described = _catalog(request, catalog, "add" if pk is None else "change")
    # A row of the catalog's model: the stubs solve a union of models to their common base.
    obj = (
        described.model()
        if pk is None
        else cast(Recipe | FinishedGood, get_object_or_404(described.model, pk=pk))
    )
    data = request.POST if request.method == "POST" else None
    form = described.form(data, instance=obj)
    formset = (
        described.formset(data, instance=obj, prefix="components") if described.formset else None
    )
    if request.method == "POST" and form.is_valid() and (formset is None or formset.is_valid()):
        try:
            with transaction.atomic():
                obj = form.save()
                if formset is not None:
                    formset.instance = obj
                    formset.save()
        except ProtectedError as protected:
            form.add_error(None, protected_reason(str(obj), protected))
        except IntegrityError:
            form.add_error(None, SAVED_MEANWHILE)
        else:
            messages.success(request, f"Saved {obj.name}.")
            return redirect(described.urls["list"])
    context = {
        "form": form,
        "formset": formset,
        "formset_title": described.formset_title,
        "title": f"Edit {obj.name}" if obj.pk else f"New {described.model._meta.verbose_name}",
        "nav": described.nav,
        "back": described.urls["list"],
    }
    return render(request, "planning/catalog_form.html", context)


@require_http_methods(["GET", "POST"])
@login_required
def catalog_delete(request: HttpRequest, catalog: str, pk: int) -> HttpResponse:
    described = _catalog(request, catalog, "delete")
    list_url = described.urls["list"]
    obj = described.model.objects.filter(pk=pk).first()
    if obj is None and request.method == "POST":
        return _already_deleted(request, described, list_url)
    if obj is None:
        raise Http404("No such entry.")
    error = deletion_blocker(obj) if request.method == "GET" else None
    if request.method == "POST":
        try:
            with transaction.atomic():
                deleted = _delete_locked(described.model, pk)
        except ProtectedError as protected:
            error = protected_reason(str(obj), protected)
        else:
            if not deleted:
                return _already_deleted(request, described, list_url, str(obj))
            messages.success(request, f"Deleted {obj}.")
            return redirect(list_url)
    return render(
        request,
        "planning/catalog_confirm_delete.html",
        {"object": obj, "error": error, "back": list_url, "nav": described.nav},
        status=409 if error and request.method == "POST" else 200,
    )


def _delete_locked(model: type[Recipe] | type[FinishedGood], pk: int) -> bool:
    """Delete the row, locked first (FOR UPDATE), inside the caller's transaction; False
    when it was already gone. The lock makes the PROTECT check hold until commit: a target
    or run being written for the item holds its row FOR KEY SHARE, so this waits for it and
    then refuses, or makes it wait and then find the item gone; never a foreign-key error
    at commit."""
    locked = model.objects.select_for_update().filter(pk=pk).first()
    if locked is None:
        return False
    locked.delete()
    return True


def _already_deleted(
    request: HttpRequest, catalog: Catalog, list_url: str, name: str = ""
) -> HttpResponse:
    what = name or f"This {catalog.model._meta.verbose_name}"
    messages.info(request, ALREADY_DELETED.format(what=what))
    return redirect(list_url)
