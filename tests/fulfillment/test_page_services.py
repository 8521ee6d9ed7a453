"""Reads behind the fulfillment page, exports, packing list and checklist, and bulk undo."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from fulfillment import reads, services
from fulfillment.models import EventRecipientPackage, FulfillmentStatusChange
from planning.models import Event
from tests.fulfillment.factories import (
    AssignmentFactory,
    PackageFactory,
    PackageItemFactory,
    RecipientFactory,
)
from tests.planning.factories import EventFactory, FinishedGoodFactory, UserFactory

pytestmark = pytest.mark.django_db


def _move(assignment, status, user=None, atomic=None):
    return services.update_fulfillment_status(
        assignment.pk, status, changed_by=user, connection=atomic
    )


@pytest.fixture
def event():
    return EventFactory(name="Christmas")


def test_list_event_assignments_counts_the_whole_event_and_pages_the_filter(atomic, event):
    AssignmentFactory.create_batch(3, event=event)
    AssignmentFactory.create_batch(2, event=event, ready=True)
    AssignmentFactory(event=event, delivered=True)
    AssignmentFactory(ready=True)  # another event: never counted

    page = services.list_event_assignments(
        event.pk, status="ready", per_page=1, page=2, connection=atomic
    )

    assert (page.counts.pending, page.counts.ready, page.counts.delivered) == (3, 2, 1)
    assert page.counts.total == 6
    assert page.matching == 2
    assert (page.page, page.num_pages) == (2, 2)
    assert [row.fulfillment_status for row in page.rows] == ["ready"]


@pytest.fixture
def crowded_event(event):
    """Recipients with two or three packages each, two of them called the same, whose rows
    were created interleaved, so the page order (name, then assignment id) differs from the
    order of the recipients' ids and from the order of the rows' ids."""
    packages = PackageFactory.create_batch(3)
    names = ["Zoe", "Aunt Mary", "Bob", "Aunt Mary", "Carl", "Anna", "Bob"]
    recipients = [RecipientFactory(name=name) for name in names]
    statuses = ["pending", "ready", "delivered"]
    for turn in range(3):
        for n, recipient in enumerate(recipients):
            if turn < 2 or n % 2:
                status = statuses[(turn + n) % 3]
                AssignmentFactory(
                    event=event,
                    recipient=recipient,
                    package=packages[turn],
                    fulfillment_status=status,
                )
    AssignmentFactory(recipient=recipients[1])  # another event
    return event


@pytest.fixture(params=["sorted", "index order"])
def page_plan(request, monkeypatch):
    """Both ways of reading a page: sorting the matching rows (small events) and walking the
    recipients' name index (large events)."""
    threshold = 10**9 if request.param == "sorted" else 0
    monkeypatch.setattr(reads, "INDEX_ORDER_MIN_ROWS", threshold)
    return request.param


@pytest.mark.parametrize("status", [None, "pending", "ready", "delivered"])
@pytest.mark.parametrize("per_page", [1, 4, 50])
def test_list_event_assignments_pages_cover_the_filter_once_in_name_then_id_order(
    atomic, crowded_event, status, per_page, page_plan
):
    expected = list(
        EventRecipientPackage.objects.filter(event=crowded_event)
        .filter(**({"fulfillment_status": status} if status else {}))
        .order_by("recipient__name", "id")
        .values_list("pk", flat=True)
    )
    seen = []
    first = services.list_event_assignments(
        crowded_event.pk, status=status, per_page=per_page, connection=atomic
    )
    for number in range(1, first.num_pages + 1):
        page = services.list_event_assignments(
            crowded_event.pk, status=status, page=number, per_page=per_page, connection=atomic
        )
        assert len(page.rows) == page.end_index - page.start_index + 1
        seen += [row.pk for row in page.rows]
    assert seen == expected
    assert first.matching == len(expected)


@pytest.mark.skipif(connection.vendor != "sqlite", reason="EXPLAIN QUERY PLAN is SQLite's")
@pytest.mark.parametrize("status", [None, "ready"])
def test_large_event_page_is_read_in_name_index_order_not_sorted(
    atomic, crowded_event, status, monkeypatch
):
    monkeypatch.setattr(reads, "INDEX_ORDER_MIN_ROWS", 0)
    with CaptureQueriesContext(connection) as queries:
        services.list_event_assignments(
            crowded_event.pk, status=status, page=2, per_page=4, connection=atomic
        )
    rows_query = queries.captured_queries[-1]["sql"]
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {rows_query}")
        plan = cursor.fetchall()
    [page_ids] = [node for node, _, _, detail in plan if detail.startswith("LIST SUBQUERY")]
    steps = [detail for _, parent, _, detail in plan if parent == page_ids]
    assert steps[0].startswith("SCAN r USING COVERING INDEX recipient_name_idx"), plan
    assert "(event_id=? AND recipient_id=?" in steps[1], plan
    # Only the rows of one recipient name are ever sorted (by id), never the whole event.
    assert "USE TEMP B-TREE FOR ORDER BY" not in steps, plan


def test_list_event_assignments_searches_name_and_household_in_name_order(atomic, event):
    mary = AssignmentFactory(event=event, recipient=RecipientFactory(name="Mary", household="A"))
    AssignmentFactory(event=event, recipient=RecipientFactory(name="Bob", household="B"))
    anna = AssignmentFactory(
        event=event, recipient=RecipientFactory(name="Anna", household="Maryland")
    )

    page = services.list_event_assignments(event.pk, search=" mary ", connection=atomic)

    assert [row.pk for row in page.rows] == [anna.pk, mary.pk]
    assert page.matching == 2


def test_list_event_assignments_page_past_the_end_shows_the_last_page(atomic, event):
    AssignmentFactory.create_batch(3, event=event)
    page = services.list_event_assignments(event.pk, page=99, per_page=2, connection=atomic)
    assert (page.page, page.start_index, page.end_index) == (2, 3, 3)
    assert len(page.rows) == 1


def test_list_event_assignments_rows_say_who_changed_them_last(atomic, event):
    bob = UserFactory(username="bob", is_superuser=True)
    row = AssignmentFactory(event=event)
    untouched = AssignmentFactory(event=event)
    _move(row, "ready", bob, atomic)
    scripted = AssignmentFactory(event=event)
    _move(scripted, "ready", None, atomic)

    rows = {r.pk: r for r in services.list_event_assignments(event.pk, connection=atomic).rows}

    assert (rows[row.pk].last_changed_by, rows[row.pk].last_change_source) == ("bob", "page")
    assert (rows[scripted.pk].last_changed_by, rows[scripted.pk].last_change_source) == (
        None,
        "page",
    )
    assert rows[untouched.pk].last_change_source is None


def test_list_event_assignments_runs_in_three_queries(atomic, event, django_assert_num_queries):
    for _ in range(5):
        _move(AssignmentFactory(event=event), "ready", None, atomic)
    with django_assert_num_queries(3):
        page = services.list_event_assignments(event.pk, search="Rec", connection=atomic)
        for row in page.rows:
            assert row.recipient.name
            assert row.package.name
            assert row.last_change_source


def test_list_event_assignments_refuses_unknown_event_and_bad_filters(atomic, event):
    with pytest.raises(Event.DoesNotExist):
        services.list_event_assignments(event.pk + 100, connection=atomic)
    with pytest.raises(ValidationError, match="Unknown fulfillment status"):
        services.list_event_assignments(event.pk, status="lost", connection=atomic)
    with pytest.raises(ValidationError):
        services.list_event_assignments(event.pk, page=0, connection=atomic)


def test_get_assignment_row_of_another_event_does_not_exist(atomic, event):
    row = AssignmentFactory()
    with pytest.raises(EventRecipientPackage.DoesNotExist):
        services.get_assignment_row(row.pk, event_id=event.pk, connection=atomic)
    assert services.get_assignment_row(row.pk, event_id=row.event_id, connection=atomic) == row


def test_export_rows_follow_the_filter_and_carry_the_last_change(atomic, event):
    bob = UserFactory(username="bob", is_superuser=True)
    mary = RecipientFactory(name="Mary", household="Smiths", address="1 Elm St")
    ready = AssignmentFactory(event=event, recipient=mary, quantity=2)
    _move(ready, "ready", bob, atomic)
    AssignmentFactory(event=event)

    [row] = services.get_export_rows(event.pk, status="ready", connection=atomic)

    ready.refresh_from_db()
    assert (row.recipient, row.household, row.address) == ("Mary", "Smiths", "1 Elm St")
    assert (row.package, row.quantity, row.status) == (ready.package.name, 2, "Ready")
    assert (row.last_changed_at, row.last_changed_by) == (ready.status_changed_at, "bob")
    assert len(services.get_export_rows(event.pk, connection=atomic)) == 2


def test_packing_list_has_one_section_per_recipient_with_contents(atomic, event):
    box, tin = FinishedGoodFactory(name="Cookie box"), FinishedGoodFactory(name="Tin")
    hamper = PackageFactory(name="Hamper")
    PackageItemFactory(package=hamper, finished_good=box, quantity=2)
    PackageItemFactory(package=hamper, finished_good=tin, quantity=1)
    bare = PackageFactory(name="Bare")
    first, second = RecipientFactory(name="Mary"), RecipientFactory(name="Mary")
    AssignmentFactory(event=event, recipient=first, package=hamper, quantity=3)
    AssignmentFactory(event=event, recipient=first, package=bare)
    AssignmentFactory(event=event, recipient=second, package=hamper, delivered=True)
    AssignmentFactory(package=hamper)  # another event

    sections = services.get_packing_list(event.pk, connection=atomic)

    assert [s.recipient_id for s in sections] == [first.pk, second.pk]
    assert [(p.name, p.quantity) for p in sections[0].packages] == [("Bare", 1), ("Hamper", 3)]
    assert sections[0].packages[0].contents == []
    assert [(g.name, g.units) for g in sections[0].packages[1].contents] == [
        ("Cookie box", 6),
        ("Tin", 3),
    ]
    pending_only = services.get_packing_list(event.pk, status="pending", connection=atomic)
    assert [s.recipient_id for s in pending_only] == [first.pk]


def test_packing_list_runs_in_three_queries(atomic, event, django_assert_num_queries):
    for n in range(4):
        package = PackageFactory()
        PackageItemFactory.create_batch(2, package=package)
        AssignmentFactory(event=event, package=package, quantity=n + 1)
    with django_assert_num_queries(3):
        services.get_packing_list(event.pk, connection=atomic)


def test_delivery_checklist_groups_ready_packages_by_household(atomic, event):
    smith_a = AssignmentFactory(
        event=event, ready=True, recipient=RecipientFactory(name="Ann", household="Smiths")
    )
    smith_b = AssignmentFactory(
        event=event, ready=True, recipient=RecipientFactory(name="Ben", household="Smiths")
    )
    alone = AssignmentFactory(
        event=event, ready=True, recipient=RecipientFactory(name="Zed", household="")
    )
    AssignmentFactory(event=event, recipient=RecipientFactory(household="Smiths"))  # pending
    AssignmentFactory(event=event, delivered=True)

    stops = services.get_delivery_checklist(event.pk, connection=atomic)

    assert [(s.household, [r.pk for r in s.rows]) for s in stops] == [
        ("Smiths", [smith_a.pk, smith_b.pk]),
        ("Zed", [alone.pk]),
    ]


def test_delivery_checklist_splits_a_household_living_at_two_addresses(atomic, event):
    home = AssignmentFactory(
        event=event,
        ready=True,
        recipient=RecipientFactory(name="Amara", household="Friends", address="133 Elm St"),
    )
    same_door = AssignmentFactory(
        event=event,
        ready=True,
        recipient=RecipientFactory(name="Bo", household="friends", address="133  elm st"),
    )
    elsewhere = AssignmentFactory(
        event=event,
        ready=True,
        recipient=RecipientFactory(name="Chloe", household="Friends", address="247 Elm St"),
    )

    stops = services.get_delivery_checklist(event.pk, connection=atomic)

    assert [(s.address, [r.pk for r in s.rows]) for s in stops] == [
        ("133 Elm St", [home.pk, same_door.pk]),
        ("247 Elm St", [elsewhere.pk]),
    ]


def test_bulk_undo_steps_each_row_back_from_its_own_status(atomic, event):
    ready, delivered = AssignmentFactory(ready=True), AssignmentFactory(delivered=True)
    coordinator = UserFactory(is_superuser=True)

    changed = services.bulk_undo_fulfillment_status(
        [ready.pk, delivered.pk],
        reason=" oops ",
        expected_status={ready.pk: "ready", delivered.pk: "delivered"},
        changed_by=coordinator,
        connection=atomic,
    )

    assert changed == 2
    ready.refresh_from_db()
    delivered.refresh_from_db()
    assert (ready.fulfillment_status, delivered.fulfillment_status) == ("pending", "ready")
    history = FulfillmentStatusChange.objects.order_by("assignment_id")
    assert [(h.from_status, h.to_status, h.note, h.source) for h in history] == [
        ("ready", "pending", "oops", "admin"),
        ("delivered", "ready", "oops", "admin"),
    ]


def _undo_as_seen(seen: dict, connection) -> int:
    """Step the rows back, for "oops", as a page that showed them with these statuses would
    ({row: status seen})."""
    return services.bulk_undo_fulfillment_status(
        [row.pk for row in seen],
        reason="oops",
        expected_status={row.pk: status for row, status in seen.items()},
        connection=connection,
    )


def test_bulk_undo_is_all_or_nothing_and_lists_pending_rows(atomic):
    ready = AssignmentFactory(ready=True)
    pending = AssignmentFactory(recipient=RecipientFactory(name="Uncle Bob"))
    with pytest.raises(services.BulkTransitionError) as excinfo:
        _undo_as_seen({ready: "ready", pending: "pending"}, atomic)
    assert [b.assignment_id for b in excinfo.value.blocked] == [pending.pk]
    assert f"Uncle Bob / {pending.package.name} (pending)" in excinfo.value.message
    ready.refresh_from_db()
    assert ready.fulfillment_status == "ready"
    assert not FulfillmentStatusChange.objects.exists()


def test_bulk_undo_needs_a_reason_and_the_undo_permission(atomic, role_user):
    row = AssignmentFactory(ready=True)
    with pytest.raises(ValidationError, match="A reason is required"):
        services.bulk_undo_fulfillment_status(
            [row.pk], reason="  ", expected_status={row.pk: "ready"}, connection=atomic
        )
    with pytest.raises(PermissionDenied):
        services.bulk_undo_fulfillment_status(
            [row.pk],
            reason="oops",
            expected_status={row.pk: "ready"},
            changed_by=role_user("Packers"),
            connection=atomic,
        )
    row.refresh_from_db()
    assert row.fulfillment_status == "ready"


def test_bulk_undo_runs_in_constant_statements(atomic, django_assert_max_num_queries):
    rows = AssignmentFactory.create_batch(30, ready=True) + AssignmentFactory.create_batch(
        30, delivered=True
    )
    with django_assert_max_num_queries(5):
        _undo_as_seen({r: r.fulfillment_status for r in rows}, atomic)
    assert FulfillmentStatusChange.objects.count() == 60


def test_bulk_undo_posted_twice_steps_each_row_back_once(atomic):
    rows = [AssignmentFactory(delivered=True), AssignmentFactory(ready=True)]
    seen = {r.pk: r.fulfillment_status for r in rows}
    first = services.bulk_undo_fulfillment_status(
        [r.pk for r in rows], reason="oops", expected_status=seen, connection=atomic
    )
    again = services.bulk_undo_fulfillment_status(
        [r.pk for r in rows], reason="oops", expected_status=seen, connection=atomic
    )
    assert (first, again) == (2, 0)
    assert [EventRecipientPackage.objects.get(pk=r.pk).fulfillment_status for r in rows] == [
        "ready",
        "pending",
    ]
    assert FulfillmentStatusChange.objects.count() == 2


def test_bulk_undo_refuses_a_row_that_moved_since_it_was_seen(atomic):
    moved, other = AssignmentFactory(delivered=True), AssignmentFactory(ready=True)
    with pytest.raises(services.BulkTransitionError) as excinfo:
        _undo_as_seen({moved: "pending", other: "ready"}, atomic)
    assert [(b.assignment_id, b.current_status) for b in excinfo.value.blocked] == [
        (moved.pk, "delivered")
    ]
    assert "changed after the page was shown" in excinfo.value.message
    assert not FulfillmentStatusChange.objects.exists()


def test_bulk_undo_refuses_a_row_without_the_status_seen(atomic):
    row = AssignmentFactory(ready=True)
    with pytest.raises(ValidationError, match="status seen is missing"):
        services.bulk_undo_fulfillment_status(
            [row.pk], reason="oops", expected_status={}, connection=atomic
        )
    assert not FulfillmentStatusChange.objects.exists()


@pytest.mark.parametrize("search", ["\x00", "ma\x00ry"])
def test_searches_ignore_nul_characters_which_postgresql_cannot_hold(atomic, event, search):
    mary = AssignmentFactory(event=event, recipient=RecipientFactory(name="Mary")).recipient
    found = services.search_recipients(search, connection=atomic)
    assert mary in found
    assert services.search_packages(search, connection=atomic) is not None
    assert services.list_recipients(search=search, connection=atomic).matching >= 1
    assert services.list_packages(search=search, connection=atomic) is not None
    page = services.list_event_assignments(
        event.pk, search=search, page=1, per_page=50, connection=atomic
    )
    assert page.matching == 1
