import datetime

import factory
from django.contrib.auth import get_user_model

from planning import models
from planning.kinds import ASSEMBLY, PRODUCTION, TargetKind


def model_factory(model, **declarations):
    """A plain factory for a model: its field declarations and nothing else (factories with
    traits or options stay classes)."""
    return factory.make_factory(
        model, FACTORY_CLASS=factory.django.DjangoModelFactory, **declarations
    )


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("pw-test-123")


EventFactory = model_factory(
    models.Event,
    name=factory.Sequence(lambda n: f"Event {n}"),
    event_date=factory.Sequence(lambda n: datetime.date(2026, 12, 24) + datetime.timedelta(n)),
)
RecipeFactory = model_factory(
    models.Recipe,
    name=factory.Sequence(lambda n: f"Recipe {n:04d}"),
    yield_per_batch=24,
    yield_unit="cookies",
)
FinishedGoodFactory = model_factory(
    models.FinishedGood, name=factory.Sequence(lambda n: f"Finished good {n:04d}")
)
FinishedGoodComponentFactory = model_factory(
    models.FinishedGoodComponent,
    finished_good=factory.SubFactory(FinishedGoodFactory),
    recipe=factory.SubFactory(RecipeFactory),
    quantity=6,
)


def _kind_factories(kind: TargetKind, item_factory, target_amount: int):
    """The target and run factories of a kind: for the event, of an item, one run of 1."""
    item = {kind.item_field: factory.SubFactory(item_factory)}
    event = {"event": factory.SubFactory(EventFactory)}
    target = model_factory(kind.target_model, **event, **item, **{kind.amount_field: target_amount})
    run = model_factory(kind.run_model, **item, **event, **{kind.run_amount_field: 1})
    return target, run


ProductionTargetFactory, ProductionRunFactory = _kind_factories(PRODUCTION, RecipeFactory, 4)
AssemblyTargetFactory, AssemblyRunFactory = _kind_factories(ASSEMBLY, FinishedGoodFactory, 10)
