from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from eventplanner.limits import YIELD_PER_BATCH


class TimestampedModel(models.Model):
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class Event(TimestampedModel):
    name = models.CharField(max_length=200)
    event_date = models.DateField()
    notes = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["event_date", "name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["name", "event_date"], name="event_unique_name_date"),
        ]
        indexes = [models.Index(fields=["event_date", "name"], name="event_date_name_idx")]

    def __str__(self) -> str:
        return f"{self.name} ({self.event_date:%Y-%m-%d})"

    @property
    def year(self) -> int:
        return self.event_date.year


def name_unique_ignoring_case(model_name: str) -> models.UniqueConstraint:
    # "Biscotti" and "biscotti" side by side in every dropdown is a typo, not two recipes.
    return models.UniqueConstraint(
        Lower("name"),
        name=f"{model_name}_name_unique_ci",
        violation_error_message=(
            f"There is already a {model_name.replace('_', ' ')} with this name "
            "(names are compared ignoring upper and lower case)."
        ),
    )


def positive(field: str, name: str) -> models.CheckConstraint:
    """The database's own check that an amount is a positive number (not 0, not negative)."""
    return models.CheckConstraint(condition=Q(**{f"{field}__gt": 0}), name=name)


class Recipe(TimestampedModel):
    name = models.CharField(max_length=200, unique=True)
    category = models.CharField(max_length=100, blank=True, default="")
    yield_per_batch = models.PositiveIntegerField(
        default=1,
        validators=[
            MinValueValidator(YIELD_PER_BATCH.minimum),
            MaxValueValidator(YIELD_PER_BATCH.maximum),
        ],
    )
    yield_unit = models.CharField(max_length=50, default="items")
    notes = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            positive("yield_per_batch", "recipe_yield_per_batch_positive"),
            name_unique_ignoring_case("recipe"),
        ]

    def __str__(self) -> str:
        return self.name


class CatalogItem(TimestampedModel):
    """Something of the catalog chosen by its name: a finished good, a package."""

    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True, default="")

    class Meta:
        abstract = True
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class FinishedGood(CatalogItem):
    class Meta(CatalogItem.Meta):
        constraints = [name_unique_ignoring_case("finished_good")]


class FinishedGoodComponent(models.Model):
    """How many items of a recipe go into one unit of a finished good."""

    finished_good = models.ForeignKey(
        FinishedGood, on_delete=models.CASCADE, related_name="components"
    )
    recipe = models.ForeignKey(Recipe, on_delete=models.PROTECT, related_name="components")
    quantity = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["finished_good", "recipe__name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["finished_good", "recipe"], name="component_unique_recipe"
            ),
            positive("quantity", "component_quantity_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.recipe} in {self.finished_good}"


class EventProductionTarget(TimestampedModel):
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="production_targets")
    recipe = models.ForeignKey(Recipe, on_delete=models.PROTECT, related_name="production_targets")
    target_batches = models.PositiveIntegerField()
    notes = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["recipe__name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["event", "recipe"], name="production_target_unique"),
            positive("target_batches", "production_target_batches_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.event}: {self.target_batches} batches of {self.recipe}"


class EventAssemblyTarget(TimestampedModel):
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="assembly_targets")
    finished_good = models.ForeignKey(
        FinishedGood, on_delete=models.PROTECT, related_name="assembly_targets"
    )
    target_quantity = models.PositiveIntegerField()
    notes = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["finished_good__name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["event", "finished_good"], name="assembly_target_unique"
            ),
            positive("target_quantity", "assembly_target_quantity_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.event}: {self.target_quantity} x {self.finished_good}"


class Run(models.Model):
    """What a production run and an assembly run both record beside their item and amount."""

    notes = models.TextField(blank=True, default="")
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        abstract = True


class ProductionRun(Run):
    recipe = models.ForeignKey(Recipe, on_delete=models.PROTECT, related_name="production_runs")
    # PROTECT: an event with recorded runs cannot be deleted; the runs are the record of
    # what was actually baked.
    event = models.ForeignKey(
        Event, on_delete=models.PROTECT, null=True, blank=True, related_name="production_runs"
    )
    num_batches = models.PositiveIntegerField()
    actual_yield = models.PositiveIntegerField(blank=True)
    produced_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-produced_at", "-id"]
        constraints = [
            positive("num_batches", "production_run_batches_positive"),
            models.CheckConstraint(
                condition=Q(actual_yield__gte=0), name="production_run_yield_non_negative"
            ),
        ]
        indexes = [
            # Covers the progress aggregate: filter on (event, recipe), sum the two amounts.
            models.Index(
                fields=["event", "recipe", "num_batches", "actual_yield"],
                name="prodrun_event_recipe_idx",
            ),
            # The dashboard's latest runs: the newest few of the event without sorting all of
            # its runs.
            models.Index(fields=["event", "produced_at", "id"], name="prodrun_event_latest_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.num_batches} batches of {self.recipe}"

    def save(self, *args, **kwargs) -> None:
        if self.actual_yield is None:
            self.actual_yield = self.num_batches * self.recipe.yield_per_batch
        super().save(*args, **kwargs)


class AssemblyRun(Run):
    finished_good = models.ForeignKey(
        FinishedGood, on_delete=models.PROTECT, related_name="assembly_runs"
    )
    event = models.ForeignKey(
        Event, on_delete=models.PROTECT, null=True, blank=True, related_name="assembly_runs"
    )
    quantity = models.PositiveIntegerField()
    assembled_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-assembled_at", "-id"]
        constraints = [
            positive("quantity", "assembly_run_quantity_positive"),
        ]
        indexes = [
            models.Index(
                fields=["event", "finished_good", "quantity"], name="asmrun_event_good_idx"
            ),
            models.Index(fields=["event", "assembled_at", "id"], name="asmrun_event_latest_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.finished_good}"
