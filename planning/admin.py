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

from eventplanner.admin_base import ModelAdmin
from planning.models import (
    AssemblyRun,
    Event,
    EventAssemblyTarget,
    EventProductionTarget,
    FinishedGood,
    FinishedGoodComponent,
    ProductionRun,
    Recipe,
)
from planning.transfer import import_baketracker
from planning.transfer.baketracker import LIMITS, MAX_FILE_BYTES
from planning.transfer.report import ImportReport, as_dict


class ProductionTargetInline(admin.TabularInline):
    model = EventProductionTarget
    extra = 0
    autocomplete_fields = ["recipe"]
    fields = ["recipe", "target_batches", "notes"]


class AssemblyTargetInline(admin.TabularInline):
    model = EventAssemblyTarget
    extra = 0
    autocomplete_fields = ["finished_good"]
    fields = ["finished_good", "target_quantity", "notes"]


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


@admin.register(Event)
class EventAdmin(ModelAdmin):
    list_display = ["name", "event_date", "year", "production_targets", "assembly_targets"]
    list_filter = ["event_date"]
    search_fields = ["name", "notes"]
    date_hierarchy = "event_date"
    inlines = [ProductionTargetInline, AssemblyTargetInline]
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
            report, error = _run_import(content, write=False)
            context.update(_report_context(report, error))
            if report is not None and not report.conflicts and report.changes:
                context.update(_token_context(request, content))
        context["form"] = form
        return TemplateResponse(request, "admin/planning/event/import_baketracker.html", context)

    def _import_checked(self, request: HttpRequest, context: dict) -> HttpResponse:
        salt = IMPORT_SALT.format(user=request.user.pk)
        try:
            content = signing.loads(request.POST["token"], salt=salt, max_age=IMPORT_MAX_AGE)
        except signing.BadSignature:
            context.update(form=BakeTrackerUploadForm(), error=IMPORT_EXPIRED)
            return TemplateResponse(
                request, "admin/planning/event/import_baketracker.html", context
            )
        report, error = _run_import(content.encode("utf-8"), write=True)
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
    def production_targets(self, obj: Event) -> int:
        return obj.n_production

    @admin.display(description="Assembly targets", ordering="n_assembly")
    def assembly_targets(self, obj: Event) -> int:
        return obj.n_assembly


@admin.register(Recipe)
class RecipeAdmin(ModelAdmin):
    list_display = ["name", "category", "yield_per_batch", "yield_unit"]
    list_filter = ["category"]
    search_fields = ["name", "category", "notes"]


class ComponentInline(admin.TabularInline):
    model = FinishedGoodComponent
    extra = 1
    autocomplete_fields = ["recipe"]


@admin.register(FinishedGood)
class FinishedGoodAdmin(ModelAdmin):
    list_display = ["name", "description"]
    search_fields = ["name", "description"]
    inlines = [ComponentInline]


@admin.register(EventProductionTarget)
class EventProductionTargetAdmin(ModelAdmin):
    list_display = ["event", "recipe", "target_batches", "notes"]
    list_filter = ["event"]
    search_fields = ["recipe__name", "event__name"]
    list_select_related = ["event", "recipe"]
    autocomplete_fields = ["event", "recipe"]


@admin.register(EventAssemblyTarget)
class EventAssemblyTargetAdmin(ModelAdmin):
    list_display = ["event", "finished_good", "target_quantity", "notes"]
    list_filter = ["event"]
    search_fields = ["finished_good__name", "event__name"]
    list_select_related = ["event", "finished_good"]
    autocomplete_fields = ["event", "finished_good"]


@admin.register(ProductionRun)
class ProductionRunAdmin(ModelAdmin):
    list_display = ["recipe", "event", "num_batches", "actual_yield", "produced_at", "recorded_by"]
    list_filter = ["event", "produced_at"]
    search_fields = ["recipe__name", "notes"]
    list_select_related = ["recipe", "event", "recorded_by"]
    autocomplete_fields = ["recipe", "event"]
    date_hierarchy = "produced_at"


@admin.register(AssemblyRun)
class AssemblyRunAdmin(ModelAdmin):
    list_display = ["finished_good", "event", "quantity", "assembled_at", "recorded_by"]
    list_filter = ["event", "assembled_at"]
    search_fields = ["finished_good__name", "notes"]
    list_select_related = ["finished_good", "event", "recorded_by"]
    autocomplete_fields = ["finished_good", "event"]
    date_hierarchy = "assembled_at"


def _run_import(content: bytes, *, write: bool) -> tuple[ImportReport | None, str]:
    """The report, or why there is none. The refusal is caught outside the transaction, so
    a refused import has rolled back before it is shown."""
    try:
        with transaction.atomic():
            return import_baketracker(content, write=write, connection=connection), ""
    except ValidationError as error:
        return None, " ".join(error.messages)


def _report_context(report: ImportReport | None, error: str) -> dict:
    return {"report": as_dict(report) if report else None, "error": error}


def _token_context(request: HttpRequest, content: bytes) -> dict:
    salt = IMPORT_SALT.format(user=request.user.pk)
    token = signing.dumps(content.decode("utf-8"), salt=salt, compress=True)
    if len(token) >= settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
        return {"error": IMPORT_TOO_LARGE_TO_CARRY}
    return {"token": token}


def _summary(report: ImportReport) -> str:
    created = ", ".join(f"{e.created} {e.label}" for e in report.entities if e.created)
    return f"Imported from bake-tracker: {created or 'nothing new'}."
