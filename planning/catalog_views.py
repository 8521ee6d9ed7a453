"""Catalog pages: recipes and finished goods (with components).

Plain model data with no workflow: ModelForms save inside transaction.atomic(), and the
database's PROTECT foreign keys decide what cannot be deleted; the page explains why.
"""

from __future__ import annotations

from collections import Counter

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.db import IntegrityError, router, transaction
from django.db.models import Count, ProtectedError, Q
from django.db.models.deletion import Collector
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from eventplanner.htmx import page_or_fragment
from planning.forms import ComponentFormSet, FinishedGoodForm, RecipeForm
from planning.models import AssemblyRun, FinishedGood, ProductionRun, Recipe
from planning.views.common import SAVED_MEANWHILE

SEARCH_MAX = 100


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


# Recipes ---------------------------------------------------------------------------------


@require_GET
@login_required
def recipe_list(request: HttpRequest) -> HttpResponse:
    q = _search(request)
    recipes = Recipe.objects.annotate(
        n_targets=Count("production_targets", distinct=True),
        n_components=Count("components", distinct=True),
    ).order_by("name", "id")
    if q:
        recipes = recipes.filter(Q(name__icontains=q) | Q(category__icontains=q))
    context = {"recipes": recipes, "q": q, "nav": "recipes"}
    return page_or_fragment(request, "planning/recipe_list.html", "results", context)


@require_http_methods(["GET", "POST"])
@login_required
@permission_required("planning.add_recipe", raise_exception=True)
def recipe_create(request: HttpRequest) -> HttpResponse:
    return _recipe_form(request, Recipe())


@require_http_methods(["GET", "POST"])
@login_required
@permission_required("planning.change_recipe", raise_exception=True)
def recipe_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _recipe_form(request, get_object_or_404(Recipe, pk=pk))


def _recipe_form(request: HttpRequest, recipe: Recipe) -> HttpResponse:
    form = RecipeForm(request.POST or None, instance=recipe)
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                recipe = form.save()
        except IntegrityError:
            form.add_error(None, SAVED_MEANWHILE)
        else:
            messages.success(request, f"Saved {recipe.name}.")
            return redirect("planning:recipe_list")
    title = f"Edit {recipe.name}" if recipe.pk else "New recipe"
    return render(
        request,
        "planning/catalog_form.html",
        {"form": form, "title": title, "nav": "recipes", "back": "planning:recipe_list"},
    )


@require_http_methods(["GET", "POST"])
@login_required
@permission_required("planning.delete_recipe", raise_exception=True)
def recipe_delete(request: HttpRequest, pk: int) -> HttpResponse:
    recipe = get_object_or_404(Recipe, pk=pk)
    return _delete(request, recipe, "planning:recipe_list", "recipes")


def _delete(request: HttpRequest, obj, list_url: str, nav: str) -> HttpResponse:
    error = deletion_blocker(obj) if request.method == "GET" else None
    if request.method == "POST":
        try:
            with transaction.atomic():
                obj.delete()
        except ProtectedError as protected:
            error = protected_reason(str(obj), protected)
        else:
            messages.success(request, f"Deleted {obj}.")
            return redirect(list_url)
    return render(
        request,
        "planning/catalog_confirm_delete.html",
        {"object": obj, "error": error, "back": list_url, "nav": nav},
        status=409 if error and request.method == "POST" else 200,
    )


# Finished goods --------------------------------------------------------------------------


@require_GET
@login_required
def finished_good_list(request: HttpRequest) -> HttpResponse:
    q = _search(request)
    goods = FinishedGood.objects.prefetch_related("components__recipe").order_by("name", "id")
    if q:
        goods = goods.filter(Q(name__icontains=q) | Q(description__icontains=q))
    context = {"goods": goods, "q": q, "nav": "finished_goods"}
    return page_or_fragment(request, "planning/finished_good_list.html", "results", context)


@require_http_methods(["GET", "POST"])
@login_required
@permission_required("planning.add_finishedgood", raise_exception=True)
def finished_good_create(request: HttpRequest) -> HttpResponse:
    return _finished_good_form(request, FinishedGood())


@require_http_methods(["GET", "POST"])
@login_required
@permission_required("planning.change_finishedgood", raise_exception=True)
def finished_good_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _finished_good_form(request, get_object_or_404(FinishedGood, pk=pk))


def _finished_good_form(request: HttpRequest, good: FinishedGood) -> HttpResponse:
    data = request.POST if request.method == "POST" else None
    form = FinishedGoodForm(data, instance=good)
    formset = ComponentFormSet(data, instance=good, prefix="components")
    if request.method == "POST" and form.is_valid() and formset.is_valid():
        try:
            with transaction.atomic():
                good = form.save()
                formset.instance = good
                formset.save()
        except ProtectedError as protected:
            form.add_error(None, protected_reason(str(good), protected))
        except IntegrityError:
            form.add_error(None, SAVED_MEANWHILE)
        else:
            messages.success(request, f"Saved {good.name}.")
            return redirect("planning:finished_good_list")
    title = f"Edit {good.name}" if good.pk else "New finished good"
    return render(
        request,
        "planning/catalog_form.html",
        {
            "form": form,
            "formset": formset,
            "formset_title": "Components (items of a recipe per unit)",
            "title": title,
            "nav": "finished_goods",
            "back": "planning:finished_good_list",
        },
    )


@require_http_methods(["GET", "POST"])
@login_required
@permission_required("planning.delete_finishedgood", raise_exception=True)
def finished_good_delete(request: HttpRequest, pk: int) -> HttpResponse:
    good = get_object_or_404(FinishedGood, pk=pk)
    return _delete(request, good, "planning:finished_good_list", "finished_goods")
