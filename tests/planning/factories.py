import datetime

import factory
from django.contrib.auth import get_user_model

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


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("pw-test-123")


class EventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Event

    name = factory.Sequence(lambda n: f"Event {n}")
    event_date = factory.Sequence(lambda n: datetime.date(2026, 12, 24) + datetime.timedelta(n))


class RecipeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Recipe

    name = factory.Sequence(lambda n: f"Recipe {n:04d}")
    yield_per_batch = 24
    yield_unit = "cookies"


class FinishedGoodFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FinishedGood

    name = factory.Sequence(lambda n: f"Finished good {n:04d}")


class FinishedGoodComponentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FinishedGoodComponent

    finished_good = factory.SubFactory(FinishedGoodFactory)
    recipe = factory.SubFactory(RecipeFactory)
    quantity = 6


class ProductionTargetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EventProductionTarget

    event = factory.SubFactory(EventFactory)
    recipe = factory.SubFactory(RecipeFactory)
    target_batches = 4


class AssemblyTargetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EventAssemblyTarget

    event = factory.SubFactory(EventFactory)
    finished_good = factory.SubFactory(FinishedGoodFactory)
    target_quantity = 10


class ProductionRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProductionRun

    recipe = factory.SubFactory(RecipeFactory)
    event = factory.SubFactory(EventFactory)
    num_batches = 1


class AssemblyRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AssemblyRun

    finished_good = factory.SubFactory(FinishedGoodFactory)
    event = factory.SubFactory(EventFactory)
    quantity = 1
