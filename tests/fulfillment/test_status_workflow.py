import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied, ValidationError

from fulfillment import services
from fulfillment.models import (
    EventRecipientPackage,
    FulfillmentStatus,
    FulfillmentStatusChange,
)
from tests.fulfillment.factories import AssignmentFactory, RecipientFactory
from tests.planning.factories import EventFactory, UserFactory

pytestmark = pytest.mark.django_db

PENDING, READY, DELIVERED = (
    FulfillmentStatus.PENDING,
    FulfillmentStatus.READY,
    FulfillmentStatus.DELIVERED,
)


@pytest.fixture
def packer():
    user = UserFactory(username="packer")
    user.user_permissions.add(Permission.objects.get(codename="change_fulfillment_status"))
    return user


@pytest.fixture
def coordinator():
    user = UserFactory(username="coordinator")
    user.user_permissions.add(
        *Permission.objects.filter(
            codename__in=["change_fulfillment_status", "undo_fulfillment_status"]
        )
    )
    return user


def _statuses(*assignments):
    return [EventRecipientPackage.objects.get(pk=a.pk).fulfillment_status for a in assignments]


@pytest.mark.parametrize(("start", "new"), [(PENDING, READY), (READY, DELIVERED)])
def test_allowed_transitions_change_status_and_write_history(atomic, packer, start, new):
    assignment = AssignmentFactory(fulfillment_status=start)
    result = services.update_fulfillment_status(
        assignment.pk, new, changed_by=packer, connection=atomic
    )
    assert result.fulfillment_status == new
    assert _statuses(assignment) == [new]
    [change] = FulfillmentStatusChange.objects.filter(assignment=assignment)
    assert (change.from_status, change.to_status) == (start, new)
    assert (change.changed_by, change.source) == (packer, "page")
    assert change.changed_at == result.status_changed_at


@pytest.mark.parametrize(
    ("start", "new", "allowed"),
    [
        (PENDING, DELIVERED, "the only next status is ready"),
        (READY, PENDING, "the only next status is delivered"),
        (DELIVERED, READY, "delivered is final"),
        (DELIVERED, PENDING, "delivered is final"),
    ],
)
def test_refused_transitions_name_the_statuses(atomic, start, new, allowed):
    assignment = AssignmentFactory(fulfillment_status=start)
    with pytest.raises(services.InvalidTransitionError) as excinfo:
        services.update_fulfillment_status(assignment.pk, new, connection=atomic)
    message = excinfo.value.message
    assert f"from {start} to {new}" in message
    assert allowed in message
    assert isinstance(excinfo.value, ValidationError)
    assert _statuses(assignment) == [start]
    assert not FulfillmentStatusChange.objects.exists()


@pytest.mark.parametrize("expected", [None, PENDING, READY, DELIVERED])
def test_same_status_is_a_noop_whatever_expected_status_says(atomic, expected):
    assignment = AssignmentFactory(ready=True)
    result = services.update_fulfillment_status(
        assignment.pk, READY, expected_status=expected, connection=atomic
    )
    assert result.fulfillment_status == READY
    assert not FulfillmentStatusChange.objects.exists()


def test_stale_expected_status_is_refused_with_the_row_as_it_is(atomic):
    assignment = AssignmentFactory(ready=True)
    with pytest.raises(services.StaleStatusError) as excinfo:
        services.update_fulfillment_status(
            assignment.pk, DELIVERED, expected_status=PENDING, connection=atomic
        )
    assert excinfo.value.assignment.fulfillment_status == READY
    assert "now ready, not pending" in excinfo.value.message
    assert _statuses(assignment) == [READY]
    assert not FulfillmentStatusChange.objects.exists()


def test_matching_expected_status_proceeds(atomic):
    assignment = AssignmentFactory()
    services.update_fulfillment_status(
        assignment.pk, READY, expected_status=PENDING, connection=atomic
    )
    assert _statuses(assignment) == [READY]


@pytest.mark.parametrize("bad", ["shipped", "", None, 1, "Ready"])
def test_unknown_status_is_a_validation_error(atomic, bad):
    assignment = AssignmentFactory()
    with pytest.raises(ValidationError) as excinfo:
        services.update_fulfillment_status(assignment.pk, bad, connection=atomic)
    assert "new_status" in excinfo.value.message_dict


def test_unknown_source_is_refused(atomic):
    assignment = AssignmentFactory()
    with pytest.raises(ValidationError):
        services.update_fulfillment_status(assignment.pk, READY, source="api", connection=atomic)


def test_unknown_assignment_is_not_found(atomic):
    with pytest.raises(EventRecipientPackage.DoesNotExist):
        services.update_fulfillment_status(987654, READY, connection=atomic)


def test_user_without_permission_is_refused(atomic):
    assignment = AssignmentFactory()
    with pytest.raises(PermissionDenied):
        services.update_fulfillment_status(
            assignment.pk, READY, changed_by=UserFactory(), connection=atomic
        )
    assert _statuses(assignment) == [PENDING]


def test_permission_through_a_group_counts(atomic):
    from django.contrib.auth.models import Group

    group = Group.objects.create(name="Night shift")
    group.permissions.add(Permission.objects.get(codename="change_fulfillment_status"))
    user = UserFactory()
    user.groups.add(group)
    assignment = AssignmentFactory()
    services.update_fulfillment_status(assignment.pk, READY, changed_by=user, connection=atomic)
    assert _statuses(assignment) == [READY]


def test_trusted_caller_is_recorded_without_user(atomic):
    assignment = AssignmentFactory()
    services.update_fulfillment_status(assignment.pk, READY, source="command", connection=atomic)
    change = FulfillmentStatusChange.objects.get()
    assert (change.changed_by, change.source) == (None, "command")


# Bulk ------------------------------------------------------------------------------------


def test_bulk_moves_all_rows_and_writes_one_history_row_each(atomic, packer):
    rows = AssignmentFactory.create_batch(4)
    changed = services.bulk_update_fulfillment_status(
        [r.pk for r in rows], READY, changed_by=packer, connection=atomic
    )
    assert changed == 4
    assert _statuses(*rows) == [READY] * 4
    history = list(FulfillmentStatusChange.objects.order_by("assignment_id"))
    assert [h.assignment_id for h in history] == sorted(r.pk for r in rows)
    assert {(h.from_status, h.to_status, h.source, h.changed_by_id) for h in history} == {
        (PENDING, READY, "admin", packer.pk)
    }
    assert all(h.changed_at == history[0].changed_at for h in history)


def test_bulk_leaves_rows_already_there_alone_and_does_not_count_them(atomic):
    pending = AssignmentFactory.create_batch(2)
    ready = AssignmentFactory(ready=True)
    changed = services.bulk_update_fulfillment_status(
        [r.pk for r in [*pending, ready]], READY, connection=atomic
    )
    assert changed == 2
    assert not FulfillmentStatusChange.objects.filter(assignment=ready).exists()


def test_bulk_is_all_or_nothing_and_lists_each_offending_row(atomic):
    event = EventFactory()
    ok = AssignmentFactory(event=event)
    delivered = AssignmentFactory(
        event=event, delivered=True, recipient=RecipientFactory(name="Aunt Mary")
    )
    pending = AssignmentFactory(event=event, recipient=RecipientFactory(name="Uncle Bob"))
    ready = AssignmentFactory(event=event, ready=True)

    with pytest.raises(services.BulkTransitionError) as excinfo:
        services.bulk_update_fulfillment_status(
            [ok.pk, delivered.pk, pending.pk, ready.pk], DELIVERED, connection=atomic
        )

    blocked = {(b.recipient_name, b.current_status) for b in excinfo.value.blocked}
    # The delivered row already has the requested status: left alone, not blocking.
    assert blocked == {("Uncle Bob", PENDING), (ok.recipient.name, PENDING)}
    assert "Uncle Bob" in excinfo.value.message
    assert pending.package.name in excinfo.value.message
    assert _statuses(ok, delivered, pending, ready) == [PENDING, DELIVERED, PENDING, READY]
    assert not FulfillmentStatusChange.objects.exists()


def test_bulk_refuses_unknown_ids_and_changes_nothing(atomic):
    row = AssignmentFactory()
    with pytest.raises(EventRecipientPackage.DoesNotExist):
        services.bulk_update_fulfillment_status([row.pk, 99999], READY, connection=atomic)
    assert _statuses(row) == [PENDING]


def test_bulk_for_one_event_refuses_another_events_rows_and_changes_nothing(atomic):
    event = EventFactory()
    mine = AssignmentFactory(event=event)
    theirs = AssignmentFactory()
    with pytest.raises(EventRecipientPackage.DoesNotExist) as excinfo:
        services.bulk_update_fulfillment_status(
            [mine.pk, theirs.pk], READY, event_id=event.pk, connection=atomic
        )
    assert f"{theirs.pk} do not exist in event {event.pk}" in str(excinfo.value)
    assert _statuses(mine, theirs) == [PENDING, PENDING]
    assert (
        services.bulk_update_fulfillment_status(
            [mine.pk], READY, event_id=event.pk, connection=atomic
        )
        == 1
    )


def test_bulk_of_nothing_changes_nothing(atomic):
    assert services.bulk_update_fulfillment_status([], READY, connection=atomic) == 0


def test_bulk_refuses_user_without_permission(atomic):
    row = AssignmentFactory()
    with pytest.raises(PermissionDenied):
        services.bulk_update_fulfillment_status(
            [row.pk], READY, changed_by=UserFactory(), connection=atomic
        )


@pytest.mark.parametrize("size", [5, 500])
def test_bulk_query_count_does_not_grow_with_rows(
    atomic, packer, django_assert_max_num_queries, size
):
    event = EventFactory()
    rows = AssignmentFactory.create_batch(size, event=event)
    ids = [r.pk for r in rows]
    with django_assert_max_num_queries(4):
        assert (
            services.bulk_update_fulfillment_status(
                ids, READY, changed_by=packer, connection=atomic
            )
            == size
        )
    assert FulfillmentStatusChange.objects.count() == size


# Undo ------------------------------------------------------------------------------------


def _undo_delivery(row, reason: str, by, connection):
    """Step a delivered row back, as `by` would from a page that showed it delivered."""
    return services.undo_fulfillment_status(
        row.pk, reason=reason, expected_status=DELIVERED, changed_by=by, connection=connection
    )


def test_undo_steps_back_one_status_with_reason_in_history(atomic, coordinator):
    row = AssignmentFactory(delivered=True)
    _undo_delivery(row, "marked by accident", coordinator, atomic)
    assert _statuses(row) == [READY]
    change = FulfillmentStatusChange.objects.get()
    assert (change.from_status, change.to_status, change.note) == (
        DELIVERED,
        READY,
        "marked by accident",
    )


def test_undo_needs_its_own_permission(atomic, packer):
    row = AssignmentFactory(ready=True)
    with pytest.raises(PermissionDenied):
        services.undo_fulfillment_status(
            row.pk, reason="oops", expected_status=READY, changed_by=packer, connection=atomic
        )
    assert _statuses(row) == [READY]


@pytest.mark.parametrize("reason", ["", "   "])
def test_undo_needs_a_reason(atomic, reason):
    row = AssignmentFactory(ready=True)
    with pytest.raises(ValidationError) as excinfo:
        services.undo_fulfillment_status(
            row.pk, reason=reason, expected_status=READY, connection=atomic
        )
    assert "reason" in excinfo.value.message_dict


def test_undo_of_pending_is_refused(atomic):
    row = AssignmentFactory()
    with pytest.raises(services.InvalidTransitionError) as excinfo:
        services.undo_fulfillment_status(
            row.pk, reason="why not", expected_status=PENDING, connection=atomic
        )
    assert "pending" in excinfo.value.message


def test_undo_with_stale_expected_status_is_refused(atomic):
    row = AssignmentFactory(delivered=True)
    with pytest.raises(services.StaleStatusError) as excinfo:
        services.undo_fulfillment_status(
            row.pk, reason="oops", expected_status=PENDING, connection=atomic
        )
    assert excinfo.value.assignment.fulfillment_status == DELIVERED
    assert _statuses(row) == [DELIVERED]


def test_undo_posted_twice_steps_back_once_and_writes_one_history_row(atomic):
    row = AssignmentFactory(delivered=True)
    for _ in range(2):
        result = services.undo_fulfillment_status(
            row.pk, reason="oops", expected_status=DELIVERED, connection=atomic
        )
    assert result.fulfillment_status == READY
    assert _statuses(row) == [READY]
    assert FulfillmentStatusChange.objects.filter(assignment=row).count() == 1


def test_undo_requires_the_status_the_caller_saw(atomic):
    row = AssignmentFactory(ready=True)
    with pytest.raises(TypeError):
        services.undo_fulfillment_status(row.pk, reason="oops", connection=atomic)
    with pytest.raises(ValidationError):
        services.undo_fulfillment_status(
            row.pk, reason="oops", expected_status=None, connection=atomic
        )
    assert _statuses(row) == [READY]


def test_history_is_append_only():
    from tests.fulfillment.factories import StatusChangeFactory

    change = StatusChangeFactory()
    with pytest.raises(TypeError):
        change.save()
    with pytest.raises(TypeError):
        change.delete()
    with pytest.raises(TypeError):
        FulfillmentStatusChange.objects.all().delete()


def test_status_history_lists_changes_oldest_first(atomic, coordinator):
    row = AssignmentFactory()
    services.update_fulfillment_status(row.pk, READY, changed_by=coordinator, connection=atomic)
    services.update_fulfillment_status(row.pk, DELIVERED, changed_by=coordinator, connection=atomic)
    _undo_delivery(row, "not yet", coordinator, atomic)
    history = services.get_status_history(row.pk, connection=atomic)
    assert [(h.from_status, h.to_status) for h in history] == [
        (PENDING, READY),
        (READY, DELIVERED),
        (DELIVERED, READY),
    ]
