from typing import TYPE_CHECKING, TypedDict

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from eventplanner.admin_base import MadeOfItemsAdmin, ModelAdmin, TabularInline, items_inline
from planning.kinds import KINDS, PRODUCTION, TargetKind
from planning.models import (
    Event,
    FinishedGood,
    FinishedGoodComponent,
    Recipe,
)
from planning.transfer import import_baketracker
from planning.transfer.baketracker import LIMITS, MAX_FILE_BYTES
from planning.transfer.report import ImportReport, as_dict

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations


class _TargetCounts(TypedDict):
    """What EventAdmin.get_queryset annotates each event with."""

    n_production: int
    n_assembly: int


def _target_inline(kind: TargetKind) -> type[TabularInline]:
    """An event's targets of one kind, edited on the event's page."""

    class TargetInline(TabularInline):
        model = kind.target_model
        extra = 0
        autocomplete_fields = [kind.item_field]
        fields = [kind.item_field, kind.amount_field, "notes"]

    TargetInline.__name__ = f"{kind.target_model.__name__}Inline"
    return TargetInline


# Everything a bake-tracker import creates, and the statuses it records.
IMPORT_PERMISSIONS = (
    "planning.add_event",
    "planning.add_recipe",
    "planning.add_finishedgood",
    "planning.add_eventproductiontarget",
    "planning.add_eventassemblytarget",
    "planning.add_productionrun",
    "planning.add_assemblyrun",
    "fulfillment.add_recipient",
    "fulfillment.add_package",
    "fulfillment.add_eventrecipientpackage",
    "fulfillment.change_fulfillment_status",
)
# The checked file travels from the report to the Import button signed, so what is
# imported is byte for byte what was checked, by the same user, within the hour.
IMPORT_SALT = "planning.import-baketracker:{user}"
IMPORT_MAX_AGE = 3600
IMPORT_EXPIRED = "The checked file has expired or was altered; upload it again."
IMPORT_TOO_LARGE_TO_CARRY = (
    "This file is too large to carry from the report to the import in the browser; "
    "import it with manage.py import_baketracker."
)


class BakeTrackerUploadForm(forms.Form):
    file = forms.FileField(label="bake-tracker export (JSON)")
    keep_both = forms.BooleanField(
        required=False,
        label="Keep both: import items that differ under a new name",
        help_text="A recipe, finished good or package that differs from the one here of the "
        "same name is imported as \u201c<name> (from bake-tracker)\u201d; without this, "
        "the import is refused.",
    )


@admin.register(Event)
class EventAdmin(ModelAdmin):
    list_display = ["name", "event_date", "year", "production_targets", "assembly_targets"]
    list_filter = ["event_date"]
    search_fields = ["name", "notes"]
    date_hierarchy = "event_date"
    inlines = [_target_inline(kind) for kind in KINDS.values()]
    change_list_template = "admin/planning/event/change_list.html"

    def get_urls(self):
        view = self.admin_site.admin_view(self.import_baketracker_view)
        return [
            path("import-baketracker/", view, name="planning_event_import_baketracker"),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        can_import = request.user.has_perms(IMPORT_PERMISSIONS)
        context = {"can_import_baketracker": can_import, **(extra_context or {})}
        return super().changelist_view(request, context)

    def import_baketracker_view(self, request: HttpRequest) -> HttpResponse:
        """Upload, read the dry run's report, then import exactly the checked file: the
        import plans the whole file again rather than trusting the report's plan."""
        if not request.user.has_perms(IMPORT_PERMISSIONS):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Import a season from bake-tracker",
            "limits": LIMITS,
        }
        if request.method == "POST" and "token" in request.POST:
            return self._import_checked(request, context)
        form = BakeTrackerUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            content = form.cleaned_data["file"].read(MAX_FILE_BYTES + 1)
            keep_both = form.cleaned_data["keep_both"]
            report, error = _run_import(content, write=False, keep_both=keep_both)
            context.update(_report_context(report, error))
            if report is not None and not report.conflicts and report.changes:
                context.update(_token_context(request, content, keep_both))
        context["form"] = form
        return TemplateResponse(request, "admin/planning/event/import_baketracker.html", context)

    def _import_checked(self, request: HttpRequest, context: dict) -> HttpResponse:
        salt = IMPORT_SALT.format(user=request.user.pk)
        try:
            checked = signing.loads(request.POST["token"], salt=salt, max_age=IMPORT_MAX_AGE)
            content, keep_both = checked["content"], checked["keep_both"] is True
        except (signing.BadSignature, TypeError, KeyError):
            # TypeError, KeyError: a token signed before it carried the keep-both choice.
            context.update(form=BakeTrackerUploadForm(), error=IMPORT_EXPIRED)
            return TemplateResponse(
                request, "admin/planning/event/import_baketracker.html", context
            )
        report, error = _run_import(content.encode("utf-8"), write=True, keep_both=keep_both)
        if report is None:
            context.update(form=BakeTrackerUploadForm(), error=error)
            return TemplateResponse(
                request, "admin/planning/event/import_baketracker.html", context
            )
        self.message_user(request, _summary(report), messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:planning_event_changelist"))

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                n_production=Count("production_targets", distinct=True),
                n_assembly=Count("assembly_targets", distinct=True),
            )
        )

    @admin.display(description="Production targets", ordering="n_production")
    def production_targets(self, obj: "WithAnnotations[Event, _TargetCounts]") -> int:
        return obj.n_production

    @admin.display(description="Assembly targets", ordering="n_assembly")
    def assembly_targets(self, obj: "WithAnnotations[Event, _TargetCounts]") -> int:
        return obj.n_assembly


@admin.register(Recipe)
class RecipeAdmin(ModelAdmin):
    list_display = ["name", "category", "yield_per_batch", "yield_unit"]
    list_filter = ["category"]
    search_fields = ["name", "category", "notes"]


@admin.register(FinishedGood)
class FinishedGoodAdmin(MadeOfItemsAdmin):
    inlines = [items_inline(FinishedGoodComponent, "recipe")]


def _target_admin(kind: TargetKind) -> type[ModelAdmin]:
    item = kind.item_field

    class TargetAdmin(ModelAdmin):
        list_display = ["event", item, kind.amount_field, "notes"]
        list_filter = ["event"]
        search_fields = [f"{item}__name", "event__name"]
        list_select_related = ["event", item]
        autocomplete_fields = ["event", item]

    TargetAdmin.__name__ = f"{kind.target_model.__name__}Admin"
    return TargetAdmin


def _run_admin(kind: TargetKind) -> type[ModelAdmin]:
    item, when = kind.item_field, kind.run_time_field
    # A production run also records what the batches yielded.
    amounts = [kind.run_amount_field, *(["actual_yield"] if kind is PRODUCTION else [])]

    class RunAdmin(ModelAdmin):
        list_display = [item, "event", *amounts, when, "recorded_by"]
        list_filter = ["event", when]
        search_fields = [f"{item}__name", "notes"]
        list_select_related = [item, "event", "recorded_by"]
        autocomplete_fields = [item, "event"]
        date_hierarchy = when
        fields = [item, "event", *amounts, when, "notes", "recorded_by"]

    RunAdmin.__name__ = f"{kind.run_model.__name__}Admin"
    return RunAdmin


for _kind in KINDS.values():
    admin.site.register(_kind.target_model, _target_admin(_kind))
    admin.site.register(_kind.run_model, _run_admin(_kind))


def _run_import(content: bytes, *, write: bool, keep_both: bool) -> tuple[ImportReport | None, str]:
    """The report, or why there is none. The refusal is caught outside the transaction, so
    a refused import has rolled back before it is shown."""
    try:
        with transaction.atomic():
            report = import_baketracker(
                content, write=write, keep_both=keep_both, connection=connection
            )
            return report, ""
    except ValidationError as error:
        return None, " ".join(error.messages)


def _report_context(report: ImportReport | None, error: str) -> dict:
    return {"report": as_dict(report) if report else None, "error": error}


def _token_context(request: HttpRequest, content: bytes, keep_both: bool) -> dict:
    """The checked file and the choice it was checked with, so the import does what the
    report said."""
    salt = IMPORT_SALT.format(user=request.user.pk)
    checked = {"content": content.decode("utf-8"), "keep_both": keep_both}
    token = signing.dumps(checked, salt=salt, compress=True)
    if len(token) >= settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
        return {"error": IMPORT_TOO_LARGE_TO_CARRY}
    return {"token": token}


def _summary(report: ImportReport) -> str:
    created = ", ".join(f"{e.created} {e.label}" for e in report.entities if e.created)
    return f"Imported from bake-tracker: {created or 'nothing new'}."
