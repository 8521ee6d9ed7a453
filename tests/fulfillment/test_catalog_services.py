"""Recipients and packages: the catalog writes and their protection rules."""

import pytest
from django.core.exceptions import ValidationError

from fulfillment import services
from fulfillment.models import Package, PackageItem, Recipient
from planning.models import FinishedGood
from tests.fulfillment.factories import (
    AssignmentFactory,
    PackageFactory,
    PackageItemFactory,
    RecipientFactory,
)
from tests.planning.factories import FinishedGoodFactory

pytestmark = pytest.mark.django_db


def test_create_recipient_trims_and_allows_two_with_the_same_name(atomic):
    first = services.create_recipient(name=" Aunt Mary ", household="Smiths", connection=atomic)
    second = services.create_recipient(name="Aunt Mary", connection=atomic)
    assert (first.name, first.household) == ("Aunt Mary", "Smiths")
    assert first.pk != second.pk
    assert Recipient.objects.filter(name="Aunt Mary").count() == 2


def test_create_recipient_needs_a_name(atomic):
    with pytest.raises(ValidationError) as excinfo:
        services.create_recipient(name="   ", connection=atomic)
    assert excinfo.value.message_dict == {"name": [services.NAME_REQUIRED]}
    assert not Recipient.objects.exists()


def test_update_recipient_changes_the_fields(atomic):
    recipient = RecipientFactory(name="Mary")
    services.update_recipient(
        recipient.pk,
        name="Mary Smith",
        household="",
        address="1 Elm St",
        notes="No nuts",
        connection=atomic,
    )
    recipient.refresh_from_db()
    assert (recipient.name, recipient.household, recipient.address, recipient.notes) == (
        "Mary Smith",
        "",
        "1 Elm St",
        "No nuts",
    )


def test_delete_recipient_without_assignments(atomic):
    recipient = RecipientFactory()
    services.delete_recipient(recipient.pk, connection=atomic)
    assert not Recipient.objects.exists()


def test_delete_recipient_with_assignments_is_refused_with_the_reason(atomic):
    recipient = RecipientFactory(name="Mary")
    AssignmentFactory.create_batch(2, recipient=recipient)
    with pytest.raises(ValidationError) as excinfo:
        services.delete_recipient(recipient.pk, connection=atomic)
    assert excinfo.value.message == services.RECIPIENT_IN_USE.format(name=recipient, count=2)
    assert Recipient.objects.filter(pk=recipient.pk).exists()


def test_list_recipients_searches_and_counts_assignments(atomic, django_assert_num_queries):
    mary = RecipientFactory(name="Mary", household="Smiths")
    AssignmentFactory.create_batch(2, recipient=mary)
    RecipientFactory(name="Bob", household="Jones", address="Smith Street 1")
    RecipientFactory(name="Zed", household="Other")
    with django_assert_num_queries(2):
        page = services.list_recipients(search="smith", connection=atomic)
    assert [(r.name, r.assignment_count) for r in page.rows] == [("Bob", 0), ("Mary", 2)]


def test_search_recipients_and_packages_limit_the_choices(atomic):
    RecipientFactory.create_batch(3, name="Mary")
    RecipientFactory(name="Bob")
    PackageFactory(name="Big hamper")
    PackageFactory(name="Small box")
    assert len(services.search_recipients("mar", limit=2, connection=atomic)) == 2
    assert [p.name for p in services.search_packages("HAMP", connection=atomic)] == ["Big hamper"]
    assert len(services.search_packages("", connection=atomic)) == 2


def test_create_package_with_items(atomic):
    box, tin = FinishedGoodFactory(), FinishedGoodFactory()
    package = services.create_package(
        name="Hamper", description="Big", items=[(box.pk, 2), (tin.pk, 1)], connection=atomic
    )
    assert Package.objects.get(pk=package.pk).name == "Hamper"
    assert sorted(
        PackageItem.objects.filter(package=package).values_list("finished_good_id", "quantity")
    ) == sorted([(box.pk, 2), (tin.pk, 1)])


def test_create_package_refuses_a_taken_name_whatever_the_case(atomic):
    PackageFactory(name="Hamper")
    with pytest.raises(ValidationError) as excinfo:
        services.create_package(name="hamper", connection=atomic)
    assert list(excinfo.value.message_dict) == ["name"]
    assert Package.objects.count() == 1


def test_create_package_refuses_a_good_listed_twice_and_unknown_goods(atomic):
    box = FinishedGoodFactory(name="Cookie box")
    with pytest.raises(ValidationError, match="Cookie box is listed twice"):
        services.create_package(name="P", items=[(box.pk, 1), (box.pk, 2)], connection=atomic)
    with pytest.raises(FinishedGood.DoesNotExist):
        services.create_package(name="P", items=[(box.pk + 99, 1)], connection=atomic)
    with pytest.raises(ValidationError):
        services.create_package(name="P", items=[(box.pk, 0)], connection=atomic)
    assert not Package.objects.exists()


def test_update_package_replaces_the_items(atomic):
    package = PackageFactory(name="Old")
    PackageItemFactory(package=package, quantity=5)
    good = FinishedGoodFactory()
    services.update_package(package.pk, name="New", items=[(good.pk, 3)], connection=atomic)
    package.refresh_from_db()
    assert package.name == "New"
    assert list(package.items.values_list("finished_good_id", "quantity")) == [(good.pk, 3)]


def test_update_package_may_keep_its_own_name(atomic):
    package = PackageFactory(name="Hamper")
    services.update_package(package.pk, name="Hamper", description="x", connection=atomic)
    package.refresh_from_db()
    assert package.description == "x"


def test_delete_package_in_use_is_refused_and_unused_is_deleted(atomic):
    used = PackageFactory(name="Used")
    AssignmentFactory(package=used)
    unused = PackageFactory()
    PackageItemFactory(package=unused)
    with pytest.raises(ValidationError) as excinfo:
        services.delete_package(used.pk, connection=atomic)
    assert excinfo.value.message == services.PACKAGE_IN_USE.format(name="Used", count=1)
    services.delete_package(unused.pk, connection=atomic)
    assert list(Package.objects.values_list("name", flat=True)) == ["Used"]
    assert not PackageItem.objects.filter(package_id=unused.pk).exists()


def test_list_packages_loads_items_in_three_queries(atomic, django_assert_num_queries):
    for _ in range(4):
        PackageItemFactory.create_batch(2, package=PackageFactory())
    with django_assert_num_queries(3):
        page = services.list_packages(connection=atomic)
        assert all(len(p.items.all()) == 2 for p in page.rows)
        assert all(item.finished_good.name for p in page.rows for item in p.items.all())


@pytest.mark.django_db(databases=["default", "other"])
def test_new_services_query_only_the_connection_they_are_given():
    from django.db import connection, connections, transaction
    from django.test.utils import CaptureQueriesContext

    from planning.models import Event

    other = connections["other"]
    event = Event.objects.using("other").create(name="Other", event_date="2026-12-24")
    good = FinishedGood.objects.using("other").create(name="Box")
    with CaptureQueriesContext(connection) as default_queries, transaction.atomic(using="other"):
        recipient = services.create_recipient(name="Mary", connection=other)
        services.update_recipient(recipient.pk, name="Mary S", connection=other)
        package = services.create_package(name="P", items=[(good.pk, 2)], connection=other)
        services.update_package(package.pk, name="P2", items=[(good.pk, 1)], connection=other)
        row = services.assign_package(event.pk, recipient.pk, package.pk, connection=other)
        services.update_fulfillment_status(row.pk, "ready", connection=other)
        services.list_event_assignments(event.pk, search="m", connection=other)
        services.get_assignment_row(row.pk, event_id=event.pk, connection=other)
        services.get_status_counts(event.pk, connection=other)
        services.get_export_rows(event.pk, connection=other)
        services.get_packing_list(event.pk, connection=other)
        services.get_delivery_checklist(event.pk, connection=other)
        services.bulk_undo_fulfillment_status(
            [row.pk], reason="r", expected_status={row.pk: "ready"}, connection=other
        )
        services.list_recipients(search="m", connection=other)
        services.list_packages(search="p", connection=other)
        services.search_recipients("m", connection=other)
        services.search_packages("p", connection=other)
        services.get_package(package.pk, connection=other)
        spare = services.create_recipient(name="Spare", connection=other)
        services.delete_recipient(spare.pk, connection=other)
        spare_package = services.create_package(name="Spare", connection=other)
        services.delete_package(spare_package.pk, connection=other)
    assert len(default_queries) == 0
    assert Package.objects.using("other").count() == 1
