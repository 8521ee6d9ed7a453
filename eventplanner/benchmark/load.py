"""Pages under load: the app under gunicorn (2 workers) on 127.0.0.1, a bounded load per page
(wrk when installed, otherwise a small threaded client), requests/s and p50/p95 latency, and
the ratio to the trivial page (/healthz, the ceiling)."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, NotRequired, TypedDict

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.backends.base.base import BaseDatabaseWrapper
from django.test import Client

from eventplanner.benchmark.operations import selected

HOST = "127.0.0.1"
BENCH_USERNAME = "bench-planner"
CONNECTIONS = 4  # enough to keep both workers busy; wrk itself shares the two cores


class LoadFigures(TypedDict):
    """What one bounded load of a path reports; the fields of PageResult it fills."""

    requests: int
    requests_per_s: float
    p50_ms: float | None  # None from a client that does not time each request
    p95_ms: float | None
    errors: NotRequired[int]


@dataclass(frozen=True)
class Page:
    name: str
    path: str  # may name {large}: the id of the large event 1
    login: bool
    min_share_of_ceiling: float | None = None  # target: at least this share of the ceiling
    paginated: bool = False  # growth target: 1.5x instead of 10x


# The pages the benchmark loads. A page that is not built yet answers 404 and is reported as
# skipped; the first row is the ceiling.
PAGES = (
    Page("trivial page /healthz (ceiling)", "/healthz", login=False),
    Page("events list", "/", login=True),
    Page("large event dashboard", "/events/{large}/", login=True, min_share_of_ceiling=0.25),
    Page(
        "fulfillment list, one page",
        "/events/{large}/fulfillment/",
        login=True,
        min_share_of_ceiling=0.25,
        paginated=True,
    ),
)


@dataclass
class PageResult:
    name: str
    path: str
    status: str  # measured | skipped
    note: str = ""
    requests_per_s: float | None = None
    p50_ms: float | None = None
    p95_ms: float | None = None
    requests: int = 0
    errors: int = 0
    share_of_ceiling: float | None = None
    target: str = ""
    passed: bool | None = None
    paginated: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def session_cookie(connection: BaseDatabaseWrapper) -> str:
    """A signed-in session for the benchmark's planner (a superuser, so every page is open)."""
    users = get_user_model()._default_manager.db_manager(connection.alias)
    user = users.filter(username=BENCH_USERNAME).first()
    if user is None:
        user = users.create_superuser(BENCH_USERNAME, "bench@example.com", None)
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


class Server:
    """gunicorn with 2 sync workers on a free local port, for the duration of a `with`."""

    def __init__(self, env: dict[str, str], workers: int = 2) -> None:
        self.port = _free_port()
        self.env = env
        self.workers = workers
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> Server:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "eventplanner.wsgi:application",
                f"--workers={self.workers}",
                f"--bind={HOST}:{self.port}",
                "--log-level=warning",
            ],
            cwd=settings.BASE_DIR,
            env=self.env,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("gunicorn exited while starting")
            try:
                if get(self.port, "/healthz")[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.2)
        self.__exit__()
        raise RuntimeError("gunicorn did not answer within 30 s")

    def __exit__(self, *exc: object) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def get(port: int, path: str, cookie: str = "") -> tuple[int, str]:
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    try:
        conn.request("GET", path, headers={"Cookie": cookie} if cookie else {})
        response = conn.getresponse()
        response.read()
        return response.status, response.getheader("Location") or ""
    finally:
        conn.close()


WRK_REPORT = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "p50_us": %d, "p95_us": %d, ' ..
    '"errors": %d, "bad_status": %d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    e.connect + e.read + e.write + e.timeout, e.status))
end
"""


def _load_with_wrk(port: int, path: str, cookie: str, seconds: int) -> LoadFigures:
    return wrk_load(port, path, {"Cookie": cookie} if cookie else {}, seconds)


def wrk_load(port: int, path: str, headers: dict[str, str], seconds: int) -> LoadFigures:
    """Load `path` with wrk for `seconds` and report requests/s, p50, p95 and errors."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_REPORT)
    try:
        command = ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{seconds}s", "--timeout=10s"]
        command += ["-s", script.name]
        for name, value in headers.items():
            command += ["-H", f"{name}: {value}"]
        output = subprocess.run(
            [*command, f"http://{HOST}:{port}{path}"],
            capture_output=True,
            text=True,
            check=True,
            timeout=seconds + 30,
        ).stdout
    finally:
        os.unlink(script.name)
    report = json.loads([line for line in output.splitlines() if line.startswith("{")][-1])
    return {
        "requests": report["requests"],
        "requests_per_s": report["requests"] / (report["duration_us"] / 1e6),
        "p50_ms": report["p50_us"] / 1000,
        "p95_ms": report["p95_us"] / 1000,
        "errors": report["errors"] + report["bad_status"],
    }


def _load_with_threads(port: int, path: str, cookie: str, seconds: int) -> LoadFigures:
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def worker() -> None:
        mine, failed = [], 0
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                status, _ = get(port, path, cookie)
            except OSError:
                status = 0
            if status == 200:
                mine.append(time.perf_counter() - started)
            else:
                failed += 1
        with lock:
            latencies.extend(mine)
            errors[0] += failed

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(CONNECTIONS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    latencies.sort()
    quantiles = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else latencies * 99
    return {
        "requests": len(latencies),
        "requests_per_s": len(latencies) / elapsed,
        "p50_ms": quantiles[49] * 1000,
        "p95_ms": quantiles[94] * 1000,
        "errors": errors[0],
    }


def load_tool() -> str:
    return "wrk" if shutil.which("wrk") else "threaded client"


def measure_pages(
    env: dict[str, str],
    cookie: str,
    large_event: int,
    *,
    seconds: int = 10,
    only: tuple[str, ...] = (),
) -> list[PageResult]:

    results: list[PageResult] = []
    load = _load_with_wrk if shutil.which("wrk") else _load_with_threads
    with Server(env) as server:
        ceiling: float | None = None
        for index, page in enumerate(PAGES):
            # The ceiling (first row) is always measured: shares are relative to it.
            if index and not selected(page.name, only):
                continue
            path = page.path.format(large=large_event)
            headers = cookie if page.login else ""
            status, location = get(server.port, path, headers)
            if status != 200:
                if location:
                    note = f"HTTP {status} to {location}: the page is not built in this version"
                elif status == 404:
                    note = "HTTP 404: not built in this version"
                else:
                    note = f"HTTP {status}"
                results.append(PageResult(page.name, path, "skipped", note=note))
                continue
            figures = load(server.port, path, headers, seconds)
            result = PageResult(page.name, path, "measured", paginated=page.paginated, **figures)
            if ceiling is None:
                ceiling = figures["requests_per_s"]
            result.share_of_ceiling = figures["requests_per_s"] / ceiling
            if page.min_share_of_ceiling is not None:
                result.target = f">= {page.min_share_of_ceiling:.0%} of the ceiling"
                result.passed = result.share_of_ceiling >= page.min_share_of_ceiling
            results.append(result)
    return results


def server_env(database_url: str) -> dict[str, str]:
    """The environment of a production-like process on the benchmark database."""
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "DEBUG": "false",
        "SECRET_KEY": os.environ.get("SECRET_KEY", "benchmark-only-" + "x" * 40),
        "ALLOWED_HOSTS": f"{HOST},localhost",
        # Plain http on 127.0.0.1, as behind the TLS proxy: no redirect to https (every page
        # would answer 301) and no https-only cookies.
        "SECURE_SSL_REDIRECT": "false",
        "SECURE_COOKIES": "false",
        "PYTHONPATH": str(Path(settings.BASE_DIR)),
    }
