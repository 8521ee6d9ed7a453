"""Fill an empty database with a believable gifting season, for trying the app out."""

from __future__ import annotations

import datetime
import random

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.utils import timezone

from fulfillment import services as fulfillment_services
from fulfillment.models import ChangeSource, Package, PackageItem, Recipient
from planning import services as planning_services
from planning.models import Event, FinishedGood, FinishedGoodComponent, Recipe

DEMO_USERNAME = "demo"
DEMO_PASSWORD = "bake-season-2026"
# One login per role, to see the app as each of them does.
ROLE_USERS = {"planner": "Planners", "packer": "Packers", "coordinator": "Coordinators"}

RECIPES = [
    # name, category, yield per batch, unit
    ("Gingerbread Men", "Cookies", 24, "cookies"),
    ("Sugar Cookies", "Cookies", 36, "cookies"),
    ("Chocolate Chip Cookies", "Cookies", 30, "cookies"),
    ("Snickerdoodles", "Cookies", 30, "cookies"),
    ("Linzer Cookies", "Cookies", 18, "cookies"),
    ("Shortbread", "Bars", 20, "pieces"),
    ("Biscotti", "Cookies", 24, "biscotti"),
    ("Peppermint Bark", "Candy", 30, "pieces"),
    ("Chocolate Fudge", "Candy", 36, "pieces"),
    ("Rum Balls", "Candy", 40, "balls"),
    ("Pecan Tassies", "Pastry", 24, "tassies"),
    ("Stollen", "Bread", 2, "loaves"),
]

FINISHED_GOODS = {
    "Cookie Gift Box": (
        "A dozen and a half assorted cookies in a window box.",
        [("Gingerbread Men", 6), ("Sugar Cookies", 6), ("Chocolate Chip Cookies", 6)],
    ),
    "Sweet Tin": (
        "Fudge and peppermint bark in a red tin.",
        [("Chocolate Fudge", 8), ("Peppermint Bark", 8)],
    ),
    "Biscotti Bag": ("Six biscotti in a cello bag with ribbon.", [("Biscotti", 6)]),
    "Holiday Platter": (
        "A platter for the office or a party.",
        [("Shortbread", 12), ("Linzer Cookies", 12), ("Snickerdoodles", 12)],
    ),
    "Stollen Gift": ("One loaf, wrapped.", [("Stollen", 1)]),
    "Truffle Box": ("Rum balls and pecan tassies.", [("Rum Balls", 12), ("Pecan Tassies", 6)]),
}

PACKAGES = {
    "Family Hamper": (
        "The big one, for family.",
        [("Cookie Gift Box", 2), ("Sweet Tin", 1), ("Stollen Gift", 1)],
    ),
    "Neighbor Box": ("For the neighbors.", [("Cookie Gift Box", 1)]),
    "Teacher Treat": ("For teachers and coaches.", [("Biscotti Bag", 1), ("Truffle Box", 1)]),
    "Office Platter": ("For the office kitchen.", [("Holiday Platter", 1)]),
    "Small Thank-You": ("For the mail carrier and friends.", [("Biscotti Bag", 1)]),
}

HOUSEHOLDS = {
    "Miller family": ["Grandma Rose", "Grandpa Joe", "Aunt Mary", "Uncle Bob"],
    "Garcia family": ["Lucia Garcia", "Mateo Garcia", "Aunt Mary"],
    "Next door": ["The Johnsons", "Mrs. Patel", "Mr. Okafor", "The Nguyens"],
    "School": ["Ms. Thompson", "Mr. Rivera", "Coach Daniels", "Mrs. Kowalski"],
    "Work": ["Priya", "Tom", "Sandra", "Kenji", "Office kitchen"],
    "Friends": ["Hannah", "Oliver", "Amara", "Felix", "Chloe", "Marco", "Ingrid"],
    "Helpers": ["Mail carrier", "Dog walker", "Piano teacher", "Hairdresser", "Pharmacist"],
}


def upcoming_christmas(today: datetime.date) -> datetime.date:
    this_year = datetime.date(today.year, 12, 24)
    return this_year if this_year >= today else datetime.date(today.year + 1, 12, 24)


class Command(BaseCommand):
    help = "Create demo data (a past and an upcoming season) and a demo login. Safe to run twice."

    def add_arguments(self, parser):
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS)

    def handle(self, *args, database: str, **options) -> None:
        with transaction.atomic(using=database):
            self._ensure_demo_user(database)
            if Event.objects.using(database).exists():
                self.stdout.write("Events already exist: demo data left as it is.")
            else:
                self._seed(database)
                self.stdout.write(self.style.SUCCESS("Demo season created."))
        self.stdout.write(f"Demo login: {DEMO_USERNAME} / {DEMO_PASSWORD} (administrator)")
        self.stdout.write(
            "Role logins (same password): "
            + ", ".join(f"{name} ({role})" for name, role in ROLE_USERS.items())
        )

    def _ensure_demo_user(self, alias: str) -> None:
        from django.contrib.auth.models import Group

        users = get_user_model()._default_manager.db_manager(alias)
        if not users.filter(username=DEMO_USERNAME).exists():
            users.create_superuser(DEMO_USERNAME, "demo@example.com", DEMO_PASSWORD)
        for username, role in ROLE_USERS.items():
            if not users.filter(username=username).exists():
                user = users.create_user(username, password=DEMO_PASSWORD)
                user.groups.add(Group.objects.using(alias).get(name=role))

    def _seed(self, alias: str) -> None:
        conn = connections[alias]
        rng = random.Random(2026)
        recipes, goods = self._recipes_and_goods(alias)
        packages = self._packages(alias, goods)
        recipients = self._recipients(alias, rng)
        past, current = self._events(alias, upcoming_christmas(timezone.localdate()))
        for event, fraction in ((past, 1.0), (current, 0.45)):
            self._plan_and_bake(event, recipes, goods, fraction, rng, conn)
            self._assign(event, recipients, packages, rng, conn, all_delivered=event is past)

        # Test batches not meant for any event: they must not count toward targets.
        for name in ("Sugar Cookies", "Stollen"):
            planning_services.record_production_run(
                recipes[name].pk, 1, notes="Test batch", connection=conn
            )

    def _recipes_and_goods(self, alias: str) -> tuple[dict, dict]:
        recipes = {
            name: Recipe.objects.using(alias).create(
                name=name, category=category, yield_per_batch=yield_, yield_unit=unit
            )
            for name, category, yield_, unit in RECIPES
        }
        goods = _with_parts(
            alias, FinishedGood, FINISHED_GOODS, FinishedGoodComponent, "finished_good", recipes
        )
        return recipes, goods

    def _packages(self, alias: str, goods: dict) -> dict:
        return _with_parts(alias, Package, PACKAGES, PackageItem, "package", goods)

    def _recipients(self, alias: str, rng: random.Random) -> list:
        return [
            Recipient.objects.using(alias).create(
                name=name,
                household=household,
                address=f"{rng.randint(1, 250)} {rng.choice(['Elm', 'Oak', 'Maple', 'Birch'])} St",
                notes=rng.choice(["", "", "", "No nuts", "Loves gingerbread", "Gluten free"]),
            )
            for household, names in HOUSEHOLDS.items()
            for name in names
        ]

    def _events(self, alias: str, christmas: datetime.date) -> tuple:
        last_christmas = christmas.replace(year=christmas.year - 1)
        events = Event.objects.using(alias)
        past = events.create(
            name=f"Christmas {last_christmas.year}",
            event_date=last_christmas,
            notes="Last year's season, all delivered.",
        )
        current = events.create(
            name=f"Christmas {christmas.year}",
            event_date=christmas,
            notes="Bake the week before; deliver on the 23rd and 24th.",
        )
        events.create(
            name="New Year Open House",
            event_date=christmas + datetime.timedelta(days=7),
            notes="Platters for the open house.",
        )
        return past, current

    def _plan_and_bake(self, event, recipes, goods, fraction, rng, conn) -> None:
        for recipe in recipes.values():
            batches = rng.randint(2, 6)
            planning_services.set_production_target(event.pk, recipe.pk, batches, connection=conn)
            done = round(batches * fraction * rng.uniform(0.6, 1.3))
            for _ in range(done):
                planning_services.record_production_run(
                    recipe.pk, 1, event_id=event.pk, connection=conn
                )
        for good in goods.values():
            quantity = rng.randint(4, 20)
            planning_services.set_assembly_target(event.pk, good.pk, quantity, connection=conn)
            done = round(quantity * fraction * rng.uniform(0.5, 1.1))
            if done:
                planning_services.record_assembly_run(
                    good.pk, done, event_id=event.pk, connection=conn
                )

    def _assign(self, event, recipients, packages, rng, conn, *, all_delivered: bool) -> None:
        package_list = list(packages.values())
        for index, recipient in enumerate(recipients):
            package = package_list[index % len(package_list)]
            assignment = fulfillment_services.assign_package(
                event.pk, recipient.pk, package.pk, 1 if index % 6 else 2, connection=conn
            )
            steps = 2 if all_delivered else rng.choice([0, 0, 0, 1, 1, 2])
            for status in ("ready", "delivered")[:steps]:
                fulfillment_services.update_fulfillment_status(
                    assignment.pk, status, source=ChangeSource.COMMAND, connection=conn
                )


def _with_parts(alias: str, model, table: dict, part_model, owner: str, named: dict) -> dict:
    """The rows of `table` (name -> (description, [(part name, quantity)])) created as `model`,
    each with its parts: a finished good's recipes, a package's finished goods."""
    part_field = next(
        field.name
        for field in part_model._meta.concrete_fields
        if field.is_relation and field.name != owner
    )
    created = {}
    for name, (description, parts) in table.items():
        row = model.objects.using(alias).create(name=name, description=description)
        part_model.objects.using(alias).bulk_create(
            part_model(**{owner: row, part_field: named[part_name]}, quantity=quantity)
            for part_name, quantity in parts
        )
        created[name] = row
    return created
