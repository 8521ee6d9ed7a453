from django.contrib import admin
from django.db.models import Count

from eventplanner.admin_base import ModelAdmin
from planning.kinds import KINDS, PRODUCTION, TargetKind
from planning.models import (
    Event,
    FinishedGood,
    FinishedGoodComponent,
    Recipe,
)


def _target_inline(kind: TargetKind) -> type[admin.TabularInline]:
    """An event's targets of one kind, edited on the event's page."""

    class TargetInline(admin.TabularInline):
        model = kind.target_model
        extra = 0
        autocomplete_fields = [kind.item_field]
        fields = [kind.item_field, kind.amount_field, "notes"]

    TargetInline.__name__ = f"{kind.target_model.__name__}Inline"
    return TargetInline


@admin.register(Event)
class EventAdmin(ModelAdmin):
    list_display = ["name", "event_date", "year", "production_targets", "assembly_targets"]
    list_filter = ["event_date"]
    search_fields = ["name", "notes"]
    date_hierarchy = "event_date"
    inlines = [_target_inline(kind) for kind in KINDS.values()]

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
