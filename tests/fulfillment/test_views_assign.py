"""Assigning a package: recipient and package chosen by search; duplicates offer an edit."""

import pytest
from django.urls import reverse

from fulfillment.models import EventRecipientPackage
from tests.fulfillment.conftest import HTMX
from tests.fulfillment.factories import AssignmentFactory, PackageFactory, RecipientFactory
from tests.planning.factories import EventFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def event():
    return EventFactory()


def new_url(event, query=""):
    return reverse("fulfillment:assignment_new", args=[event.pk]) + query


def test_assign_form_page_lists_choices(client_as, event):
    RecipientFactory(name="Aunt Mary", household="Smiths")
    PackageFactory(name="Hamper")
    html = client_as("Planners").get(new_url(event)).content.decode()
    assert "<html" in html
    assert "Aunt Mary (Smiths)" in html
    assert "Hamper" in html
    assert '<label for="id_recipient">Recipient</label>' in html


def test_typing_in_the_recipient_search_returns_only_its_choices(client_as, event):
    mary = RecipientFactory(name="Aunt Mary", household="")
    RecipientFactory(name="Uncle Bob")
    response = client_as("Planners").get(
        new_url(event, "?recipient_q=mary"), HTTP_HX_TRIGGER_NAME="recipient_q", **HTMX
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<div class="field" id="recipient-choice">')
    assert f'<option value="{mary.pk}">Aunt Mary</option>' in html
    assert "Uncle Bob" not in html
    assert "HX-Trigger-Name" in response["Vary"]


def test_a_late_search_answer_keeps_the_recipient_already_chosen(client_as, event):
    mary = RecipientFactory(name="Aunt Mary", household="")
    RecipientFactory(name="Mary Poppins", household="")
    html = (
        client_as("Planners")
        .get(
            new_url(event, f"?recipient_q=mary&recipient={mary.pk}"),
            HTTP_HX_TRIGGER_NAME="recipient_q",
            **HTMX,
        )
        .content.decode()
    )
    assert f'<option value="{mary.pk}" selected>Aunt Mary</option>' in html


def test_search_button_narrows_the_choices_keeps_the_input_and_saves_nothing(client_as, event):
    RecipientFactory(name="Aunt Mary")
    bob = RecipientFactory(name="Uncle Bob")
    package = PackageFactory(name="Hamper")
    client = client_as("Planners")
    data = {
        "search": "1",
        "recipient_q": "bob",
        "recipient": bob.pk,
        "package": package.pk,
        "quantity": "3",
    }
    for headers in ({}, HTMX):
        response = client.post(new_url(event), data, **headers)
        html = response.content.decode()
        assert response.status_code == 200
        assert ("<html" in html) is (not headers)
        assert "Uncle Bob" in html
        assert "Aunt Mary" not in html
        assert f'<option value="{package.pk}" selected>Hamper</option>' in html
        assert 'value="3"' in html
        assert "field-error" not in html
    assert not EventRecipientPackage.objects.exists()


def test_a_link_with_search_terms_opens_the_form_narrowed(client_as, event):
    RecipientFactory(name="Aunt Mary")
    RecipientFactory(name="Uncle Bob")
    html = client_as("Planners").get(new_url(event, "?recipient_q=bob")).content.decode()
    assert "Uncle Bob" in html
    assert "Aunt Mary" not in html


def test_assign_with_htmx_creates_the_row_and_returns_a_fresh_form(client_as, event):
    mary, hamper = RecipientFactory(name="Aunt Mary"), PackageFactory(name="Hamper")
    response = client_as("Planners").post(
        new_url(event),
        {"recipient": mary.pk, "package": hamper.pk, "quantity": "2", "notes": "No nuts"},
        **HTMX,
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "Assigned Hamper to Aunt Mary." in html
    assert html.lstrip().startswith('<form id="assignment-form"')
    row = EventRecipientPackage.objects.get()
    assert (row.event, row.recipient, row.package, row.quantity, row.notes) == (
        event,
        mary,
        hamper,
        2,
        "No nuts",
    )
    assert row.fulfillment_status == "pending"


def test_assign_without_htmx_redirects_to_the_new_row(client_as, event):
    mary, hamper = RecipientFactory(), PackageFactory()
    response = client_as("Planners").post(
        new_url(event), {"recipient": mary.pk, "package": hamper.pk, "quantity": "1"}
    )
    row = EventRecipientPackage.objects.get()
    assert response.status_code == 302
    assert response["Location"].endswith(f"/fulfillment/#assignment-{row.pk}")


def test_assigning_the_same_package_again_offers_to_edit_the_existing_row(client_as, event):
    existing = AssignmentFactory(event=event, quantity=2)
    client = client_as("Planners")
    for headers in (HTMX, {}):
        response = client.post(
            new_url(event),
            {"recipient": existing.recipient_id, "package": existing.package_id, "quantity": "1"},
            **headers,
        )
        html = response.content.decode()
        assert response.status_code == 200
        assert "already has the package" in html
        edit_url = reverse("fulfillment:assignment_edit", args=[event.pk, existing.pk])
        assert f'href="{edit_url}"' in html
    assert EventRecipientPackage.objects.count() == 1


def test_assign_refuses_bad_input_with_a_200_form(client_as, event):
    mary, hamper = RecipientFactory(), PackageFactory()
    client = client_as("Planners")
    cases = [
        ({"package": hamper.pk, "quantity": "1"}, "Choose a recipient."),
        ({"recipient": mary.pk, "package": hamper.pk, "quantity": "0"}, "1 or more"),
        ({"recipient": mary.pk + 99, "package": hamper.pk, "quantity": "1"}, "no longer exists"),
        ({"recipient": mary.pk, "package": hamper.pk + 99, "quantity": "1"}, "no longer exists"),
    ]
    for data, message in cases:
        response = client.post(new_url(event), data, **HTMX)
        assert response.status_code == 200
        assert message in response.content.decode()
    assert not EventRecipientPackage.objects.exists()


def test_assign_needs_the_permission_and_a_real_event(client_as, event):
    mary, hamper = RecipientFactory(), PackageFactory()
    packer = client_as("Packers")
    assert packer.get(new_url(event)).status_code == 403
    data = {"recipient": mary.pk, "package": hamper.pk, "quantity": "1"}
    assert packer.post(new_url(event), data, **HTMX).status_code == 403
    planner = client_as("Planners", "planner2")
    missing = reverse("fulfillment:assignment_new", args=[event.pk + 99])
    assert planner.post(missing, data).status_code == 404
    assert not EventRecipientPackage.objects.exists()


def test_a_choice_longer_than_the_list_says_so_and_the_search_finds_the_rest(client_as, event):
    recipients = [RecipientFactory(name=f"Recipient {n:02}", household="") for n in range(34)]
    client = client_as("Planners")

    html = client.get(new_url(event)).content.decode()

    assert "Only the first 20 matches are listed" in html
    assert f'<option value="{recipients[19].pk}">' in html
    assert f'<option value="{recipients[33].pk}">' not in html
    found = client.get(
        new_url(event, "?recipient_q=Recipient 33"), HTTP_HX_TRIGGER_NAME="recipient_q", **HTMX
    ).content.decode()
    assert f'<option value="{recipients[33].pk}">Recipient 33</option>' in found
    assert "Only the first" not in found


def test_a_choice_that_fits_the_list_says_nothing_more(client_as, event):
    for n in range(20):
        RecipientFactory(name=f"Recipient {n:02}")
    html = client_as("Planners").get(new_url(event)).content.decode()
    assert "Only the first" not in html
