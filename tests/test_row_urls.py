"""The dashboard and the fulfillment page build each row's action URLs from the row's own URL
(one reverse per row instead of one per link; the pages have up to 300 rows). These tests keep
that in step with the URL configuration: every action link is what reverse() gives."""

import pytest
from django.urls import reverse

from tests.fulfillment.factories import AssignmentFactory
from tests.planning.factories import AssemblyTargetFactory, EventFactory, ProductionTargetFactory

pytestmark = pytest.mark.django_db


def test_dashboard_target_actions_link_to_their_views(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("boss", "b@example.com", "pw"))
    event = EventFactory()
    production = ProductionTargetFactory(event=event)
    assembly = AssemblyTargetFactory(event=event)

    page = client.get(reverse("planning:event_detail", args=[event.pk])).content.decode()

    for kind, item in (
        ("production", production.recipe_id),
        ("assembly", assembly.finished_good_id),
    ):
        for name in ("target_edit", "target_delete"):
            assert f'href="{reverse(f"planning:{name}", args=[event.pk, kind, item])}"' in page


def test_fulfillment_row_actions_link_to_their_views(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("boss", "b@example.com", "pw"))
    event = EventFactory()
    pending = AssignmentFactory(event=event)
    ready = AssignmentFactory(event=event, ready=True)
    page_url = reverse("fulfillment:event_fulfillment", args=[event.pk])

    page = client.get(page_url).content.decode()

    for row, names in (
        (pending, ("assignment_status", "assignment_history", "assignment_edit")),
        (ready, ("assignment_status", "assignment_history", "assignment_undo")),
    ):
        for name in names:
            assert f'"{reverse(f"fulfillment:{name}", args=[event.pk, row.pk])}' in page, name
    remove = reverse("fulfillment:assignment_remove", args=[event.pk, pending.pk])
    assert f'action="{remove}"' in page
