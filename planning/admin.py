from django.contrib import admin
from django.db.models import Count

from eventplanner.admin_base import ModelAdmin, TabularInline
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


class ProductionTargetInline(TabularInline):
    model = EventProductionTarget
    extra = 0
    autocomplete_fields = ["recipe"]
    fields = ["recipe", "target_batches", "notes"]


class AssemblyTargetInline(TabularInline):
    model = EventAssemblyTarget
    extra = 0
    autocomplete_fields = ["finished_good"]
    fields = ["finished_good", "target_quantity", "notes"]


@admin.register(Event)
class EventAdmin(ModelAdmin):
    list_display = ["name", "event_date", "year", "production_targets", "assembly_targets"]
    list_filter = ["event_date"]
    search_fields = ["name", "notes"]
    date_hierarchy = "event_date"
    inlines = [ProductionTargetInline, AssemblyTargetInline]

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


class ComponentInline(TabularInline):
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
