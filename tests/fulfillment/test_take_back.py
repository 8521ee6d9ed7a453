"""Taking back one's own step: who may, for how long, and what the history says."""

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from fulfillment import services
from fulfillment.models import EventRecipientPackage, FulfillmentStatusChange
from tests.fulfillment.factories import AssignmentFactory, StatusChangeFactory
from tests.fulfillment.test_concurrency import _slow, _unlocked_reader

pytestmark = pytest.mark.django_db


def _step(atomic, assignment, user, new_status="ready"):
    return services.update_fulfillment_status(
        assignment.pk, new_status, changed_by=user, connection=atomic
    )


def _take_back(atomic, assignment, user, expected="ready"):
    return services.take_back_fulfillment_status(
        assignment.pk, expected_status=expected, changed_by=user, connection=atomic
    )


def _undo(atomic, assignment, user, expected):
    seen = {"reason": "by mistake", "expected_status": expected}
    services.undo_fulfillment_status(assignment.pk, **seen, changed_by=user, connection=atomic)


def _status(assignment):
    return EventRecipientPackage.objects.get(pk=assignment.pk).fulfillment_status


@pytest.mark.parametrize("role", ["Packers", "Coordinators"])
def test_the_author_of_a_step_takes_it_back_with_one_history_row(atomic, role_user, role):
    user = role_user(role)
    assignment = AssignmentFactory()
    _step(atomic, assignment, user)

    row = _take_back(atomic, assignment, user)

    assert row.fulfillment_status == _status(assignment) == "pending"
    last = FulfillmentStatusChange.objects.filter(assignment=assignment).latest()
    assert (last.from_status, last.to_status) == ("ready", "pending")
    assert (last.changed_by, last.source, last.note) == (user, "take_back", "")
    assert last.get_source_display() == "Taken back by its author"


def test_a_delivery_is_taken_back_to_ready(atomic, role_user):
    packer = role_user("Packers")
    assignment = AssignmentFactory(ready=True)
    _step(atomic, assignment, packer, "delivered")

    _take_back(atomic, assignment, packer, expected="delivered")

    assert _status(assignment) == "ready"


def test_another_packer_cannot_take_back_a_colleagues_step(atomic, role_user):
    author, colleague = role_user("Packers", "anna"), role_user("Packers", "ben")
    assignment = AssignmentFactory()
    _step(atomic, assignment, author)

    with pytest.raises(PermissionDenied) as refused:
        _take_back(atomic, assignment, colleague)

    assert str(refused.value) == services.TAKE_BACK_NOT_YOURS.format(author="anna")
    assert _status(assignment) == "ready"
    assert FulfillmentStatusChange.objects.filter(assignment=assignment).count() == 1


def test_a_coordinator_cannot_take_back_a_packers_step_but_can_undo_it(atomic, role_user):
    packer, coordinator = role_user("Packers"), role_user("Coordinators")
    assignment = AssignmentFactory()
    _step(atomic, assignment, packer)

    with pytest.raises(PermissionDenied):
        _take_back(atomic, assignment, coordinator)
    _undo(atomic, assignment, coordinator, "ready")

    assert _status(assignment) == "pending"


def test_a_viewer_without_the_move_permission_cannot_take_back(atomic, role_user):
    planner = role_user("Planners")
    assignment = AssignmentFactory(ready=True)
    StatusChangeFactory(assignment=assignment, changed_by=planner, source="page")

    with pytest.raises(PermissionDenied):
        _take_back(atomic, assignment, planner)
    assert _status(assignment) == "ready"


def test_a_step_older_than_the_window_is_left_to_a_coordinator(atomic, role_user):
    packer = role_user("Packers")
    assignment = AssignmentFactory(ready=True)
    old = timezone.now() - services.TAKE_BACK_WINDOW - datetime.timedelta(seconds=1)
    StatusChangeFactory(assignment=assignment, changed_by=packer, source="page", changed_at=old)

    with pytest.raises(ValidationError) as refused:
        _take_back(atomic, assignment, packer)

    assert refused.value.messages == [services.TAKE_BACK_TOO_LATE.format(minutes=10)]
    assert _status(assignment) == "ready"


def test_a_step_within_the_window_can_be_taken_back(atomic, role_user):
    packer = role_user("Packers")
    assignment = AssignmentFactory(ready=True)
    recent = timezone.now() - services.TAKE_BACK_WINDOW + datetime.timedelta(seconds=30)
    StatusChangeFactory(assignment=assignment, changed_by=packer, source="page", changed_at=recent)

    _take_back(atomic, assignment, packer)

    assert _status(assignment) == "pending"


def test_once_a_colleague_moved_the_row_on_the_author_cannot_take_back(atomic, role_user):
    author, colleague = role_user("Packers", "anna"), role_user("Packers", "ben")
    assignment = AssignmentFactory()
    _step(atomic, assignment, author)
    _step(atomic, assignment, colleague, "delivered")

    with pytest.raises(ValidationError):  # the author saw ready: stale
        _take_back(atomic, assignment, author)
    with pytest.raises(PermissionDenied):  # and the delivery is not theirs
        _take_back(atomic, assignment, author, expected="delivered")
    assert _status(assignment) == "delivered"


def test_a_take_back_cannot_be_taken_back_again_to_go_further(atomic, role_user):
    packer = role_user("Packers")
    assignment = AssignmentFactory(ready=True)
    _step(atomic, assignment, packer, "delivered")
    _take_back(atomic, assignment, packer, expected="delivered")

    with pytest.raises(ValidationError) as refused:
        _take_back(atomic, assignment, packer, expected="ready")

    assert refused.value.messages == [services.TAKE_BACK_NOTHING.format(current="ready")]
    assert _status(assignment) == "ready"


def test_a_coordinators_undo_is_not_a_step_to_take_back(atomic, role_user):
    coordinator = role_user("Coordinators")
    assignment = AssignmentFactory(delivered=True)
    _undo(atomic, assignment, coordinator, "delivered")

    with pytest.raises(ValidationError):
        _take_back(atomic, assignment, coordinator)
    assert _status(assignment) == "ready"


def test_a_take_back_posted_twice_steps_back_once(atomic, role_user):
    packer = role_user("Packers")
    assignment = AssignmentFactory()
    _step(atomic, assignment, packer)

    _take_back(atomic, assignment, packer)
    _take_back(atomic, assignment, packer)

    assert _status(assignment) == "pending"
    assert FulfillmentStatusChange.objects.filter(assignment=assignment).count() == 2


def test_a_scripted_caller_cannot_take_back(atomic, role_user):
    assignment = AssignmentFactory()
    _step(atomic, assignment, None)

    with pytest.raises(PermissionDenied, match="script"):
        _take_back(atomic, assignment, None)


def test_no_other_change_may_claim_to_be_a_take_back(atomic, role_user):
    assignment = AssignmentFactory()

    with pytest.raises(ValidationError):
        services.update_fulfillment_status(
            assignment.pk, "ready", source="take_back", connection=atomic
        )
    assert _status(assignment) == "pending"


@pytest.mark.django_db(transaction=True)
def test_take_back_refuses_to_run_outside_a_transaction(role_user):
    from django.db import connection
    from django.db.transaction import TransactionManagementError

    packer = role_user("Packers")
    assignment = AssignmentFactory()
    with transaction.atomic():
        _step(connection, assignment, packer)

    with pytest.raises(TransactionManagementError):
        _take_back(connection, assignment, packer)


# ---------------------------------------------------------------------------------------
# Races under the row lock (PostgreSQL: SQLite serialises writers and hides a missing lock)
# ---------------------------------------------------------------------------------------


def needs_row_locks(test):
    for mark in (
        pytest.mark.postgres,
        pytest.mark.django_db(transaction=True),
        pytest.mark.skipif(
            "not __import__('django.db').db.connection.features.has_select_for_update",
            reason="row locks need PostgreSQL",
        ),
    ):
        test = mark(test)
    return test


def _checked_then_linger(monkeypatch):
    """Each take-back also lingers between checking the history and writing: without the
    lock both would see the step as the row's latest change."""
    import time

    from fulfillment import workflow

    check = workflow._own_last_step

    def linger(*args):
        check(*args)
        time.sleep(0.1)

    monkeypatch.setattr(workflow, "_own_last_step", linger)


def _two_take_backs(assignment, packer):
    from django.db import connection

    from tests.concurrency import run_concurrently

    def call(_):
        with transaction.atomic():
            return _take_back(connection, assignment, packer).fulfillment_status

    return run_concurrently(2, call)


def _stepped_by(role_user, name="anna"):
    from django.db import connection

    packer = role_user("Packers", name)
    assignment = AssignmentFactory()
    with transaction.atomic():
        _step(connection, assignment, packer)
    return assignment, packer


@needs_row_locks
def test_two_take_backs_at_once_step_back_once(role_user, monkeypatch):
    from fulfillment import workflow

    assignment, packer = _stepped_by(role_user)
    monkeypatch.setattr(workflow, "_locked", _slow(workflow._locked))
    _checked_then_linger(monkeypatch)

    results = _two_take_backs(assignment, packer)

    assert results == [("ok", "pending"), ("ok", "pending")]
    history = FulfillmentStatusChange.objects.filter(assignment=assignment)
    assert [h.source for h in history] == ["page", "take_back"]


@needs_row_locks
def test_control_without_the_lock_two_take_backs_write_two_rows(role_user, monkeypatch):
    from fulfillment import workflow

    assignment, packer = _stepped_by(role_user)
    monkeypatch.setattr(workflow, "_locked", _slow(_unlocked_reader))
    _checked_then_linger(monkeypatch)

    _two_take_backs(assignment, packer)

    takes = FulfillmentStatusChange.objects.filter(assignment=assignment, source="take_back")
    assert takes.count() == 2


@needs_row_locks
def test_a_take_back_and_a_colleagues_step_at_once_one_wins_the_other_is_stale(
    role_user, monkeypatch
):
    from django.db import connection

    from fulfillment import workflow
    from tests.concurrency import run_concurrently

    assignment, author = _stepped_by(role_user)
    colleague = role_user("Packers", "ben")
    monkeypatch.setattr(workflow, "_locked", _slow(workflow._locked))

    def call(i):
        with transaction.atomic():
            if i == 0:
                return _take_back(connection, assignment, author).fulfillment_status
            return services.update_fulfillment_status(
                assignment.pk,
                "delivered",
                expected_status="ready",
                changed_by=colleague,
                connection=connection,
            ).fulfillment_status

    results = run_concurrently(2, call)

    outcomes = sorted(kind for kind, _ in results)
    assert outcomes == ["error", "ok"]
    [error] = [value for kind, value in results if kind == "error"]
    assert isinstance(error, services.StaleStatusError)
    history = list(FulfillmentStatusChange.objects.filter(assignment=assignment))
    assert len(history) == 2  # the step and exactly one of the two
    assert _status(assignment) == history[-1].to_status
