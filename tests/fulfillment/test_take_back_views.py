"""The take-back offer and its form, with and without htmx, per role."""

import pytest
from django.db import connection, transaction
from django.urls import reverse

from fulfillment import services
from fulfillment.models import EventRecipientPackage, FulfillmentStatusChange
from tests.fulfillment.conftest import HTMX
from tests.fulfillment.factories import AssignmentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def row():
    return AssignmentFactory()


def url(name, row):
    return reverse(f"fulfillment:{name}", args=[row.event_id, row.pk])


def status_of(row):
    return EventRecipientPackage.objects.get(pk=row.pk).fulfillment_status


def step(row, user, new_status="ready"):
    with transaction.atomic():
        services.update_fulfillment_status(
            row.pk, new_status, changed_by=user, connection=connection
        )


def posted_step(client, row, new_status):
    data = {"new_status": new_status, "expected_status": "pending"}
    return client.post(url("assignment_status", row), data, **HTMX).content.decode()


def test_the_row_answering_a_step_offers_to_take_it_back(client_as, row):
    html = posted_step(client_as("Packers"), row, "ready")
    assert "Marked ready." in html
    assert url("assignment_take_back", row) in html
    assert 'name="expected_status" value="ready"' in html


def test_a_refused_step_offers_no_take_back(client_as, row):
    html = posted_step(client_as("Packers"), row, "delivered")
    assert url("assignment_take_back", row) not in html


def test_a_packer_takes_back_their_step_in_place(client_as, row):
    client = client_as("Packers")
    step(row, client.user)

    response = client.post(url("assignment_take_back", row), {"expected_status": "ready"}, **HTMX)

    html = response.content.decode()
    assert response.status_code == 200
    assert "Taken back to pending." in html
    assert "is pending again." in html  # announced in the page's status line
    assert status_of(row) == "pending"
    [_, taken] = FulfillmentStatusChange.objects.filter(assignment=row)
    assert (taken.source, taken.changed_by) == ("take_back", client.user)


def test_without_javascript_the_take_back_redirects_to_the_row_with_a_message(client_as, row):
    client = client_as("Packers")
    step(row, client.user)

    response = client.post(url("assignment_take_back", row), {"expected_status": "ready"})

    assert response.status_code == 302
    assert response["Location"].endswith(f"#assignment-{row.pk}")
    page = client.get(response["Location"]).content.decode()
    assert "is pending again." in page


def test_another_packers_take_back_is_refused_on_the_row_and_changes_nothing(
    client_as, role_user, row
):
    step(row, role_user("Packers", "anna"))
    client = client_as("Packers", "ben")

    response = client.post(url("assignment_take_back", row), {"expected_status": "ready"}, **HTMX)

    assert response.status_code == 200
    assert "Only anna can take back this step" in response.content.decode()
    assert status_of(row) == "ready"
    assert FulfillmentStatusChange.objects.filter(assignment=row).count() == 1


def test_a_planner_may_not_take_back(client_as, role_user, row):
    step(row, role_user("Packers"))
    response = client_as("Planners").post(
        url("assignment_take_back", row), {"expected_status": "ready"}, **HTMX
    )
    assert response.status_code == 403
    assert status_of(row) == "ready"


def test_a_take_back_posted_twice_steps_back_once(client_as, row):
    client = client_as("Packers")
    step(row, client.user)
    for _ in range(2):
        response = client.post(
            url("assignment_take_back", row), {"expected_status": "ready"}, **HTMX
        )
        assert response.status_code == 200
    assert status_of(row) == "pending"
    assert FulfillmentStatusChange.objects.filter(assignment=row).count() == 2


def test_a_take_back_without_the_status_seen_is_a_message_not_an_error(client_as, row):
    client = client_as("Packers")
    step(row, client.user)
    response = client.post(url("assignment_take_back", row), {"expected_status": "nope"}, **HTMX)
    assert response.status_code == 200
    assert status_of(row) == "ready"


def test_a_take_back_of_a_removed_row_is_not_found(client_as, row):
    client = client_as("Packers")
    other = AssignmentFactory(event=row.event)
    path = url("assignment_take_back", other)
    other.delete()
    response = client.post(path, {"expected_status": "ready"}, **HTMX)
    assert response.status_code == 404


def test_the_checklist_offers_and_takes_back_a_delivery(client_as, row):
    client = client_as("Packers")
    EventRecipientPackage.objects.filter(pk=row.pk).update(fulfillment_status="ready")
    delivered = client.post(
        url("assignment_status", row),
        {"view": "checklist", "new_status": "delivered", "expected_status": "ready"},
        **HTMX,
    ).content.decode()
    assert f'id="stop-{row.pk}"' in delivered
    assert "Marked delivered." in delivered

    back = client.post(
        url("assignment_take_back", row),
        {"view": "checklist", "expected_status": "delivered"},
        **HTMX,
    ).content.decode()

    assert f'id="stop-{row.pk}"' in back
    assert "Taken back to ready." in back
    assert status_of(row) == "ready"


def test_the_history_says_who_took_a_step_back(client_as, row):
    client = client_as("Packers", "anna")
    step(row, client.user)
    client.post(url("assignment_take_back", row), {"expected_status": "ready"}, **HTMX)

    html = client.get(url("assignment_history", row), **HTMX).content.decode()

    assert "taken back by anna" in html


def test_without_javascript_the_assignments_page_offers_the_take_back_to_its_author_only(
    client_as, role_user, row
):
    author = client_as("Packers", "anna")
    step(row, author.user)
    page = author.get(url("assignment_detail", row)).content.decode()
    assert "You marked this ready." in page
    assert url("assignment_take_back", row) in page

    author.force_login(role_user("Packers", "ben"))
    page = author.get(url("assignment_detail", row)).content.decode()
    assert url("assignment_take_back", row) not in page
