import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from fulfillment.models import EventRecipientPackage
from planning.models import Event, EventProductionTarget
from tests.fulfillment.factories import AssignmentFactory, StatusChangeFactory
from tests.planning.factories import (
    AssemblyTargetFactory,
    EventFactory,
    ProductionRunFactory,
    ProductionTargetFactory,
)
from tests.responses import fragment

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def _today():
    return timezone.localdate()


def test_pages_require_sign_in(client):
    event = EventFactory()
    for url in [reverse("planning:event_list"), reverse("planning:event_detail", args=[event.pk])]:
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


def test_event_list_shows_upcoming_events_with_progress(planner_client):
    soon = EventFactory(name="Christmas", event_date=_today() + datetime.timedelta(days=3))
    EventFactory(name="Last year", event_date=_today() - datetime.timedelta(days=300))
    target = ProductionTargetFactory(event=soon, target_batches=2)
    ProductionRunFactory(event=soon, recipe=target.recipe, num_batches=2)
    AssignmentFactory.create_batch(2, event=soon)
    AssignmentFactory(event=soon, ready=True)

    page = planner_client.get(reverse("planning:event_list")).content.decode()

    assert "Christmas" in page
    assert "Last year" not in page
    assert "in 3 days" in page
    assert "1 of 1 targets complete" in page
    assert "2 pending" in page
    assert "1 ready" in page
    assert "<html" in page


def test_event_without_targets_says_so(planner_client):
    EventFactory(event_date=_today())
    page = planner_client.get(reverse("planning:event_list")).content.decode()
    assert "No targets set" in page
    assert "today" in page


def test_event_list_filter_is_a_fragment_for_htmx(planner_client):
    EventFactory(name="Old fair", event_date=_today() - datetime.timedelta(days=2))
    response = planner_client.get(reverse("planning:event_list"), {"when": "past"}, **HTMX)
    body = fragment(response)
    assert 'id="event-list"' in body
    assert "Old fair" in body
    assert "2 days ago" in body
    assert "HX-Request" in response["Vary"]


def test_event_list_date_range_and_bad_range(planner_client):
    EventFactory(name="In range", event_date=datetime.date(2030, 1, 10))
    EventFactory(name="Out of range", event_date=datetime.date(2030, 2, 10))
    url = reverse("planning:event_list")
    page = planner_client.get(
        url, {"when": "all", "date_from": "2030-01-01", "date_to": "2030-01-31"}
    ).content.decode()
    assert "In range" in page
    assert "Out of range" not in page
    bad = planner_client.get(url, {"date_from": "2030-02-01", "date_to": "2030-01-01"})
    assert bad.status_code == 200
    assert "The end date is before the start date." in bad.content.decode()
    junk = planner_client.get(url, {"when": "someday", "date_from": "not-a-date"})
    assert junk.status_code == 200


def test_event_list_empty_state_tells_what_to_do(planner_client):
    page = planner_client.get(reverse("planning:event_list")).content.decode()
    assert "No upcoming events." in page
    assert "Plan your first event" in page


@pytest.mark.parametrize("n_events", [3, 50])
def test_event_list_query_count_is_constant(
    planner_client, django_assert_max_num_queries, n_events
):
    for i in range(n_events):
        event = EventFactory(event_date=_today() + datetime.timedelta(days=i))
        ProductionTargetFactory(event=event)
        AssemblyTargetFactory(event=event)
        AssignmentFactory(event=event)
    # session, user, the live counters (ETag and token), events, production, assembly, two
    # permission lookups, and the savepoint pair the view's atomic() becomes inside the test
    # transaction
    with django_assert_max_num_queries(10):
        response = planner_client.get(reverse("planning:event_list"))
    assert response.content.decode().count('class="card event-card"') == n_events


def test_create_event_redirects_to_its_dashboard(planner_client):
    response = planner_client.post(
        reverse("planning:event_create"),
        {"name": "Christmas 2027", "event_date": "2027-12-24", "notes": ""},
    )
    event = Event.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("planning:event_detail", args=[event.pk])


def test_create_event_form_errors_keep_the_input(planner_client):
    EventFactory(name="Christmas", event_date=datetime.date(2027, 12, 24))
    response = planner_client.post(
        reverse("planning:event_create"), {"name": "Christmas", "event_date": "2027-12-24"}
    )
    assert response.status_code == 200
    assert "There is already an event called" in response.content.decode()
    missing = planner_client.post(reverse("planning:event_create"), {"name": "", "event_date": ""})
    assert "This field is required." in missing.content.decode()
    assert Event.objects.count() == 1


def test_packer_cannot_create_or_edit_events(packer_client):
    event = EventFactory()
    assert packer_client.get(reverse("planning:event_create")).status_code == 403
    response = packer_client.post(
        reverse("planning:event_edit", args=[event.pk]),
        {"name": "Renamed", "event_date": "2027-01-01"},
    )
    assert response.status_code == 403
    event.refresh_from_db()
    assert event.name != "Renamed"


def test_edit_event(planner_client):
    event = EventFactory(name="Xmas")
    response = planner_client.post(
        reverse("planning:event_edit", args=[event.pk]),
        {"name": "Christmas", "event_date": "2026-12-24", "notes": "bake early"},
    )
    assert response.status_code == 302
    event.refresh_from_db()
    assert (event.name, event.notes) == ("Christmas", "bake early")


def test_unknown_event_is_404(planner_client):
    for name in ["event_detail", "event_edit", "event_delete", "event_clone"]:
        assert planner_client.get(reverse(f"planning:{name}", args=[987654])).status_code == 404


def test_delete_event_lists_what_goes_and_deletes(planner_client):
    event = EventFactory()
    ProductionTargetFactory.create_batch(2, event=event)
    AssignmentFactory(event=event)
    url = reverse("planning:event_delete", args=[event.pk])
    page = planner_client.get(url).content.decode()
    assert "2 production targets" in page
    assert "1 package assignment" in page
    response = planner_client.post(url)
    assert response.status_code == 302
    assert not Event.objects.exists()
    assert not EventProductionTarget.objects.exists()
    assert not EventRecipientPackage.objects.exists()


def test_delete_event_with_runs_is_refused_with_the_reason(planner_client):
    event = EventFactory(name="Christmas")
    ProductionRunFactory(event=event)
    url = reverse("planning:event_delete", args=[event.pk])
    assert "cannot be deleted" in planner_client.get(url).content.decode()
    response = planner_client.post(url)
    assert response.status_code == 200
    assert "has 1 production run recorded for it" in response.content.decode()
    assert Event.objects.filter(pk=event.pk).exists()


def test_delete_event_with_status_history_is_refused(planner_client):
    change = StatusChangeFactory()
    event = change.assignment.event
    response = planner_client.post(reverse("planning:event_delete", args=[event.pk]))
    assert "status history" in response.content.decode()
    assert Event.objects.filter(pk=event.pk).exists()


def test_clone_event_copies_targets_and_assignments_not_runs_or_statuses(planner_client):
    event = EventFactory(name="Christmas 2026", event_date=datetime.date(2026, 12, 24))
    target = ProductionTargetFactory(event=event, target_batches=5, notes="double")
    ProductionRunFactory(event=event, recipe=target.recipe)
    AssemblyTargetFactory(event=event)
    AssignmentFactory(event=event, delivered=True, quantity=2)

    form = planner_client.get(reverse("planning:event_clone", args=[event.pk])).content.decode()
    assert 'value="Christmas 2027"' in form
    assert 'value="2027-12-24"' in form

    response = planner_client.post(
        reverse("planning:event_clone", args=[event.pk]),
        {"name": "Christmas 2027", "event_date": "2027-12-24", "notes": ""},
    )
    clone = Event.objects.get(name="Christmas 2027")
    assert response["Location"] == reverse("planning:event_detail", args=[clone.pk])
    assert list(clone.production_targets.values_list("target_batches", "notes")) == [(5, "double")]
    assert clone.assembly_targets.count() == 1
    assert list(clone.assignments.values_list("fulfillment_status", "quantity")) == [("pending", 2)]
    assert not clone.production_runs.exists()


def test_get_never_changes_anything(planner_client):
    event = EventFactory()
    ProductionTargetFactory(event=event)
    before = (Event.objects.count(), EventProductionTarget.objects.count())
    planner_client.get(reverse("planning:event_delete", args=[event.pk]))
    assert (Event.objects.count(), EventProductionTarget.objects.count()) == before
    for name in ["production_target_add", "production_run_add", "needs_apply"]:
        assert planner_client.get(reverse(f"planning:{name}", args=[event.pk])).status_code == 405


def test_dates_follow_the_browsers_english_variant(planner_client):
    EventFactory(name="Christmas", event_date=datetime.date(2099, 12, 24))
    us = planner_client.get(reverse("planning:event_list"), HTTP_ACCEPT_LANGUAGE="en-US")
    uk = planner_client.get(reverse("planning:event_list"), HTTP_ACCEPT_LANGUAGE="en-GB,en;q=0.8")
    assert "Dec. 24, 2099" in us.content.decode()
    assert "24 Dec 2099" in uk.content.decode()


def test_a_past_date_is_accepted_with_a_warning(planner_client):
    response = planner_client.post(
        reverse("planning:event_create"),
        {"name": "Valentine's", "event_date": "2020-02-14"},
        follow=True,
    )
    assert "is in the past" in response.content.decode()
    assert Event.objects.filter(name="Valentine's").exists()
