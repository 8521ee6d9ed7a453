import factory

from fulfillment import models
from fulfillment.models import ChangeSource, FulfillmentStatus
from tests.planning.factories import EventFactory, FinishedGoodFactory, model_factory

RecipientFactory = model_factory(
    models.Recipient,
    name=factory.Sequence(lambda n: f"Recipient {n:04d}"),
    household=factory.Sequence(lambda n: f"Household {n % 7}"),
)
PackageFactory = model_factory(models.Package, name=factory.Sequence(lambda n: f"Package {n:04d}"))
PackageItemFactory = model_factory(
    models.PackageItem,
    package=factory.SubFactory(PackageFactory),
    finished_good=factory.SubFactory(FinishedGoodFactory),
    quantity=1,
)


class AssignmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.EventRecipientPackage

    event = factory.SubFactory(EventFactory)
    recipient = factory.SubFactory(RecipientFactory)
    package = factory.SubFactory(PackageFactory)
    quantity = 1
    fulfillment_status = FulfillmentStatus.PENDING

    class Params:
        ready = factory.Trait(fulfillment_status=FulfillmentStatus.READY)
        delivered = factory.Trait(fulfillment_status=FulfillmentStatus.DELIVERED)


class StatusChangeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.FulfillmentStatusChange

    assignment = factory.SubFactory(AssignmentFactory, ready=True)
    from_status = FulfillmentStatus.PENDING
    to_status = FulfillmentStatus.READY
    source = ChangeSource.COMMAND
