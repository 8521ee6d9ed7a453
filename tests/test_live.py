"""Live pages: a poll with the token of an unchanged page is a bodiless 204 in one query, and
every write path (every endpoint, admin action, command, import, raw edit) makes the next
poll fetch again; signed-out polls get 401; tokens are bound to their session and part; full
page loads answer 304 when they may."""

import json
import re
from io import StringIO

import pytest
from django.contrib.messages import constants
from django.contrib.messages.storage.base import Message
from django.contrib.messages.storage.cookie import MessageEncoder
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.signals import template_rendered
from django.urls import reverse

from eventplanner import live
from fulfillment.models import EventRecipientPackage
from planning.models import Event, EventProductionTarget, Recipe
from tests.fulfillment.factories import AssignmentFactory
from tests.planning.factories import EventFactory, ProductionTargetFactory, UserFactory
from tests.reliability import WRITE_CASES, make_world

pytestmark = pytest.mark.django_db

TOKEN = re.compile(r'data-live-token="([^"]+)"')


# Each live part: the URL names of its page and of the poll that keeps it fresh.
LIVE_URLS = {
    "events": ("planning:event_list", "planning:events_live"),
    "dashboard": ("planning:event_detail", "planning:dashboard_live"),
    "fulfillment": ("fulfillment:event_fulfillment", "fulfillment:live"),
}


def _url(name: str, part: str, event_id: int | None) -> str:
    return reverse(name, args=[] if part == "events" else [event_id])


def page_url(part: str, event_id: int | None = None) -> str:
    return _url(LIVE_URLS[part][0], part, event_id)


def poll_url(part: str, event_id: int | None = None) -> str:
    return _url(LIVE_URLS[part][1], part, event_id)


def token_of(client: Client, part: str, event_id: int | None = None) -> str:
    committed()
    response = client.get(page_url(part, event_id))
    assert response.status_code == 200
    return TOKEN.search(response.content.decode()).group(1)


def committed() -> None:
    """On PostgreSQL the counters move when a transaction commits, once per transaction; a
    test's transaction never commits, so run the pending bumps as a commit would and let the
    next writes count as a new transaction's."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
            cursor.execute("UPDATE planning_eventversion SET bumped_in = NULL")


def poll(client: Client, part: str, event_id: int | None, token: str, query: str = ""):
    committed()
    return client.get(poll_url(part, event_id) + query, HTTP_X_LIVE_TOKEN=token)


PARTS = ["events", "dashboard", "fulfillment"]


@pytest.fixture
def boss(django_user_model):
    user = django_user_model.objects.create_superuser("boss", "boss@example.com", "pw-boss-1")
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def event():
    event = EventFactory()
    ProductionTargetFactory(event=event)
    AssignmentFactory(event=event)
    return event


# ---------------------------------------------------------------------------------------
# Unchanged: 204, no body, no template, one query, no session
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("part", PARTS)
def test_an_unchanged_part_answers_204_without_a_body_or_a_template_in_one_query(
    part, boss, event, django_assert_max_num_queries
):
    token = token_of(boss, part, event.pk)
    rendered = []

    def record(sender, template, context, **kwargs):
        rendered.append(template.name)

    committed()
    template_rendered.connect(record)
    try:
        with django_assert_max_num_queries(1) as queries:
            response = boss.get(poll_url(part, event.pk), HTTP_X_LIVE_TOKEN=token)
    finally:
        template_rendered.disconnect(record)
    assert response.status_code == 204
    assert response.content == b""
    assert rendered == []
    assert "planning_eventversion" in queries.captured_queries[0]["sql"]
    assert "private" in response["Cache-Control"]


@pytest.mark.parametrize("part", PARTS)
def test_a_changed_part_answers_its_rows_and_a_new_token(part, boss, event):
    token = token_of(boss, part, event.pk)
    ProductionTargetFactory(event=event)
    AssignmentFactory(event=event)
    response = poll(boss, part, event.pk, token)
    assert response.status_code == 200
    body = response.content.decode()
    assert 'hx-swap-oob="true"' in body
    assert "data-digest=" in body
    assert response["X-Live-Rows"]
    new_token = response["X-Live-Token"]
    assert new_token != token
    assert poll(boss, part, event.pk, new_token).status_code == 204


def test_rows_that_did_not_change_keep_their_digest(boss, event):
    moved, kept = AssignmentFactory(event=event), AssignmentFactory(event=event)
    committed()
    page = boss.get(page_url("fulfillment", event.pk)).content.decode()
    token = TOKEN.search(page).group(1)
    EventRecipientPackage.objects.filter(pk=moved.pk).update(quantity=7)
    body = poll(boss, "fulfillment", event.pk, token).content.decode()

    def digest(html, pk):
        return re.search(rf'id="assignment-{pk}"[^>]*data-digest="(\w+)"', html).group(1)

    assert digest(body, kept.pk) == digest(page, kept.pk)
    assert digest(body, moved.pk) != digest(page, moved.pk)


def test_the_poll_follows_the_filter_in_its_query_string(boss, event):
    ready = AssignmentFactory(event=event, ready=True)
    token = token_of(boss, "fulfillment", event.pk)
    AssignmentFactory(event=event)
    response = poll(boss, "fulfillment", event.pk, token, "?status=ready")
    assert response["X-Live-Rows"] == f"assignment-{ready.pk}"


# ---------------------------------------------------------------------------------------
# Signed out, other users, other parts
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("part", PARTS)
def test_a_signed_out_poll_gets_401_not_a_redirect(part, boss, event):
    token = token_of(boss, part, event.pk)
    boss.logout()
    for client in (boss, Client()):
        response = poll(client, part, event.pk, token, "")
        assert response.status_code == 401
        assert "Location" not in response
        assert "HX-Redirect" not in response
        assert "signed out" in response.content.decode()


@pytest.mark.parametrize("part", ["dashboard", "fulfillment"])
def test_a_token_of_another_user_or_event_is_refused(part, boss, event, client):
    token = token_of(boss, part, event.pk)
    client.force_login(UserFactory(username="other"))
    assert poll(client, part, event.pk, token).status_code == 200
    other_event = EventFactory()
    assert poll(boss, part, other_event.pk, token).status_code == 200
    other_part = "fulfillment" if part == "dashboard" else "dashboard"
    assert poll(boss, other_part, event.pk, token).status_code == 200
    assert poll(boss, part, event.pk, token + "x").status_code == 200
    assert poll(boss, part, event.pk, token).status_code == 204


def test_an_expired_token_takes_the_full_path(boss, event, settings, monkeypatch):
    token = token_of(boss, "fulfillment", event.pk)
    monkeypatch.setattr(live, "TOKEN_MAX_AGE", -1)
    assert poll(boss, "fulfillment", event.pk, token).status_code == 200


def test_a_poll_of_a_deleted_event_is_a_404(boss, event):
    token = token_of(boss, "fulfillment", event.pk)
    EventRecipientPackage.objects.filter(event=event).delete()
    Event.objects.filter(pk=event.pk).delete()
    assert poll(boss, "fulfillment", event.pk, token).status_code == 404


def test_live_updates_off_leave_the_pages_without_a_poll(boss, event, settings):
    settings.LIVE_POLL_SECONDS = 0
    for part in PARTS:
        assert "data-live-token" not in boss.get(page_url(part, event.pk)).content.decode()


# ---------------------------------------------------------------------------------------
# Every write path bumps the validator
# ---------------------------------------------------------------------------------------


def _tokens(client: Client, world) -> dict:
    events = [world.event.pk, world.other_event.pk, world.deletable_event.pk]
    tokens = {("events", None): token_of(client, "events")}
    for event_id in events:
        for part in ("dashboard", "fulfillment"):
            tokens[(part, event_id)] = token_of(client, part, event_id)
    return tokens


def _changed(client: Client, tokens: dict) -> set:
    return {key for key, token in tokens.items() if poll(client, *key, token).status_code != 204}


@pytest.mark.parametrize("case", WRITE_CASES, ids=lambda case: case.name)
def test_every_write_endpoint_and_admin_action_makes_the_next_poll_fetch(case, boss):
    world = make_world()
    tokens = _tokens(boss, world)
    assert _changed(boss, tokens) == set()
    response = case.send(boss, world)
    assert response.status_code in (200, 302), response.content.decode()[:300]
    changed = _changed(boss, tokens)
    assert ("events", None) in changed
    if case.name not in ("event_create", "event_clone"):
        assert any(key[0] != "events" for key in changed), changed


def _import_renamed_copy(world, tmp_path):
    path = tmp_path / "event.json"
    call_command("export_event", world.event.pk, output=str(path))
    document = json.loads(path.read_text())
    document["event"]["name"] = "Imported season"
    path.write_text(json.dumps(document))
    call_command("import_event", str(path))


def _raw_sql_edit(world, tmp_path):
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE fulfillment_eventrecipientpackage SET notes = 'x' WHERE event_id = %s",
            [world.event.pk],
        )


OTHER_WRITES = {
    "import_event": _import_renamed_copy,
    "queryset_update": lambda world, tmp_path: EventProductionTarget.objects.filter(
        event=world.event
    ).update(target_batches=9),
    "raw_sql": _raw_sql_edit,
    "recipe_rename": lambda world, tmp_path: Recipe.objects.filter(
        pk=world.ids["free_recipe"]
    ).update(name="Renamed"),
}


@pytest.mark.parametrize("write", OTHER_WRITES, ids=str)
def test_commands_imports_and_raw_edits_make_the_next_poll_fetch(write, boss, tmp_path):
    world = make_world()
    tokens = _tokens(boss, world)
    OTHER_WRITES[write](world, tmp_path)
    changed = _changed(boss, tokens)
    assert ("events", None) in changed
    if write != "import_event":
        assert ("fulfillment", world.event.pk) in changed
        assert ("dashboard", world.event.pk) in changed


def test_seeding_the_demo_makes_the_next_poll_fetch(boss):
    token = token_of(boss, "events")
    call_command("seed_demo", stdout=StringIO())
    assert poll(boss, "events", None, token).status_code == 200


def test_a_run_moved_to_another_event_changes_both(boss):
    world = make_world()
    tokens = _tokens(boss, world)
    from planning.models import ProductionRun

    ProductionRun.objects.filter(event=world.event).update(event=world.other_event)
    changed = _changed(boss, tokens)
    assert {("dashboard", world.event.pk), ("dashboard", world.other_event.pk)} <= changed
    assert ("dashboard", world.deletable_event.pk) not in changed


# ---------------------------------------------------------------------------------------
# Full page loads: HTTP validators
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("part", PARTS)
def test_a_repeat_load_of_an_unchanged_page_is_a_304(part, boss, event):
    committed()
    boss.get(page_url(part, event.pk))  # the first page sets the CSRF cookie
    first = boss.get(page_url(part, event.pk))
    etag = first["ETag"]
    assert first["Cache-Control"].replace(" ", "") in ("private,no-cache", "no-cache,private")
    again = boss.get(page_url(part, event.pk), HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304
    assert again.content == b""
    AssignmentFactory(event=event)
    committed()
    assert boss.get(page_url(part, event.pk), HTTP_IF_NONE_MATCH=etag).status_code == 200


def test_a_page_with_a_pending_message_is_never_a_304(boss, event):
    url = page_url("dashboard", event.pk)
    committed()
    boss.get(url)
    etag = boss.get(url)["ETag"]
    session = boss.session
    session["_messages"] = MessageEncoder().encode([Message(constants.SUCCESS, "Saved it.")])
    session.save()
    response = boss.get(url, HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 200
    assert "Saved it." in response.content.decode()
    assert boss.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 304


def test_a_new_csrf_secret_changes_the_etag(boss, event):
    url = page_url("fulfillment", event.pk)
    committed()
    boss.get(url)
    etag = boss.get(url)["ETag"]
    assert boss.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 304
    boss.cookies["csrftoken"] = "x" * 32
    assert boss.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 200
