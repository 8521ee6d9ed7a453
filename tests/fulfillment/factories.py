import factory

from fulfillment.models import (
    ChangeSource,
    EventRecipientPackage,
    FulfillmentStatus,
    FulfillmentStatusChange,
    Package,
    PackageItem,
    Recipient,
)
from tests.planning.factories import EventFactory, FinishedGoodFactory


class RecipientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Recipient

    name = factory.Sequence(lambda n: f"Recipient {n:04d}")
    household = factory.Sequence(lambda n: f"Household {n % 7}")


class PackageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Package

    name = factory.Sequence(lambda n: f"Package {n:04d}")


class PackageItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PackageItem

    package = factory.SubFactory(PackageFactory)
    finished_good = factory.SubFactory(FinishedGoodFactory)
    quantity = 1


class AssignmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EventRecipientPackage

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
        model = FulfillmentStatusChange

    assignment = factory.SubFactory(AssignmentFactory, ready=True)
    from_status = FulfillmentStatus.PENDING
    to_status = FulfillmentStatus.READY
    source = ChangeSource.COMMAND
