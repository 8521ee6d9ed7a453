"""CSV export, printable packing list, delivery-day checklist, and the page's query count."""

import csv
import io
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from fulfillment.models import EventRecipientPackage, Package, Recipient
from fulfillment.views import csv_safe
from tests.fulfillment.conftest import HTMX
from tests.fulfillment.factories import (
    AssignmentFactory,
    PackageFactory,
    PackageItemFactory,
    RecipientFactory,
)
from tests.planning.factories import EventFactory, FinishedGoodFactory, UserFactory

pytestmark = pytest.mark.django_db

EVIL = '=HYPERLINK("http://x","click")'


def move(row, status, user=None):
    from django.db import connection, transaction

    from fulfillment import services

    with transaction.atomic():
        services.update_fulfillment_status(row.pk, status, changed_by=user, connection=connection)


def read_csv(response):
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    # The byte-order mark that tells spreadsheets the file is UTF-8.
    assert response.content.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


@pytest.fixture
def event():
    return EventFactory(name="Christmas 2026")


# --- CSV --------------------------------------------------------------------------------


def test_csv_has_exactly_the_filtered_rows_and_fields(client_as, event, settings):
    settings.TIME_ZONE = "UTC"
    bob = UserFactory(username="bob", is_superuser=True)
    mary = RecipientFactory(name="Aunt Mary", household="Smiths", address="1 Elm St\nTown")
    ready = AssignmentFactory(
        event=event, recipient=mary, package=PackageFactory(name="Hamper"), quantity=2
    )
    move(ready, "ready", bob)
    AssignmentFactory(event=event)  # pending: filtered out
    AssignmentFactory(ready=True)  # another event
    ready.refresh_from_db()

    url = reverse("fulfillment:export_csv", args=[event.pk]) + "?status=ready"
    response = client_as("Packers").get(url)

    assert response.status_code == 200
    assert response["Content-Disposition"] == (
        'attachment; filename="christmas-2026-2026-12-24-packages-ready.csv"'.replace(
            "2026-12-24", f"{event.event_date:%Y-%m-%d}"
        )
    )
    # The header as a spreadsheet shows it, written exactly so (no quoting).
    header_line = response.content.decode("utf-8-sig").split("\r\n")[0]
    assert (
        header_line
        == "Recipient,Household,Address,Package,Quantity,Status,Last status change,Changed by"
    )
    assert read_csv(response) == [
        header_line.split(","),
        [
            "Aunt Mary",
            "Smiths",
            "1 Elm St\nTown",
            "Hamper",
            "2",
            "Ready",
            f"{ready.status_changed_at:%Y-%m-%d %H:%M}",
            "bob",
        ],
    ]


def test_csv_applies_the_search_too(client_as, event):
    AssignmentFactory(event=event, recipient=RecipientFactory(name="Aunt Mary"))
    AssignmentFactory(event=event, recipient=RecipientFactory(name="Uncle Bob"))
    url = reverse("fulfillment:export_csv", args=[event.pk]) + "?q=bob"
    rows = read_csv(client_as("Packers").get(url))
    assert [r[0] for r in rows[1:]] == ["Uncle Bob"]


def test_csv_never_turns_names_into_formulas(client_as, event):
    names = [EVIL, "+1+1", "-2", "@SUM(A1)", "\tTab", "\rCR", "<script>alert(1)</script>"]
    for name in names:
        AssignmentFactory(
            event=event,
            recipient=Recipient.objects.create(name=name, household="=1+2", address="@home"),
            package=Package.objects.create(name=f"-{name}"),
        )
    response = client_as("Packers").get(reverse("fulfillment:export_csv", args=[event.pk]))
    assert response["X-Content-Type-Options"] == "nosniff"
    rows = read_csv(response)
    by_name = {row[0]: row for row in rows[1:]}
    assert set(by_name) == {
        "'" + EVIL,
        "'+1+1",
        "'-2",
        "'@SUM(A1)",
        "'\tTab",
        "'\rCR",
        "<script>alert(1)</script>",
    }
    for row in rows[1:]:
        assert row[1] == "'=1+2"
        assert row[2] == "'@home"
        assert row[3].startswith("'-")
        assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in row)


def test_csv_file_name_never_carries_the_event_name_raw(client_as):
    event = EventFactory(name='x"; filename=evil.exe\r\n<script>')
    response = client_as("Packers").get(reverse("fulfillment:export_csv", args=[event.pk]))
    disposition = response["Content-Disposition"]
    assert re.fullmatch(r'attachment; filename="[a-z0-9-]+\.csv"', disposition)


def test_csv_safe_leaves_numbers_and_plain_text_alone():
    assert csv_safe(3) == 3
    assert csv_safe("Aunt Mary") == "Aunt Mary"
    assert csv_safe("") == ""
    assert csv_safe("=1") == "'=1"


def test_csv_needs_sign_in_and_a_real_event(client, client_as, event):
    url = reverse("fulfillment:export_csv", args=[event.pk])
    assert client.get(url).status_code == 302
    missing = reverse("fulfillment:export_csv", args=[event.pk + 99])
    assert client_as("Packers").get(missing).status_code == 404


# --- packing list -----------------------------------------------------------------------


def test_packing_list_has_one_section_per_recipient_with_contents_and_no_prices(client_as, event):
    cookies = FinishedGoodFactory(name="Cookie Gift Box")
    hamper = PackageFactory(name="Family Hamper")
    PackageItemFactory(package=hamper, finished_good=cookies, quantity=2)
    first = RecipientFactory(name="Aunt Mary", notes="No nuts")
    second = RecipientFactory(name="Aunt Mary")
    AssignmentFactory(event=event, recipient=first, package=hamper, quantity=3)
    AssignmentFactory(event=event, recipient=second, package=hamper, ready=True)
    AssignmentFactory(package=hamper)  # another event

    url = reverse("fulfillment:packing_list", args=[event.pk])
    html = client_as("Packers").get(url).content.decode()

    sections = re.findall(r'<section class="packing-section".*?</section>', html, re.S)
    assert len(sections) == 2
    assert "3 × Family Hamper" in sections[0]
    assert re.search(r"<td>Cookie Gift Box</td><td class=\"num\">6</td>", sections[0])
    assert "No nuts" in sections[0]
    assert re.search(r"<td>Cookie Gift Box</td><td class=\"num\">2</td>", sections[1])
    assert not re.search(r"price|\$|€|£", html, re.I)

    pending = client_as("Packers", "p2").get(url + "?status=pending").content.decode()
    assert pending.count('<section class="packing-section"') == 1


def test_packing_list_escapes_markup_in_names(client_as, event):
    AssignmentFactory(
        event=event,
        recipient=Recipient.objects.create(name="<script>alert(1)</script>"),
        package=Package.objects.create(name="<b>Box</b>"),
    )
    html = client_as("Packers").get(reverse("fulfillment:packing_list", args=[event.pk]))
    html = html.content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;Box&lt;/b&gt;" in html


def test_print_stylesheet_starts_each_recipient_on_a_new_page():
    css = (Path(settings.BASE_DIR) / "eventplanner/static/css/app.css").read_text()
    print_rules = css[css.rindex("@media print") :]
    assert re.search(r"\.packing-section \{[^}]*break-after: page", print_rules)


# --- delivery checklist -----------------------------------------------------------------


def test_checklist_groups_ready_packages_by_household(client_as, event):
    AssignmentFactory(
        event=event, ready=True, recipient=RecipientFactory(name="Ann", household="Smiths")
    )
    AssignmentFactory(
        event=event, ready=True, recipient=RecipientFactory(name="Ben", household="Smiths")
    )
    AssignmentFactory(event=event, recipient=RecipientFactory(name="Pending Pete"))
    html = client_as("Packers").get(reverse("fulfillment:delivery_checklist", args=[event.pk]))
    html = html.content.decode()
    stops = re.findall(r'<li class="stop card">.*?</ul>', html, re.S)
    assert len(stops) == 1
    assert "<h2>Smiths</h2>" in stops[0]
    assert stops[0].count("Mark delivered<span") == 2
    assert "Pending Pete" not in html


def test_checklist_delivered_button_with_htmx_swaps_the_line(client_as, event):
    row = AssignmentFactory(event=event, ready=True)
    url = reverse("fulfillment:assignment_status", args=[event.pk, row.pk])
    data = {"new_status": "delivered", "expected_status": "ready", "view": "checklist"}
    html = client_as("Packers").post(url, data, **HTMX).content.decode()
    assert html.lstrip().startswith(f'<li class="stop-row" id="stop-{row.pk}">')
    assert '<span class="badge status-delivered">Delivered</span>' in html
    assert EventRecipientPackage.objects.get(pk=row.pk).fulfillment_status == "delivered"


def test_checklist_delivered_button_without_htmx_returns_to_the_checklist(client_as, event):
    row = AssignmentFactory(event=event, ready=True)
    url = reverse("fulfillment:assignment_status", args=[event.pk, row.pk])
    data = {"new_status": "delivered", "expected_status": "ready", "view": "checklist"}
    response = client_as("Packers").post(url, data)
    assert response["Location"] == reverse("fulfillment:delivery_checklist", args=[event.pk])


# --- query counts -----------------------------------------------------------------------

PAGE_QUERIES = 11  # with the live counters read once for the ETag and the token


def make_assignments(event, count):
    """Many assignments fast (bulk inserts), each with one status change."""
    from django.db import connection, transaction

    from fulfillment import services

    recipients = Recipient.objects.bulk_create(
        Recipient(name=f"Recipient {n:05d}", household=f"H{n % 50}") for n in range(count)
    )
    package = PackageFactory()
    rows = EventRecipientPackage.objects.bulk_create(
        EventRecipientPackage(event=event, recipient=r, package=package) for r in recipients
    )
    with transaction.atomic():
        services.bulk_update_fulfillment_status(
            [r.pk for r in rows[: count // 2]],
            "ready",
            changed_by=UserFactory(username="bulk", is_superuser=True),
            connection=connection,
        )


@pytest.mark.parametrize("count", [10, 2000])
@pytest.mark.parametrize("headers", [{}, HTMX], ids=["page", "htmx"])
def test_fulfillment_page_runs_in_constant_queries(
    client_as, event, count, headers, django_assert_max_num_queries
):
    make_assignments(event, count)
    client = client_as("Coordinators")
    url = reverse("fulfillment:event_fulfillment", args=[event.pk]) + "?q=Recipient"
    with django_assert_max_num_queries(PAGE_QUERIES):
        response = client.get(url, **headers)
    html = response.content.decode()
    assert html.count('<tbody id="assignment-') == min(count, 50)
    assert "by bulk" in html


def test_csv_leaves_the_last_change_blank_for_packages_never_moved(client_as, event):
    AssignmentFactory(event=event, recipient=RecipientFactory(name="Zed"))
    url = reverse("fulfillment:export_csv", args=[event.pk])
    [header, row] = read_csv(client_as("Packers").get(url))
    assert row[header.index("Last status change")] == ""
    assert row[header.index("Changed by")] == ""
