"""Recipient and package catalog pages: list with search, create, edit, delete with reasons."""

import datetime

import pytest
from django.urls import reverse

from fulfillment.models import Package, PackageItem, Recipient
from tests.fulfillment.conftest import HTMX
from tests.fulfillment.factories import (
    AssignmentFactory,
    PackageFactory,
    PackageItemFactory,
    RecipientFactory,
)
from tests.planning.factories import EventFactory, FinishedGoodFactory

pytestmark = pytest.mark.django_db


# --- recipients -------------------------------------------------------------------------


def test_recipient_list_searches_and_swaps_results_with_htmx(client_as):
    RecipientFactory(name="Aunt Mary", household="Smiths")
    RecipientFactory(name="Uncle Bob", household="Jones")
    client = client_as("Packers")
    url = reverse("fulfillment:recipient_list") + "?q=smith"
    page = client.get(url)
    assert "<html" in page.content.decode()
    assert "Aunt Mary" in page.content.decode()
    assert "Uncle Bob" not in page.content.decode()
    fragment = client.get(url, **HTMX)
    html = fragment.content.decode()
    assert html.lstrip().startswith('<section id="results"')
    assert "Aunt Mary" in html
    assert "HX-Request" in fragment["Vary"]


def test_recipient_list_empty_states_say_what_to_do(client_as):
    html = client_as("Planners").get(reverse("fulfillment:recipient_list")).content.decode()
    assert "No recipients yet." in html
    assert "Add the first one" in html
    html = client_as("Planners", "p2").get(reverse("fulfillment:recipient_list") + "?q=zz")
    assert "No recipient matches" in html.content.decode()


def test_recipient_detail_shows_history_across_events_newest_first(client_as):
    mary = RecipientFactory(name="Aunt Mary")
    old = EventFactory(name="Christmas 2025", event_date=datetime.date(2025, 12, 24))
    new = EventFactory(name="Christmas 2026", event_date=datetime.date(2026, 12, 24))
    AssignmentFactory(event=old, recipient=mary, package=PackageFactory(name="Tin"), delivered=True)
    AssignmentFactory(event=new, recipient=mary, package=PackageFactory(name="Hamper"))
    html = client_as("Packers").get(reverse("fulfillment:recipient_detail", args=[mary.pk]))
    html = html.content.decode()
    assert html.index("Christmas 2026") < html.index("Christmas 2025")
    assert html.index("Hamper") < html.index("Tin")


def test_recipient_detail_of_unknown_id_is_404(client_as):
    assert client_as("Packers").get("/recipients/999/").status_code == 404


def test_create_recipient_without_htmx_redirects_to_it(client_as):
    response = client_as("Planners").post(
        reverse("fulfillment:recipient_new"),
        {"name": "Aunt Mary", "household": "Smiths", "address": "", "notes": "No nuts"},
    )
    mary = Recipient.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("fulfillment:recipient_detail", args=[mary.pk])
    assert (mary.name, mary.household, mary.notes) == ("Aunt Mary", "Smiths", "No nuts")


def test_create_recipient_with_htmx_redirects_the_browser(client_as):
    response = client_as("Planners").post(
        reverse("fulfillment:recipient_new"), {"name": "Aunt Mary"}, **HTMX
    )
    mary = Recipient.objects.get()
    assert response["HX-Redirect"] == reverse("fulfillment:recipient_detail", args=[mary.pk])


def test_create_recipient_without_a_name_re_renders_the_form(client_as):
    client = client_as("Planners")
    for headers in (HTMX, {}):
        response = client.post(reverse("fulfillment:recipient_new"), {"name": " "}, **headers)
        html = response.content.decode()
        assert response.status_code == 200
        assert "Enter a name." in html
        assert ("<html" in html) is (not headers)
    assert not Recipient.objects.exists()


def test_edit_recipient(client_as):
    mary = RecipientFactory(name="Mary")
    client = client_as("Planners")
    form = client.get(reverse("fulfillment:recipient_edit", args=[mary.pk])).content.decode()
    assert 'value="Mary"' in form
    client.post(
        reverse("fulfillment:recipient_edit", args=[mary.pk]),
        {"name": "Mary Smith", "address": "1 Elm St"},
    )
    mary.refresh_from_db()
    assert (mary.name, mary.address) == ("Mary Smith", "1 Elm St")


def test_recipient_writes_need_the_permissions(client_as):
    mary = RecipientFactory(name="Mary")
    client = client_as("Packers")
    assert client.get(reverse("fulfillment:recipient_new")).status_code == 403
    assert client.post(reverse("fulfillment:recipient_new"), {"name": "X"}).status_code == 403
    url = reverse("fulfillment:recipient_edit", args=[mary.pk])
    assert client.post(url, {"name": "X"}, **HTMX).status_code == 403
    url = reverse("fulfillment:recipient_delete", args=[mary.pk])
    assert client.post(url).status_code == 403
    assert list(Recipient.objects.values_list("name", flat=True)) == ["Mary"]


def test_delete_unused_recipient_after_confirmation(client_as):
    mary = RecipientFactory(name="Mary")
    client = client_as("Planners")
    url = reverse("fulfillment:recipient_delete", args=[mary.pk])
    assert "Delete Mary" in client.get(url).content.decode()
    assert Recipient.objects.exists()  # GET changes nothing
    response = client.post(url)
    assert response["Location"] == reverse("fulfillment:recipient_list")
    assert not Recipient.objects.exists()


def test_delete_recipient_with_assignments_is_explained_and_refused(client_as):
    mary = RecipientFactory(name="Mary")
    AssignmentFactory(recipient=mary)
    client = client_as("Planners")
    url = reverse("fulfillment:recipient_delete", args=[mary.pk])
    page = client.get(url).content.decode()
    assert "cannot be deleted: they have 1 package assignment(s)" in page
    assert "Delete Mary</button>" not in page
    for headers in (HTMX, {}):
        response = client.post(url, **headers)
        assert response.status_code == 200
        assert "cannot be deleted" in response.content.decode()
    assert Recipient.objects.filter(pk=mary.pk).exists()


# --- packages ---------------------------------------------------------------------------


def test_package_list_shows_contents_and_searches(client_as):
    hamper = PackageFactory(name="Hamper")
    PackageItemFactory(package=hamper, finished_good=FinishedGoodFactory(name="Tin"), quantity=2)
    PackageFactory(name="Small box")
    client = client_as("Packers")
    html = client.get(reverse("fulfillment:package_list") + "?q=hamp").content.decode()
    assert "2 × Tin" in html
    assert "Small box" not in html
    fragment = client.get(reverse("fulfillment:package_list"), **HTMX).content.decode()
    assert fragment.lstrip().startswith('<section id="results"')


def test_package_list_runs_in_constant_queries(client_as, django_assert_max_num_queries):
    for _ in range(30):
        PackageItemFactory.create_batch(2, package=PackageFactory())
    client = client_as("Packers")
    with django_assert_max_num_queries(9):
        client.get(reverse("fulfillment:package_list"))


def _package_data(name, lines, **extra):
    data = {
        "name": name,
        "description": "",
        "items-TOTAL_FORMS": str(len(lines)),
        "items-INITIAL_FORMS": "0",
        "items-MIN_NUM_FORMS": "0",
        "items-MAX_NUM_FORMS": "1000",
        **extra,
    }
    for n, (good, quantity) in enumerate(lines):
        data[f"items-{n}-finished_good"] = str(good.pk) if good else ""
        data[f"items-{n}-quantity"] = str(quantity)
    return data


def test_create_package_with_items(client_as):
    box, tin = FinishedGoodFactory(name="Box"), FinishedGoodFactory(name="Tin")
    response = client_as("Planners").post(
        reverse("fulfillment:package_new"),
        _package_data("Hamper", [(box, 2), (tin, 1), (None, "")]),
    )
    package = Package.objects.get()
    assert response["Location"] == reverse("fulfillment:package_detail", args=[package.pk])
    assert sorted(package.items.values_list("finished_good__name", "quantity")) == [
        ("Box", 2),
        ("Tin", 1),
    ]


def test_create_package_errors_re_render_the_form(client_as):
    PackageFactory(name="Hamper")
    box = FinishedGoodFactory(name="Box")
    client = client_as("Planners")
    cases = [
        (_package_data("hamper", []), "There is already a package called"),
        (_package_data("New", [(box, 1), (box, 2)]), "Box is listed twice"),
        (_package_data("New", [(box, 0)]), "1 or more"),
        (_package_data("New", [(box, "")]), "Enter how many."),
    ]
    for data, message in cases:
        for headers in (HTMX, {}):
            response = client.post(reverse("fulfillment:package_new"), data, **headers)
            assert response.status_code == 200
            assert message in response.content.decode()
    assert Package.objects.count() == 1


def test_edit_package_replaces_its_items(client_as):
    package = PackageFactory(name="Hamper")
    PackageItemFactory(package=package, quantity=5)
    tin = FinishedGoodFactory(name="Tin")
    client = client_as("Planners")
    form = client.get(reverse("fulfillment:package_edit", args=[package.pk])).content.decode()
    assert 'value="5"' in form
    response = client.post(
        reverse("fulfillment:package_edit", args=[package.pk]),
        _package_data("Hamper XL", [(tin, 3)]),
        **HTMX,
    )
    assert response["HX-Redirect"] == reverse("fulfillment:package_detail", args=[package.pk])
    package.refresh_from_db()
    assert package.name == "Hamper XL"
    assert list(PackageItem.objects.filter(package=package).values_list("quantity", flat=True)) == [
        3
    ]


def test_delete_package_in_use_is_refused_and_unused_is_deleted(client_as):
    used = PackageFactory(name="Used")
    AssignmentFactory(package=used)
    unused = PackageFactory(name="Unused")
    client = client_as("Planners")
    page = client.get(reverse("fulfillment:package_delete", args=[used.pk])).content.decode()
    assert "Used cannot be deleted: it is assigned 1 time(s)" in page
    response = client.post(reverse("fulfillment:package_delete", args=[used.pk]), **HTMX)
    assert "cannot be deleted" in response.content.decode()
    response = client.post(reverse("fulfillment:package_delete", args=[unused.pk]), **HTMX)
    assert response["HX-Redirect"] == reverse("fulfillment:package_list")
    assert list(Package.objects.values_list("name", flat=True)) == ["Used"]


def test_package_pages_404_and_permissions(client_as):
    package = PackageFactory()
    packer = client_as("Packers")
    assert packer.get("/packages/999/").status_code == 404
    assert packer.get(reverse("fulfillment:package_detail", args=[package.pk])).status_code == 200
    assert packer.get(reverse("fulfillment:package_new")).status_code == 403
    url = reverse("fulfillment:package_edit", args=[package.pk])
    assert packer.post(url, _package_data("X", [])).status_code == 403
    assert packer.post(reverse("fulfillment:package_delete", args=[package.pk])).status_code == 403
    planner = client_as("Planners", "pl")
    assert planner.get("/packages/999/edit/").status_code == 404
    assert Package.objects.get().name == package.name


def test_catalog_pages_need_sign_in(client):
    for url in ("/recipients/", "/packages/", "/recipients/new/", "/packages/new/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/login/")
