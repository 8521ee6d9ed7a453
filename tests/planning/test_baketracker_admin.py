"""Staff import a bake-tracker season in the admin: upload, read the report, import."""

import json
import re
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse

from fulfillment.models import FulfillmentStatusChange
from planning.models import Event, Recipe
from tests.planning.factories import UserFactory
from tests.reliability import changed_tables, db_state

EXPORT = (
    Path(__file__).resolve().parent.parent
    / "fixtures"
    / "baketracker"
    / ("baketracker-export-4.1.json")
)
URL = reverse("admin:planning_event_import_baketracker")

pytestmark = pytest.mark.django_db


def _upload(client, content=None, name="export.json", **fields):
    file = SimpleUploadedFile(name, content or EXPORT.read_bytes(), "application/json")
    return client.post(URL, {"file": file, **fields})


def _token(response) -> str:
    return re.search(r'name="token" value="([^"]+)"', response.content.decode()).group(1)


def test_the_event_list_links_to_the_import(admin_client):
    response = admin_client.get(reverse("admin:planning_event_changelist"))
    assert URL in response.content.decode()
    page = admin_client.get(URL).content.decode()
    assert "Import a season from bake-tracker" in page
    assert 'type="file"' in page


def test_upload_shows_the_report_then_import_writes_exactly_that(admin_client):
    before = db_state()
    checked = _upload(admin_client)
    page = checked.content.decode()
    assert "Dry run, nothing was written." in page
    assert "purchases: 11" in page
    assert changed_tables(before, db_state()) == []

    done = admin_client.post(URL, {"token": _token(checked)}, follow=True)
    assert done.redirect_chain[-1][0] == reverse("admin:planning_event_changelist")
    assert "Imported from bake-tracker: 5 recipes" in done.content.decode()
    assert Event.objects.count() == 2
    assert set(FulfillmentStatusChange.objects.values_list("source", flat=True)) == {"import"}


def test_the_same_file_again_has_nothing_to_import_and_no_button(admin_client):
    admin_client.post(URL, {"token": _token(_upload(admin_client))})
    page = _upload(admin_client).content.decode()
    assert "Nothing to import: everything in the file is already here." in page
    assert 'name="token"' not in page


def test_the_import_plans_again_and_refuses_what_changed_since_the_report(admin_client):
    token = _token(_upload(admin_client))
    Recipe.objects.create(name="Sugar Cookies", yield_per_batch=36)
    response = admin_client.post(URL, {"token": token})
    assert "Recipe &#x27;Sugar Cookies&#x27; exists with different" in response.content.decode()
    assert not Event.objects.exists()


def test_an_altered_token_imports_nothing(admin_client):
    token = _token(_upload(admin_client))
    response = admin_client.post(URL, {"token": token[:-2] + "xx"})
    assert "has expired or was altered" in response.content.decode()
    assert not Event.objects.exists()


def test_markup_in_the_file_is_shown_escaped(admin_client):
    data = json.loads(EXPORT.read_bytes())
    data["events"][0]["event_date"] = "<script>alert(1)</script>"
    page = _upload(admin_client, json.dumps(data).encode()).content.decode()
    assert "events[0].event_date" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert(1)</script>" not in page


def test_a_ten_megabyte_upload_is_refused_with_the_limit(admin_client):
    page = _upload(admin_client, b" " * (10 * 1024 * 1024)).content.decode()
    assert "at most 5 MB is read" in page
    assert not Event.objects.exists()


def test_staff_without_the_add_permissions_cannot_import(client):
    staff = UserFactory(is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(codename__in=["view_event", "add_event"]))
    client.force_login(staff)
    assert (
        "Import from bake-tracker"
        not in client.get(reverse("admin:planning_event_changelist")).content.decode()
    )
    assert _upload(client).status_code == 403
    assert not Event.objects.exists()


def test_the_history_shows_the_import_as_its_source(admin_client):
    admin_client.post(URL, {"token": _token(_upload(admin_client))})
    change = FulfillmentStatusChange.objects.first()
    page = admin_client.get(
        reverse("admin:fulfillment_eventrecipientpackage_change", args=[change.assignment_id])
    ).content.decode()
    assert "Import" in page
    listing = admin_client.get(reverse("admin:fulfillment_fulfillmentstatuschange_changelist"))
    assert '<td class="field-source">Import</td>' in listing.content.decode()


def test_with_demo_data_the_page_refuses_and_says_to_tick_keep_both(admin_client):
    call_command("seed_demo", stdout=StringIO())
    page = _upload(admin_client).content.decode()
    assert "Keep both: import items that differ under a new name" in page
    assert "Recipe &#x27;Sugar Cookies&#x27; exists with different" in page
    assert "or tick Keep both, to import the file&#x27;s versions under new names" in page
    assert 'name="token"' not in page


def test_keep_both_ticked_checks_then_imports_the_files_versions_under_new_names(admin_client):
    call_command("seed_demo", stdout=StringIO())
    before = db_state()
    checked = _upload(admin_client, keep_both="on")
    page = checked.content.decode()
    assert "Dry run, nothing was written." in page
    assert "imported as &#x27;Sugar Cookies (from bake-tracker)&#x27;" in page
    assert changed_tables(before, db_state()) == []
    done = admin_client.post(URL, {"token": _token(checked)}, follow=True)
    assert "Imported from bake-tracker: 5 recipes, 4 finished goods" in done.content.decode()
    assert Recipe.objects.get(name="Sugar Cookies (from bake-tracker)").yield_per_batch == 24
    assert Recipe.objects.get(name="Sugar Cookies").yield_per_batch == 36
    assert Event.objects.filter(name="Christmas 2025").count() == 2  # the demo's and the file's
