"""Build the benchmark season into an empty database.

The shape is fixed so that figures compare across versions (see README, "Performance"):
20 events, 200 recipes, 100 finished goods, 50 packages, 500 recipients; events 1-5 are large
(200 production and 100 assembly targets, 5,000 production and 2,000 assembly runs, 2,000
assignments), events 6-20 small (20 and 10 targets, 250 and 100 runs, 100 assignments), plus
5,000 production and 2,000 assembly runs attributed to no event. The scale (`seed_bench
--scale`) multiplies the runs, the assignments, the recipients and the target amounts (so the
share of complete targets stays the same); the catalogue and the number of targets do not
change. A fixed seed makes two runs at the same scale produce the same rows.
"""

from __future__ import annotations

import datetime
import random
from dataclasses import dataclass

from django.db import connections

from fulfillment import models as fulfillment
from planning import models as planning

SEED = 20261224
EVENT_NAME = "Season event {number:02d}"
FIRST_EVENT_DATE = datetime.date(2026, 1, 10)
EVENT_SPACING = datetime.timedelta(days=18)
PACKAGES = 50
STATUS_SHARES = (
    (fulfillment.FulfillmentStatus.PENDING, 0.5),
    (fulfillment.FulfillmentStatus.READY, 0.3),
    (fulfillment.FulfillmentStatus.DELIVERED, 0.2),
)

FLAVOURS = [
    "Almond", "Anise", "Apricot", "Brown Butter", "Cardamom", "Cherry", "Chocolate",
    "Cinnamon", "Clove", "Coconut", "Cranberry", "Date", "Espresso", "Fig", "Ginger",
    "Hazelnut", "Honey", "Lemon", "Maple", "Marzipan", "Molasses", "Nutmeg", "Orange",
    "Pecan", "Peppermint", "Pistachio", "Raspberry", "Rum", "Vanilla", "Walnut",
]  # fmt: skip
BAKES = [
    "Biscotti", "Brittle", "Brownies", "Fudge", "Gingerbread", "Linzer Cookies",
    "Macaroons", "Meringues", "Rugelach", "Shortbread", "Snaps", "Stollen", "Tassies",
    "Thumbprints", "Truffles",
]  # fmt: skip
CATEGORIES = ["Bars", "Bread", "Candy", "Cookies", "Pastry"]
UNITS = ["cookies", "pieces", "bars", "loaves", "balls"]
GIFTS = ["Box", "Tin", "Bag", "Platter", "Jar", "Basket"]
FIRST_NAMES = [
    "Aunt Mary", "Uncle Bob", "Grandma Rose", "Lucia", "Mateo", "Priya", "Tom", "Sandra",
    "Kenji", "Hannah", "Oliver", "Amara", "Felix", "Chloe", "Marco", "Ingrid", "Coach Daniels",
    "Ms. Thompson", "Mr. Rivera", "Mrs. Patel",
]  # fmt: skip
HOUSEHOLDS = ["Miller", "Garcia", "Okafor", "Nguyen", "Johnson", "Kowalski", "Schmidt", "Rossi"]


SEEDED = (
    planning.Recipe,
    planning.FinishedGood,
    planning.FinishedGoodComponent,
    fulfillment.Package,
    fulfillment.PackageItem,
    fulfillment.Recipient,
    planning.Event,
    planning.EventProductionTarget,
    planning.EventAssemblyTarget,
    planning.ProductionRun,
    planning.AssemblyRun,
    fulfillment.EventRecipientPackage,
    fulfillment.FulfillmentStatusChange,
)


@dataclass(frozen=True)
class EventShape:
    production_targets: int
    assembly_targets: int
    production_runs: int
    assembly_runs: int
    assignments: int


@dataclass(frozen=True)
class BenchShape:
    """How many rows of each kind `seed_bench --scale` writes."""

    scale: float
    events: int
    large_events: int
    recipes: int
    finished_goods: int
    packages: int
    recipients: int
    large: EventShape
    small: EventShape
    standalone_production_runs: int
    standalone_assembly_runs: int

    @property
    def small_events(self) -> int:
        return self.events - self.large_events

    def event(self, number: int) -> EventShape:
        """The shape of event `number` (1-based, in creation order)."""
        return self.large if number <= self.large_events else self.small


def bench_shape(scale: float) -> BenchShape:
    if not scale > 0:
        raise ValueError(f"scale must be greater than 0 (got {scale!r})")

    def scaled(count: int) -> int:
        return max(1, round(count * scale))

    return BenchShape(
        scale=scale,
        events=20,
        large_events=5,
        recipes=200,
        finished_goods=100,
        packages=PACKAGES,
        recipients=scaled(500),
        large=EventShape(200, 100, scaled(5000), scaled(2000), scaled(2000)),
        small=EventShape(20, 10, scaled(250), scaled(100), scaled(100)),
        standalone_production_runs=scaled(5000),
        standalone_assembly_runs=scaled(2000),
    )


def event_name(number: int) -> str:
    return EVENT_NAME.format(number=number)


def _status_list(count: int, rng: random.Random) -> list[str]:
    statuses: list[str] = []
    for status, share in STATUS_SHARES[:-1]:
        statuses += [status] * round(count * share)
    statuses += [STATUS_SHARES[-1][0]] * (count - len(statuses))
    rng.shuffle(statuses)
    return statuses


NOT_EMPTY = "The database already has events or recipes: seed_bench needs an empty one."


def seed_season(shape: BenchShape, *, alias: str) -> dict[str, int]:
    """Write the season into the empty database `alias` and return the rows written per kind.

    The caller owns the transaction, so a refused or failed seed leaves nothing behind.
    """
    if (
        planning.Event.objects.using(alias).exists()
        or planning.Recipe.objects.using(alias).exists()
    ):
        raise ValueError(NOT_EMPTY)
    return Seeder(shape, alias).run()


def analyze_seeded_tables(alias: str) -> None:
    """Statistics for the planner now, as autovacuum would gather them shortly after a bulk
    load in production. PostgreSQL only, and only the seeded tables: a bare ANALYZE also
    locks the catalogs shared by every database of the server."""
    connection = connections[alias]
    if connection.vendor != "postgresql":
        return
    tables = ", ".join(connection.ops.quote_name(model._meta.db_table) for model in SEEDED)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {tables}")


class Seeder:
    def __init__(self, shape: BenchShape, alias: str) -> None:
        self.shape = shape
        self.alias = alias
        self.rng = random.Random(SEED)
        self.counts: dict[str, int] = {}
        # One fixed "now", so the timestamps are as deterministic as the rest.
        self.now = datetime.datetime(2026, 1, 1, 9, 0, tzinfo=datetime.UTC)

    def _insert(self, model, rows: list, name: str) -> list:
        created = model._default_manager.using(self.alias).bulk_create(rows, batch_size=2000)
        self.counts[name] = self.counts.get(name, 0) + len(rows)
        return created

    def _ids(self, model) -> list[int]:
        # Re-read the keys in creation order rather than trusting bulk_create to set them.
        return list(
            model._default_manager.using(self.alias).order_by("pk").values_list("pk", flat=True)
        )

    def run(self) -> dict[str, int]:
        recipe_ids, recipe_yields = self._catalogue()
        good_ids = self._ids(planning.FinishedGood)
        package_ids = self._ids(fulfillment.Package)
        recipient_ids = self._recipients()
        event_ids = self._events()
        for number, event_id in enumerate(event_ids, start=1):
            self._event(number, event_id, recipe_ids, recipe_yields, good_ids)
            self._assignments(number, event_id, recipient_ids, package_ids)
        self._standalone_runs(recipe_ids, recipe_yields, good_ids)
        return self.counts

    def _catalogue(self) -> tuple[list[int], dict[int, int]]:
        rng, shape = self.rng, self.shape
        recipes = [
            planning.Recipe(
                name=f"{rng.choice(FLAVOURS)} {rng.choice(BAKES)} {number:03d}",
                category=rng.choice(CATEGORIES),
                yield_per_batch=rng.randint(12, 48),
                yield_unit=rng.choice(UNITS),
                created_at=self.now,
            )
            for number in range(1, shape.recipes + 1)
        ]
        self._insert(planning.Recipe, recipes, "recipes")
        recipe_rows = list(
            planning.Recipe.objects.using(self.alias)
            .order_by("pk")
            .values_list("pk", "yield_per_batch")
        )
        recipe_ids = [pk for pk, _ in recipe_rows]
        goods = [
            planning.FinishedGood(
                name=f"{rng.choice(FLAVOURS)} {rng.choice(GIFTS)} {number:03d}",
                created_at=self.now,
            )
            for number in range(1, shape.finished_goods + 1)
        ]
        self._insert(planning.FinishedGood, goods, "finished goods")
        good_ids = self._ids(planning.FinishedGood)
        self._insert(
            planning.FinishedGoodComponent,
            [
                planning.FinishedGoodComponent(
                    finished_good_id=good_id, recipe_id=recipe_id, quantity=rng.randint(2, 12)
                )
                for good_id in good_ids
                for recipe_id in rng.sample(recipe_ids, rng.randint(1, 3))
            ],
            "components",
        )
        packages = [
            fulfillment.Package(
                name=f"{rng.choice(GIFTS)} hamper {number:02d}", created_at=self.now
            )
            for number in range(1, shape.packages + 1)
        ]
        self._insert(fulfillment.Package, packages, "packages")
        self._insert(
            fulfillment.PackageItem,
            [
                fulfillment.PackageItem(
                    package_id=package_id, finished_good_id=good_id, quantity=rng.randint(1, 3)
                )
                for package_id in self._ids(fulfillment.Package)
                for good_id in rng.sample(good_ids, rng.randint(1, 3))
            ],
            "package items",
        )
        return recipe_ids, dict(recipe_rows)

    def _recipients(self) -> list[int]:
        rng = self.rng
        self._insert(
            fulfillment.Recipient,
            [
                fulfillment.Recipient(
                    name=rng.choice(FIRST_NAMES),
                    household=f"{rng.choice(HOUSEHOLDS)} household",
                    address=f"{rng.randint(1, 250)} {rng.choice(['Elm', 'Oak', 'Maple'])} St",
                    notes=rng.choice(["", "", "", "No nuts", "Gluten free"]),
                    created_at=self.now,
                )
                for _ in range(self.shape.recipients)
            ],
            "recipients",
        )
        return self._ids(fulfillment.Recipient)

    def _events(self) -> list[int]:
        self._insert(
            planning.Event,
            [
                planning.Event(
                    name=event_name(number),
                    event_date=FIRST_EVENT_DATE + EVENT_SPACING * (number - 1),
                    created_at=self.now,
                )
                for number in range(1, self.shape.events + 1)
            ],
            "events",
        )
        return self._ids(planning.Event)

    def _at(self, day: datetime.date, rng: random.Random) -> datetime.datetime:
        # Runs happen in the two weeks before the event.
        moment = datetime.datetime.combine(day, datetime.time(8, tzinfo=datetime.UTC))
        return moment - datetime.timedelta(minutes=rng.randint(0, 14 * 24 * 60))

    def _event(self, number, event_id, recipe_ids, recipe_yields, good_ids) -> None:
        rng = self.rng
        size = self.shape.event(number)
        large = size is self.shape.large
        day = FIRST_EVENT_DATE + EVENT_SPACING * (number - 1)
        targeted_recipes = sorted(rng.sample(recipe_ids, size.production_targets))
        targeted_goods = sorted(rng.sample(good_ids, size.assembly_targets))
        # Target amounts sized so that about half of the targets are complete at any scale.
        batches = (30, 70) if large else (15, 35)
        quantities = (40, 80) if large else (20, 40)
        self._targets(
            planning.EventProductionTarget,
            ("recipe_id", "target_batches", "production targets"),
            event_id,
            targeted_recipes,
            batches,
        )
        self._targets(
            planning.EventAssemblyTarget,
            ("finished_good_id", "target_quantity", "assembly targets"),
            event_id,
            targeted_goods,
            quantities,
        )
        self._production_runs(size.production_runs, targeted_recipes, recipe_yields, event_id, day)
        self._assembly_runs(size.assembly_runs, targeted_goods, event_id, day)

    def _targets(self, model, fields, event_id, item_ids, bounds) -> None:
        """One target per item; `fields` names its item, its amount and the count."""
        item, amount, name = fields
        scale = self.shape.scale
        rows = [
            model(
                event_id=event_id,
                **{item: item_id, amount: max(1, round(self.rng.randint(*bounds) * scale))},
                created_at=self.now,
            )
            for item_id in item_ids
        ]
        self._insert(model, rows, name)

    def _production_runs(self, count, recipe_ids, recipe_yields, event_id, day) -> None:
        rng = self.rng
        runs = []
        for _ in range(count):
            recipe_id = rng.choice(recipe_ids)
            num_batches = rng.randint(1, 3)
            runs.append(
                planning.ProductionRun(
                    recipe_id=recipe_id,
                    event_id=event_id,
                    num_batches=num_batches,
                    # Now and then a batch comes out short.
                    actual_yield=num_batches * recipe_yields[recipe_id] - rng.choice([0] * 9 + [2]),
                    produced_at=self._at(day, rng),
                )
            )
        self._insert(planning.ProductionRun, runs, "production runs")

    def _assembly_runs(self, count, good_ids, event_id, day) -> None:
        rng = self.rng
        self._insert(
            planning.AssemblyRun,
            [
                planning.AssemblyRun(
                    finished_good_id=rng.choice(good_ids),
                    event_id=event_id,
                    quantity=rng.randint(1, 5),
                    assembled_at=self._at(day, rng),
                )
                for _ in range(count)
            ],
            "assembly runs",
        )

    def _assignments(self, number, event_id, recipient_ids, package_ids) -> None:
        rng = self.rng
        count = self.shape.event(number).assignments
        recipients, packages = len(recipient_ids), len(package_ids)
        if count > recipients * packages:
            raise ValueError("Too few recipients for unique (recipient, package) pairs.")
        statuses = _status_list(count, rng)
        changed_at = datetime.datetime.combine(
            FIRST_EVENT_DATE + EVENT_SPACING * (number - 1), datetime.time(7, tzinfo=datetime.UTC)
        )
        offset = number * 37
        rows = [
            # Index i -> (i mod R, i div R) is one-to-one for i < R x P, so every
            # (event, recipient, package) triple is unique; the offsets vary it per event.
            fulfillment.EventRecipientPackage(
                event_id=event_id,
                recipient_id=recipient_ids[(index + offset) % recipients],
                package_id=package_ids[(index // recipients + number) % packages],
                quantity=rng.choice([1, 1, 1, 2]),
                fulfillment_status=status,
                status_changed_at=self.now
                if status == fulfillment.FulfillmentStatus.PENDING
                else changed_at,
                created_at=self.now,
            )
            for index, status in enumerate(statuses)
        ]
        self._insert(fulfillment.EventRecipientPackage, rows, "assignments")
        # Every real change leaves a history row, so ready and delivered rows get theirs.
        assignment_ids = list(
            fulfillment.EventRecipientPackage.objects.using(self.alias)
            .filter(event_id=event_id)
            .order_by("pk")
            .values_list("pk", "fulfillment_status")
        )
        history = []
        for pk, status in assignment_ids:
            steps = {
                fulfillment.FulfillmentStatus.READY.value: 1,
                fulfillment.FulfillmentStatus.DELIVERED.value: 2,
            }.get(status, 0)
            history += [
                fulfillment.FulfillmentStatusChange(
                    assignment_id=pk,
                    from_status=before,
                    to_status=after,
                    changed_at=changed_at,
                    source=fulfillment.ChangeSource.COMMAND,
                )
                for before, after in (
                    (fulfillment.FulfillmentStatus.PENDING, fulfillment.FulfillmentStatus.READY),
                    (fulfillment.FulfillmentStatus.READY, fulfillment.FulfillmentStatus.DELIVERED),
                )[:steps]
            ]
        self._insert(fulfillment.FulfillmentStatusChange, history, "status changes")

    def _standalone_runs(self, recipe_ids, recipe_yields, good_ids) -> None:
        # Test batches and spares: attributed to no event, never counted toward a target.
        self._production_runs(
            self.shape.standalone_production_runs, recipe_ids, recipe_yields, None, FIRST_EVENT_DATE
        )
        self._assembly_runs(self.shape.standalone_assembly_runs, good_ids, None, FIRST_EVENT_DATE)
