import re

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from fulfillment.models import EventRecipientPackage, FulfillmentStatusChange
from tests.fulfillment.factories import AssignmentFactory, RecipientFactory
from tests.planning.factories import UserFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:fulfillment_eventrecipientpackage_changelist")


def _run_action(client, action, rows):
    return client.post(
        CHANGELIST,
        {"action": action, "_selected_action": [r.pk for r in rows]},
        follow=True,
    )


def _statuses(rows):
    return [EventRecipientPackage.objects.get(pk=r.pk).fulfillment_status for r in rows]


def test_mark_ready_moves_the_selection_and_reports_the_count(admin_client, admin_user):
    rows = AssignmentFactory.create_batch(3)
    response = _run_action(admin_client, "mark_ready", rows)
    assert "3 packages marked ready." in response.content.decode()
    assert _statuses(rows) == ["ready"] * 3
    history = FulfillmentStatusChange.objects.all()
    assert {(h.source, h.changed_by_id) for h in history} == {("admin", admin_user.pk)}
    assert history.count() == 3


def test_mark_delivered_leaves_already_delivered_rows_alone(admin_client):
    ready = AssignmentFactory(ready=True)
    delivered = AssignmentFactory(delivered=True)
    response = _run_action(admin_client, "mark_delivered", [ready, delivered])
    content = response.content.decode()
    assert "1 package marked delivered." in content
    assert "1 already delivered left as they were." in content
    assert FulfillmentStatusChange.objects.count() == 1


def test_refused_action_changes_nothing_and_lists_offending_rows(admin_client):
    ready = AssignmentFactory(ready=True)
    pending = AssignmentFactory(recipient=RecipientFactory(name="Uncle Bob"))
    response = _run_action(admin_client, "mark_delivered", [ready, pending])
    content = response.content.decode()
    assert "Nothing was changed" in content
    assert f"Uncle Bob / {pending.package.name} (pending)" in content
    assert _statuses([ready, pending]) == ["ready", "pending"]
    assert not FulfillmentStatusChange.objects.exists()


def test_a_refused_action_keeps_the_selection_ticked_on_the_list(admin_client):
    ready, other = AssignmentFactory(ready=True), AssignmentFactory(ready=True)
    pending = AssignmentFactory()

    page = _run_action(admin_client, "mark_delivered", [ready, pending]).content.decode()

    def ticked(row):
        box = re.search(rf'<input[^>]*name="_selected_action"[^>]*value="{row.pk}"[^>]*>', page)
        return "checked" in box.group(0)

    assert [ticked(ready), ticked(pending), ticked(other)] == [True, True, False]


def test_an_action_that_worked_leaves_nothing_ticked(admin_client):
    ready = AssignmentFactory(ready=True)
    page = _run_action(admin_client, "mark_delivered", [ready]).content.decode()
    assert "1 package marked delivered." in page
    assert re.search(rf'value="{ready.pk}"[^>]*checked', page) is None


def test_status_actions_need_the_status_permission(client):
    staff = UserFactory(is_staff=True)
    staff.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_eventrecipientpackage"])
    )
    client.force_login(staff)
    row = AssignmentFactory()
    response = client.get(CHANGELIST)
    assert response.status_code == 200
    assert b"mark_ready" not in response.content
    _run_action(client, "mark_ready", [row])
    assert _statuses([row]) == ["pending"]


def test_status_field_is_read_only_in_the_admin(admin_client):
    row = AssignmentFactory()
    url = reverse("admin:fulfillment_eventrecipientpackage_change", args=[row.pk])
    page = admin_client.get(url).content.decode()
    assert 'name="fulfillment_status"' not in page
    data = {
        "event": row.event_id,
        "recipient": row.recipient_id,
        "package": row.package_id,
        "quantity": 2,
        "notes": "",
        "fulfillment_status": "delivered",
        "status_changes-TOTAL_FORMS": 0,
        "status_changes-INITIAL_FORMS": 0,
    }
    admin_client.post(url, data)
    row.refresh_from_db()
    assert (row.quantity, row.fulfillment_status) == (2, "pending")


def test_history_inline_shows_on_the_assignment(admin_client):
    from tests.fulfillment.factories import StatusChangeFactory

    change = StatusChangeFactory(note="checked twice")
    url = reverse("admin:fulfillment_eventrecipientpackage_change", args=[change.assignment_id])
    assert "checked twice" in admin_client.get(url).content.decode()


@pytest.mark.parametrize(
    "model",
    [
        "planning/event",
        "planning/recipe",
        "planning/finishedgood",
        "planning/eventproductiontarget",
        "planning/eventassemblytarget",
        "planning/productionrun",
        "planning/assemblyrun",
        "fulfillment/recipient",
        "fulfillment/package",
        "fulfillment/eventrecipientpackage",
        "fulfillment/fulfillmentstatuschange",
    ],
)
def test_every_model_has_a_working_admin_list_and_search(admin_client, model):
    AssignmentFactory()
    app, name = model.split("/")
    response = admin_client.get(reverse(f"admin:{app}_{name}_changelist"), {"q": "a"})
    assert response.status_code == 200


def test_a_moved_assignment_keeps_who_and_what_in_the_admin(admin_client):
    row = AssignmentFactory(ready=True)
    url = reverse("admin:fulfillment_eventrecipientpackage_change", args=[row.pk])
    page = admin_client.get(url).content.decode()
    assert 'name="recipient"' not in page
    assert 'name="package"' not in page
    assert 'name="quantity"' in page
    delete = reverse("admin:fulfillment_eventrecipientpackage_delete", args=[row.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert EventRecipientPackage.objects.filter(pk=row.pk).exists()
    changelist = admin_client.get(CHANGELIST).content.decode()
    assert "delete_selected" not in changelist


def test_deleting_a_user_with_history_warns_and_deactivates_keeping_the_name(admin_client):
    from fulfillment.models import FulfillmentStatusChange
    from tests.fulfillment.factories import StatusChangeFactory
    from tests.planning.factories import UserFactory

    packer = UserFactory(username="pat")
    change = StatusChangeFactory(changed_by=packer)
    url = reverse("admin:auth_user_delete", args=[packer.pk])
    page = admin_client.get(url).content.decode()
    assert "pat made status changes that are kept in the history" in page
    admin_client.post(url, {"post": "yes"})
    packer.refresh_from_db()
    assert packer.is_active is False
    assert FulfillmentStatusChange.objects.get(pk=change.pk).changed_by == packer


def test_bulk_deleting_users_deactivates_those_with_history_and_deletes_the_others(
    admin_client,
):
    from django.contrib.auth import get_user_model

    from tests.fulfillment.factories import StatusChangeFactory
    from tests.planning.factories import UserFactory

    kept, gone = UserFactory(username="kept"), UserFactory(username="gone")
    StatusChangeFactory(changed_by=kept)
    url = reverse("admin:auth_user_changelist")
    data = {"action": "delete_selected", "_selected_action": [kept.pk, gone.pk]}
    assert "kept made status changes" in admin_client.post(url, data).content.decode()
    admin_client.post(url, {**data, "post": "yes"})
    users = get_user_model().objects
    assert users.get(pk=kept.pk).is_active is False
    assert not users.filter(pk=gone.pk).exists()
