"""A change that has committed is never answered with the 503 page's "nothing was changed":
a fault injected into the read that builds the answer either undoes the change with it (the
read is in the change's own transaction) or is answered with "it was saved"."""

import pytest
from django.db import OperationalError
from django.urls import reverse

from fulfillment import services as fulfillment_services
from fulfillment.models import EventRecipientPackage, FulfillmentStatusChange
from planning.models import EventProductionTarget
from planning.views import dashboard
from tests.fulfillment.factories import AssignmentFactory
from tests.planning.factories import EventFactory, RecipeFactory

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def _fail(*args, **kwargs):
    raise OperationalError("the database went away")


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["page", "htmx"])
def test_a_fault_reading_the_row_after_a_status_change_leaves_a_true_503(
    admin_client, monkeypatch, headers
):
    row = AssignmentFactory()
    monkeypatch.setattr(fulfillment_services, "get_status_counts", _fail)
    url = reverse("fulfillment:assignment_status", args=[row.event_id, row.pk])
    response = admin_client.post(
        url, {"new_status": "ready", "expected_status": "pending"}, **headers
    )
    assert response.status_code == 503
    # The read was part of the change's transaction: the 503 is true, nothing was stored.
    assert EventRecipientPackage.objects.get(pk=row.pk).fulfillment_status == "pending"
    assert not FulfillmentStatusChange.objects.exists()


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["page", "htmx"])
def test_a_fault_reading_the_page_after_a_saved_target_says_it_was_saved(
    planner_client, monkeypatch, headers
):
    event, recipe = EventFactory(), RecipeFactory(name="Stollen")
    monkeypatch.setattr(dashboard, "dashboard_context", _fail)
    url = reverse("planning:production_target_add", args=[event.pk])
    response = planner_client.post(url, {"recipe": recipe.pk, "target_batches": 3}, **headers)
    text = response.content.decode()
    if headers:
        assert response.status_code == 200
        assert "It was saved" in text
    else:  # without JavaScript the redirect needs no read; the message waits on the page
        assert response.status_code == 302
    assert "othing was changed" not in text
    assert EventProductionTarget.objects.filter(event=event, recipe=recipe).exists()


def test_control_the_same_fault_in_a_read_outside_the_helper_is_the_503(
    planner_client, monkeypatch
):
    from planning.views import targets

    event, recipe = EventFactory(), RecipeFactory()
    monkeypatch.setattr(dashboard, "dashboard_context", _fail)
    monkeypatch.setattr(targets, "answer_change", lambda request, text, read: read())
    url = reverse("planning:production_target_add", args=[event.pk])
    response = planner_client.post(url, {"recipe": recipe.pk, "target_batches": 3}, **HTMX)
    assert response.status_code == 503  # the page that says nothing was changed...
    assert EventProductionTarget.objects.exists()  # ...though it was
