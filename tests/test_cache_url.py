"""Each CACHE_URL branch: the parsed configuration, and the db:// and redis:// caches working
for real (redis: a local redis-server, installed by .ci/run; skipped elsewhere unless
REQUIRE_REDIS=1), with /readyz naming a cache that went away."""

import os
import shutil
import socket
import subprocess
import time

import pytest
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command

from eventplanner.settings import cache_from_env

REDIS_PORT = int(os.environ.get("REDIS_TEST_PORT", "56399"))


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (None, {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}),
        ("locmem://", {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}),
        (
            "db://shared_cache",
            {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "shared_cache"},
        ),
        (
            "db://",
            {
                "BACKEND": "django.core.cache.backends.db.DatabaseCache",
                "LOCATION": "eventplanner_cache",
            },
        ),
        (
            "redis://10.0.0.5:6379/1",
            {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": "redis://10.0.0.5:6379/1",
            },
        ),
        ("dummy://", {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}),
    ],
    ids=str,
)
def test_each_cache_url_gives_its_backend(url, expected):
    assert cache_from_env(url) == expected


def test_an_unknown_cache_url_is_refused():
    with pytest.raises(ImproperlyConfigured, match="CACHE_URL must be"):
        cache_from_env("memcached://127.0.0.1")


@pytest.mark.django_db
def test_db_cache_after_createcachetable(client, settings):
    settings.CACHES = {"default": cache_from_env("db://test_shared_cache")}
    call_command("createcachetable", verbosity=0)
    cache.set("greeting", "hello", 30)
    assert cache.get("greeting") == "hello"
    assert client.get("/readyz").status_code == 200


@pytest.mark.django_db
def test_db_cache_without_its_table_is_not_ready(client, settings):
    settings.CACHES = {"default": cache_from_env("db://never_created")}
    response = client.get("/readyz")
    assert response.status_code == 503
    assert "cache: unavailable (" in response.content.decode()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("REQUIRE_REDIS"):
            pytest.fail("REQUIRE_REDIS=1 but redis-server is not installed")
        pytest.skip("redis-server not installed (apt-get install redis-server; CI installs it)")
    args = [binary, "--port", str(REDIS_PORT), "--bind", "127.0.0.1", "--save", ""]
    args += ["--appendonly", "no", "--dir", str(tmp_path_factory.mktemp("redis"))]
    server = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", REDIS_PORT), timeout=0.2).close()
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                pytest.fail(f"redis-server did not start: {server.communicate()[1]!r}")
            time.sleep(0.05)
    yield server
    server.terminate()
    server.wait(timeout=10)


@pytest.mark.django_db
def test_redis_cache_stores_and_readyz_names_it_when_it_goes_away(client, settings, redis_server):
    settings.CACHES = {"default": cache_from_env(f"redis://127.0.0.1:{REDIS_PORT}/0")}
    cache.set("greeting", "hello", 30)
    assert cache.get("greeting") == "hello"
    assert client.get("/readyz").status_code == 200
    # An address with no redis behind it, as when the cache machine is down.
    settings.CACHES = {"default": cache_from_env("redis://127.0.0.1:1/0")}
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.content.decode() == "database: ok\ncache: unavailable (ConnectionError)\n"
