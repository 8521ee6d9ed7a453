"""The admin's undo action: an intermediate page asks for the reason, then all or nothing."""

import re

import pytest
from django.urls import reverse

from fulfillment.models import EventRecipientPackage, FulfillmentStatusChange
from tests.fulfillment.factories import AssignmentFactory, RecipientFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:fulfillment_eventrecipientpackage_changelist")


def _undo(client, rows, **extra):
    # The confirmation page posts back the status it showed for each row.
    seen = {f"seen_{r.pk}": r.fulfillment_status for r in rows} if "apply" in extra else {}
    data = {"action": "undo_status", "_selected_action": [r.pk for r in rows], **seen, **extra}
    return client.post(CHANGELIST, data, follow=True)


def _statuses(rows):
    return [EventRecipientPackage.objects.get(pk=r.pk).fulfillment_status for r in rows]


def test_undo_action_first_asks_for_a_reason_and_changes_nothing(admin_client):
    rows = [AssignmentFactory(delivered=True), AssignmentFactory(ready=True)]
    response = _undo(admin_client, rows)
    page = response.content.decode()
    assert "Step packages back one status" in page
    assert 'name="reason"' in page
    assert page.count('name="_selected_action"') == 2
    assert _statuses(rows) == ["delivered", "ready"]


def test_undo_action_with_a_reason_steps_back_and_records_it(admin_client, admin_user):
    rows = [AssignmentFactory(delivered=True), AssignmentFactory(ready=True)]
    response = _undo(admin_client, rows, apply="1", reason="Marked by accident")
    assert "2 packages stepped back one status." in response.content.decode()
    assert _statuses(rows) == ["ready", "pending"]
    history = FulfillmentStatusChange.objects.all()
    assert {(h.note, h.source, h.changed_by_id) for h in history} == {
        ("Marked by accident", "admin", admin_user.pk)
    }


def test_undo_action_without_a_reason_asks_again(admin_client):
    row = AssignmentFactory(ready=True)
    response = _undo(admin_client, [row], apply="1", reason="  ")
    assert "A reason is required" in response.content.decode()
    assert _statuses([row]) == ["ready"]


def test_undo_action_refuses_when_a_row_is_pending_and_lists_it(admin_client):
    ready = AssignmentFactory(ready=True)
    pending = AssignmentFactory(recipient=RecipientFactory(name="Uncle Bob"))
    response = _undo(admin_client, [ready, pending], apply="1", reason="oops")
    assert f"Uncle Bob / {pending.package.name} (pending)" in response.content.decode()
    assert _statuses([ready, pending]) == ["ready", "pending"]
    assert not FulfillmentStatusChange.objects.exists()


def test_undo_action_is_offered_only_with_the_undo_permission(client, role_user):
    packer = role_user("Packers")
    packer.is_staff = True
    packer.save()
    client.force_login(packer)
    row = AssignmentFactory(ready=True)
    assert b"undo_status" not in client.get(CHANGELIST).content
    _undo(client, [row], apply="1", reason="oops")
    assert _statuses([row]) == ["ready"]


def test_undo_confirmation_carries_the_status_shown_for_each_row(admin_client):
    rows = [AssignmentFactory(delivered=True), AssignmentFactory(ready=True)]
    page = _undo(admin_client, rows).content.decode()
    for row in rows:
        assert f'name="seen_{row.pk}" value="{row.fulfillment_status}"' in page


def test_undo_confirmation_posted_twice_steps_each_row_back_once(admin_client):
    rows = [AssignmentFactory(delivered=True), AssignmentFactory(ready=True)]
    _undo(admin_client, rows, apply="1", reason="Marked by accident")
    again = _undo(admin_client, rows, apply="1", reason="Marked by accident").content.decode()
    assert "0 packages stepped back one status. 2 already stepped back" in again
    assert _statuses(rows) == ["ready", "pending"]
    assert FulfillmentStatusChange.objects.count() == 2


def test_undo_confirmation_refuses_a_row_that_moved_after_it_was_shown(admin_client):
    row = AssignmentFactory(ready=True)
    seen = {f"seen_{row.pk}": "pending"}  # the page showed it pending; it is ready now
    data = {"action": "undo_status", "_selected_action": [row.pk], "apply": "1", "reason": "x"}
    page = admin_client.post(CHANGELIST, {**data, **seen}, follow=True).content.decode()
    assert "changed after the page was shown" in page
    assert _statuses([row]) == ["ready"]
    assert not FulfillmentStatusChange.objects.exists()


def _ticked(page: str, row) -> bool:
    checkbox = re.search(rf'<input[^>]*name="_selected_action"[^>]*value="{row.pk}"[^>]*>', page)
    return checkbox is not None and "checked" in checkbox.group(0)


def test_undo_of_a_selection_with_a_pending_row_is_refused_before_a_reason_is_asked(
    admin_client,
):
    ready = AssignmentFactory(ready=True)
    pending = AssignmentFactory(recipient=RecipientFactory(name="Uncle Bob"))

    page = _undo(admin_client, [ready, pending]).content.decode()

    assert 'name="reason"' not in page
    assert "are pending and have no earlier status to go back to" in page
    assert f"Uncle Bob / {pending.package.name} (pending)" in page
    assert _ticked(page, ready)  # the selection is kept
    assert _ticked(page, pending)
    assert _statuses([ready, pending]) == ["ready", "pending"]


def test_a_refused_step_back_returns_to_the_list_with_the_selection_kept(admin_client):
    rows = [AssignmentFactory(delivered=True), AssignmentFactory(ready=True)]
    seen = {f"seen_{rows[0].pk}": "ready", f"seen_{rows[1].pk}": "ready"}  # row 1 moved on

    page = _undo(admin_client, rows, apply="1", reason="oops", **seen).content.decode()

    assert "changed after the page was shown" in page
    assert all(_ticked(page, row) for row in rows)


def test_after_a_step_back_that_worked_nothing_stays_ticked(admin_client):
    rows = [AssignmentFactory(delivered=True)]
    page = _undo(admin_client, rows, apply="1", reason="oops").content.decode()
    assert "1 package stepped back one status." in page
    assert not _ticked(page, rows[0])
    # and the next visit to the list starts with nothing kept
    assert not _ticked(admin_client.get(CHANGELIST).content.decode(), rows[0])
