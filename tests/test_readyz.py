"""/readyz: the database and the shared cache answer, in a few milliseconds, without sign-in
or session; otherwise 503 naming the failing part."""

import time

import pytest
from django.db import OperationalError, connection

pytestmark = pytest.mark.django_db


def test_ready_answers_ok_without_sign_in_or_session(client, django_assert_num_queries):
    client.get("/readyz")  # the first request opens the connection
    started = time.perf_counter()
    with django_assert_num_queries(1):
        response = client.get("/readyz")
    elapsed = time.perf_counter() - started
    assert response.status_code == 200
    assert response.content.decode() == "database: ok\ncache: ok\n"
    assert response["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in response
    assert "Cookie" not in response.get("Vary", "")
    assert elapsed < 0.1, f"{elapsed * 1000:.1f} ms"


def test_ready_refuses_post(client):
    assert client.post("/readyz").status_code == 405


def test_a_database_error_gives_503_naming_the_database(client, monkeypatch):
    def broken_cursor(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(connection, "cursor", broken_cursor)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.content.decode() == "database: unavailable (OperationalError)\ncache: ok\n"


@pytest.mark.django_db(transaction=True)
def test_an_unreachable_database_gives_503(client):
    """A real failure on either engine: the connection is closed and its settings point at a
    database that cannot be reached (PostgreSQL: a closed port; SQLite: no such directory)."""
    original = dict(connection.settings_dict)
    connection.close()
    if connection.vendor == "postgresql":
        connection.settings_dict.update(HOST="127.0.0.1", PORT="1")
    else:
        connection.settings_dict["NAME"] = "/nonexistent/dir/db.sqlite3"
    try:
        response = client.get("/readyz")
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(original)
    assert response.status_code == 503
    assert response.content.decode().startswith("database: unavailable (OperationalError)\n")
    assert client.get("/readyz").status_code == 200  # the next request reconnects


def test_a_cache_that_keeps_nothing_gives_503_naming_the_cache(client, settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.content.decode() == "database: ok\ncache: unavailable (does not keep values)\n"
