import pytest
from django.core.exceptions import ValidationError

from fulfillment import services
from fulfillment.models import EventRecipientPackage, FulfillmentStatus, Package, Recipient
from planning.models import Event
from tests.fulfillment.factories import (
    AssignmentFactory,
    PackageFactory,
    RecipientFactory,
    StatusChangeFactory,
)
from tests.planning.factories import EventFactory

pytestmark = pytest.mark.django_db


def test_assign_package_creates_a_pending_assignment(atomic):
    event, recipient, package = EventFactory(), RecipientFactory(), PackageFactory()
    row = services.assign_package(
        event.pk, recipient.pk, package.pk, 2, "no nuts", connection=atomic
    )
    assert (row.event, row.recipient, row.package) == (event, recipient, package)
    assert (row.quantity, row.notes) == (2, "no nuts")
    assert row.fulfillment_status == FulfillmentStatus.PENDING
    assert EventRecipientPackage.objects.count() == 1


def test_assigning_the_same_package_again_is_refused_and_offers_the_existing_row(atomic):
    existing = AssignmentFactory(quantity=3)
    with pytest.raises(services.DuplicateAssignmentError) as excinfo:
        services.assign_package(
            existing.event_id, existing.recipient_id, existing.package_id, connection=atomic
        )
    assert excinfo.value.existing.pk == existing.pk
    assert "Edit the existing assignment" in excinfo.value.message
    assert EventRecipientPackage.objects.get().quantity == 3


def test_two_recipients_with_the_same_name_are_kept_apart(atomic):
    event, package = EventFactory(), PackageFactory()
    first, second = RecipientFactory(name="Aunt Mary"), RecipientFactory(name="Aunt Mary")
    services.assign_package(event.pk, first.pk, package.pk, connection=atomic)
    services.assign_package(event.pk, second.pk, package.pk, connection=atomic)
    assert EventRecipientPackage.objects.count() == 2


@pytest.mark.parametrize("quantity", [0, -1, 1.0, True, "2"])
def test_assign_package_refuses_bad_quantity(atomic, quantity):
    event, recipient, package = EventFactory(), RecipientFactory(), PackageFactory()
    with pytest.raises(ValidationError) as excinfo:
        services.assign_package(event.pk, recipient.pk, package.pk, quantity, connection=atomic)
    assert "quantity" in excinfo.value.message_dict


def test_assign_package_refuses_unknown_ids(atomic):
    event, recipient, package = EventFactory(), RecipientFactory(), PackageFactory()
    with pytest.raises(Event.DoesNotExist):
        services.assign_package(event.pk + 9, recipient.pk, package.pk, connection=atomic)
    with pytest.raises(Recipient.DoesNotExist):
        services.assign_package(event.pk, recipient.pk + 9, package.pk, connection=atomic)
    with pytest.raises(Package.DoesNotExist):
        services.assign_package(event.pk, recipient.pk, package.pk + 9, connection=atomic)
    assert not EventRecipientPackage.objects.exists()


def test_update_assignment_changes_only_what_is_given(atomic):
    row = AssignmentFactory(quantity=1, notes="gluten free")
    services.update_assignment(row.pk, quantity=4, connection=atomic)
    row.refresh_from_db()
    assert (row.quantity, row.notes) == (4, "gluten free")
    services.update_assignment(row.pk, notes="", connection=atomic)
    row.refresh_from_db()
    assert (row.quantity, row.notes) == (4, "")


def test_update_assignment_refuses_bad_quantity(atomic):
    row = AssignmentFactory(quantity=1)
    with pytest.raises(ValidationError):
        services.update_assignment(row.pk, quantity=0, connection=atomic)


def test_remove_pending_assignment(atomic):
    row = AssignmentFactory()
    services.remove_assignment(row.pk, connection=atomic)
    assert not EventRecipientPackage.objects.exists()


def test_remove_refuses_assignment_that_moved_on(atomic):
    row = AssignmentFactory(ready=True)
    with pytest.raises(ValidationError) as excinfo:
        services.remove_assignment(row.pk, connection=atomic)
    assert "this one is ready" in excinfo.value.message
    assert EventRecipientPackage.objects.exists()


def test_remove_refuses_assignment_with_history(atomic):
    change = StatusChangeFactory()
    row = change.assignment
    EventRecipientPackage.objects.filter(pk=row.pk).update(fulfillment_status="pending")
    with pytest.raises(ValidationError) as excinfo:
        services.remove_assignment(row.pk, connection=atomic)
    assert "history" in excinfo.value.message


def test_packages_by_status_ordered_by_recipient_name_then_id(atomic, django_assert_num_queries):
    event = EventFactory()
    zoe = AssignmentFactory(event=event, recipient=RecipientFactory(name="Zoe"))
    mary_1 = AssignmentFactory(event=event, recipient=RecipientFactory(name="Aunt Mary"))
    mary_2 = AssignmentFactory(
        event=event, recipient=RecipientFactory(name="Aunt Mary"), ready=True
    )
    AssignmentFactory(recipient=RecipientFactory(name="Abe"))  # another event

    rows = services.get_packages_by_status(event.pk, connection=atomic)
    # What a caller of the contract does: model objects, their recipient and package
    # read without a query per row.
    with django_assert_num_queries(0):
        seen = [(r.pk, r.recipient.name, r.package.name, r.fulfillment_status) for r in rows]
    assert all(isinstance(r, EventRecipientPackage) for r in rows)
    assert seen == [
        (mary_1.pk, "Aunt Mary", mary_1.package.name, "pending"),
        (mary_2.pk, "Aunt Mary", mary_2.package.name, "ready"),
        (zoe.pk, "Zoe", zoe.package.name, "pending"),
    ]
    assert rows[0].recipient == mary_1.recipient
    assert rows[0].quantity == mary_1.quantity
    # One object per package, whichever rows carry it.
    shared = AssignmentFactory(event=event, package=zoe.package)
    again = services.get_packages_by_status(event.pk, connection=atomic)
    by_pk = {row.pk: row for row in again}
    assert by_pk[shared.pk].package is by_pk[zoe.pk].package
    ready = services.get_packages_by_status(event.pk, "ready", connection=atomic)
    assert [(r.pk, r.recipient.pk) for r in ready] == [(mary_2.pk, mary_2.recipient_id)]


def test_packages_by_status_reads_in_the_same_queries_at_any_size(
    atomic, django_assert_num_queries
):
    for size in (3, 40):
        event = EventFactory()
        AssignmentFactory.create_batch(size, event=event)
        # The assignments with their recipients, then their packages.
        with django_assert_num_queries(2):
            rows = services.get_packages_by_status(event.pk, connection=atomic)
            assert all(r.recipient.name and r.package.name for r in rows)
        with django_assert_num_queries(1):
            light = services.list_assignment_rows(event.pk, connection=atomic)
        assert [r.assignment_id for r in light] == [r.pk for r in rows]


def test_assignment_rows_list_what_the_model_read_lists(atomic):
    event = EventFactory()
    AssignmentFactory(event=event, recipient=RecipientFactory(name="Zoe"), ready=True)
    AssignmentFactory(event=event, recipient=RecipientFactory(name="Aunt Mary"), notes="nuts")
    for status in (None, "pending", "ready", "delivered"):
        rows = services.get_packages_by_status(event.pk, status, connection=atomic)
        assert services.list_assignment_rows(event.pk, status, connection=atomic) == [
            services.AssignmentRow(
                assignment_id=r.pk,
                recipient_id=r.recipient_id,
                recipient_name=r.recipient.name,
                household=r.recipient.household,
                package_id=r.package_id,
                package_name=r.package.name,
                quantity=r.quantity,
                fulfillment_status=r.fulfillment_status,
                status_changed_at=r.status_changed_at,
                notes=r.notes,
            )
            for r in rows
        ]
    with pytest.raises(Event.DoesNotExist):
        services.list_assignment_rows(event.pk + 1, connection=atomic)


def test_packages_by_status_refuses_unknown_event_and_status(atomic):
    event = EventFactory()
    assert services.get_packages_by_status(event.pk, "delivered", connection=atomic) == []
    with pytest.raises(Event.DoesNotExist):
        services.get_packages_by_status(event.pk + 1, connection=atomic)
    with pytest.raises(ValidationError):
        services.get_packages_by_status(event.pk, "lost", connection=atomic)


def test_recipient_history_newest_event_first(atomic):
    import datetime

    recipient = RecipientFactory()
    old = AssignmentFactory(
        recipient=recipient, event=EventFactory(event_date=datetime.date(2024, 12, 24))
    )
    new = AssignmentFactory(
        recipient=recipient, event=EventFactory(event_date=datetime.date(2026, 12, 24)), quantity=2
    )
    AssignmentFactory()  # someone else
    history = services.get_recipient_history(recipient.pk, connection=atomic)
    assert [h.pk for h in history] == [new.pk, old.pk]
    assert history[0].package.name == new.package.name
    assert history[0].event.event_date.year == 2026
    with pytest.raises(Recipient.DoesNotExist):
        services.get_recipient_history(recipient.pk + 100, connection=atomic)
