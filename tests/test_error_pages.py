"""Error pages and the database going away: plain pages that need no database, a 503 when
the database fails mid-request, and the next request works again."""

import logging
from contextlib import contextmanager

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.db import OperationalError, connection
from django.test import Client, RequestFactory
from django.urls import reverse

from eventplanner.views import server_error
from planning.models import EventProductionTarget
from tests.planning.factories import EventFactory, RecipeFactory, UserFactory

HTMX = {"HTTP_HX_REQUEST": "true"}


@contextmanager
def database_fails_once(on: str, error=None):
    """Make the first statement starting with `on` fail as if the server had gone away."""
    state = {"fired": False}

    def wrapper(execute, sql, params, many, context):
        if not state["fired"] and sql.lstrip().upper().startswith(on):
            state["fired"] = True
            raise error or OperationalError("server closed the connection unexpectedly")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        yield state


def _add_target(client, event, recipe, batches=4, **extra):
    return client.post(
        reverse("planning:production_target_add", args=[event.pk]),
        {"recipe": recipe.pk, "target_batches": batches},
        **extra,
    )


@pytest.mark.django_db
@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
def test_database_lost_during_a_write_gives_503_and_the_retry_works(planner_client, caplog, htmx):
    event, recipe = EventFactory(), RecipeFactory()
    extra = HTMX if htmx else {}

    with database_fails_once("INSERT") as fault, caplog.at_level(logging.ERROR):
        response = _add_target(planner_client, event, recipe, **extra)

    assert fault["fired"]
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert "The database is not reachable right now" in response.content.decode()
    assert not EventProductionTarget.objects.exists()
    assert any(
        r.name == "eventplanner.reliability" and "Database unavailable" in r.getMessage()
        for r in caplog.records
    )

    retry = _add_target(planner_client, event, recipe, **extra)
    assert retry.status_code in (200, 302)
    assert EventProductionTarget.objects.get().target_batches == 4


@pytest.mark.django_db
def test_database_lost_while_reading_a_page_gives_503_then_the_page_loads(planner_client):
    event = EventFactory(name="Christmas 2030")
    url = reverse("planning:event_detail", args=[event.pk])
    with database_fails_once("SELECT"):
        response = planner_client.get(url)
    assert response.status_code == 503
    assert "Christmas 2030" in planner_client.get(url).content.decode()


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    "connection.vendor != 'postgresql'", reason="kills a real PostgreSQL connection"
)
def test_postgres_connection_killed_mid_request_gives_503_and_the_next_request_reconnects(
    planner_client,
):
    """Not a simulated error: the server really terminates the request's connection while
    the view is writing."""
    event, recipe = EventFactory(), RecipeFactory()
    state = {"fired": False}

    def kill_connection(execute, sql, params, many, context):
        if not state["fired"] and sql.lstrip().upper().startswith("INSERT"):
            state["fired"] = True
            execute("SELECT pg_terminate_backend(pg_backend_pid())", None, False, context)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(kill_connection):
        response = _add_target(planner_client, event, recipe)

    assert state["fired"]
    assert response.status_code == 503
    retry = _add_target(planner_client, event, recipe)
    assert retry.status_code == 302
    assert EventProductionTarget.objects.get().target_batches == 4


@pytest.mark.django_db
def test_database_error_outside_the_view_still_gives_503(planner_client, monkeypatch):
    """A failure while the session is saved (after the view) reaches handler500, which
    answers 503 for database errors too."""
    event = EventFactory()
    client = Client(raise_request_exception=False)
    client.cookies = planner_client.cookies

    def fail(*args, **kwargs):
        raise OperationalError("could not connect to server")

    monkeypatch.setattr(SessionStore, "save", fail)
    response = _add_target(client, event, RecipeFactory())  # adds a message: saves the session
    assert response.status_code == 503
    assert "Temporarily unavailable" in response.content.decode()


@pytest.mark.django_db
def test_unexpected_error_gives_the_plain_500_page(planner_client, monkeypatch):
    from planning.views import dashboard

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(dashboard.services, "get_event_dashboard", broken)
    client = Client(raise_request_exception=False)
    client.cookies = planner_client.cookies
    response = client.get(reverse("planning:event_detail", args=[EventFactory().pk]))
    assert response.status_code == 500
    body = response.content.decode()
    assert "Something went wrong" in body
    assert "nothing was half-saved" in body
    assert "a bug" not in body  # no internals shown


def test_500_and_503_pages_render_without_the_database():
    """No pytest-django db access is granted here: any query would fail the test."""
    request = RequestFactory().get("/")
    try:
        raise OperationalError("gone")
    except OperationalError:
        unavailable = server_error(request)
    failed = server_error(request)
    assert unavailable.status_code == 503
    assert failed.status_code == 500
    assert "Something went wrong" in failed.content.decode()


@pytest.mark.django_db
def test_404_page_is_plain_and_needs_no_query(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert "Not found" in response.content.decode()


@pytest.mark.django_db
def test_403_page_says_what_happened(client):
    client.force_login(UserFactory())  # signed in, but in no role
    forbidden = client.post(reverse("planning:event_create"), {"name": "x"})
    assert forbidden.status_code == 403
    assert "You may not do that" in forbidden.content.decode()
