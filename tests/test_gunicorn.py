"""The deployment as an operator runs it: gunicorn with deploy/gunicorn.conf.py and the
production settings, over real HTTP, against PostgreSQL; and a release without its static
manifest refuses to start."""

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import psycopg
import pytest

from tests.test_production_settings import PRODUCTION_ENV

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "deploy" / "gunicorn.conf.py"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _environment(tmp_path, port, **extra):
    ignored = {"DATABASE_URL", "DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE", "TIME_ZONE"}
    base = {k: v for k, v in os.environ.items() if k not in ignored}
    return {
        **base,
        **PRODUCTION_ENV,
        "ALLOWED_HOSTS": "127.0.0.1",
        "TRUST_X_FORWARDED_PROTO": "true",  # as behind nginx: requests say they were https
        "EVENTPLANNER_VAR_DIR": str(tmp_path / "var"),
        "STATIC_ROOT": str(tmp_path / "static"),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "2",
        **extra,
    }


def _manage(env, *args):
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _get(port, path):
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", headers={"X-Forwarded-Proto": "https"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, dict(response.headers), response.read().decode()


def _wait_until_serving(server, port, seconds=30.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"gunicorn exited: {server.communicate()[1]}")
        try:
            return _get(port, "/healthz")
        except OSError:
            time.sleep(0.2)
    pytest.fail("gunicorn did not answer /healthz in time")


@pytest.fixture
def postgres_database():
    """A database of its own on the test run's PostgreSQL server, dropped afterwards."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        pytest.skip("boots against PostgreSQL, the production database (tests/with_postgres.sh)")
    name = f"gunicorn_{uuid.uuid4().hex[:8]}"
    # CREATE DATABASE cannot run in a transaction: a connection of its own, in autocommit.
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield f"{url.rsplit('/', 1)[0]}/{name}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.postgres
def test_gunicorn_with_the_deploy_config_serves_pages_health_and_hashed_static(
    tmp_path, postgres_database
):
    port = _free_port()
    env = _environment(tmp_path, port, DATABASE_URL=postgres_database, CACHE_URL="db://ready")
    _manage(env, "collectstatic", "--noinput", "-v0")
    _manage(env, "migrate", "--noinput", "-v0")
    _manage(env, "createcachetable")
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(CONFIG)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert _wait_until_serving(server, port)[2] == "ok"
        status, headers, page = _get(port, "/login/")
        assert status == 200
        assert "Sign in" in page
        assert headers["Strict-Transport-Security"].startswith("max-age=31536000")
        assert _get(port, "/readyz")[:3:2] == (200, "database: ok\ncache: ok\n")
        stylesheet = re.search(r'href="(/static/css/app\.[0-9a-f]{12}\.css)"', page)
        assert stylesheet, page
        status, headers, css = _get(port, stylesheet.group(1))
        assert status == 200
        assert "immutable" in headers["Cache-Control"]
        assert css.strip()
    finally:
        server.terminate()
        server.communicate(timeout=30)


def test_gunicorn_refuses_to_start_without_the_static_manifest(tmp_path):
    port = _free_port()
    env = _environment(tmp_path, port)
    result = subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", str(CONFIG)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "eventplanner.E001" in result.stderr
    assert "manage.py collectstatic --noinput" in result.stderr
