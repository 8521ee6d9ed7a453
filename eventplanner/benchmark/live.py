"""Live pages under load, in the same gunicorn run as the pages: the cost of an unchanged poll
(204) of each part and of an unchanged page's repeat load (304), each against /healthz; and
the CPU that 50 open pages polling every LIVE_POLL_SECONDS take from the app's processes."""

from __future__ import annotations

import http.client
import os
import re
import shutil
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from django.db import connection

from eventplanner.benchmark.load import (
    CONNECTIONS,
    HOST,
    LoadFigures,
    PageResult,
    Server,
    wrk_load,
)
from eventplanner.benchmark.operations import selected

POLL_SHARE = 0.5  # a 204 poll: at least half of /healthz's throughput
OPEN_PAGES = 50
POLL_SECONDS = 5
CPU_GOAL = 0.05  # 50 open pages: under 5% of one core
TOKEN = re.compile(r'data-live-token="([^"]+)"')

# (name, page path, poll path); {large} is the large event's id.
PARTS = (
    ("events list", "/", "/events/live/"),
    ("dashboard", "/events/{large}/", "/events/{large}/live/"),
    ("fulfillment page", "/events/{large}/fulfillment/", "/events/{large}/fulfillment/live/"),
)


class _Response(http.client.HTTPResponse):
    body = b""  # read to its end before the connection closes


def _request(port: int, path: str, headers: dict[str, str]) -> _Response:
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    conn.response_class = _Response
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    assert isinstance(response, _Response)  # the class set above; typeshed says HTTPResponse
    response.body = response.read()
    conn.close()
    return response


def _csrf_cookie(response: http.client.HTTPResponse) -> str:
    for header in response.headers.get_all("Set-Cookie") or []:
        if header.startswith("csrftoken="):
            return header.split(";", 1)[0]
    return ""


def _wrk(port: int, path: str, headers: dict[str, str], seconds: int) -> LoadFigures:
    """Load `path` with wrk (the threaded fallback when it is missing) and report it."""
    if not shutil.which("wrk"):
        return _threads(port, path, headers, seconds)
    return wrk_load(port, path, headers, seconds)


def _threads(port: int, path: str, headers: dict[str, str], seconds: int) -> LoadFigures:
    done, started = [0], time.perf_counter()
    deadline = started + seconds

    def worker() -> None:
        while time.perf_counter() < deadline:
            _request(port, path, headers)
            done[0] += 1

    threads = [threading.Thread(target=worker) for _ in range(CONNECTIONS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    rate = done[0] / (time.perf_counter() - started)
    return {"requests": done[0], "requests_per_s": rate, "p50_ms": None, "p95_ms": None}


@dataclass(frozen=True)
class Prepared:
    name: str
    poll_path: str
    page_path: str
    token: str
    cookies: str
    etag: str


def prepare(port: int, cookie: str, large: int) -> list[Prepared]:
    """Open each page as a browser would (twice: the first sets the CSRF cookie) and keep
    its token and ETag."""
    parts = []
    for name, page, poll in PARTS:
        page, poll = page.format(large=large), poll.format(large=large)
        first = _request(port, page, {"Cookie": cookie})
        cookies = "; ".join(c for c in (cookie, _csrf_cookie(first)) if c)
        second = _request(port, page, {"Cookie": cookies})
        match = TOKEN.search(second.body.decode())
        if second.status != 200 or match is None:
            continue
        parts.append(
            Prepared(name, poll, page, match.group(1), cookies, second.getheader("ETag") or "")
        )
    return parts


def _result(
    name: str, path: str, figures: LoadFigures, ceiling: float, share: float | None
) -> PageResult:
    result = PageResult(name, path, "measured", **figures)
    result.share_of_ceiling = figures["requests_per_s"] / ceiling
    if share is not None:
        result.target = f">= {share:.0%} of the ceiling"
        result.passed = result.share_of_ceiling >= share
    return result


def _expect(port: int, path: str, headers: dict[str, str], status: int) -> bool:
    return _request(port, path, headers).status == status


def measure_conditional(
    port: int, cookie: str, large: int, ceiling: float, seconds: int, only: tuple[str, ...]
) -> list[PageResult]:
    """Each part's unchanged poll (204) and its page's repeat load (304) under the same load
    as the pages."""
    results = []
    for part in prepare(port, cookie, large):
        poll = {"Cookie": part.cookies, "X-Live-Token": part.token, "HX-Request": "true"}
        name = f"live: unchanged poll (204) of the {part.name}"
        if selected(name, only) and _expect(port, part.poll_path, poll, 204):
            figures = _wrk(port, part.poll_path, poll, seconds)
            results.append(_result(name, part.poll_path, figures, ceiling, POLL_SHARE))
        repeat = {"Cookie": part.cookies, "If-None-Match": part.etag}
        name = f"live: repeat load (304) of the {part.name}"
        if selected(name, only) and _expect(port, part.page_path, repeat, 304):
            figures = _wrk(port, part.page_path, repeat, seconds)
            # No goal: it loads the session and the user, as any signed-in page does.
            results.append(_result(name, part.page_path, figures, ceiling, None))
    return results


# ---------------------------------------------------------------------------------------
# 50 open pages
# ---------------------------------------------------------------------------------------


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its children (gunicorn's master and workers)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for child in [pid, *_children(pid)]:
        try:
            fields = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


@dataclass
class OpenPagesResult:
    pages: int
    poll_seconds: int
    window_seconds: float
    polls: int
    answers: dict[str, int]
    change_every_s: float | None
    cpu_share_of_one_core: float
    target: str
    passed: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _bump(event_id: int) -> None:
    # What any write to the event does to its counter, without the write's own cost: the
    # next poll of each of its pages fetches and renders the part again.
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE planning_eventversion SET version = version + 1 WHERE event_id = %s",
            [event_id],
        )


def _page_loop(port: int, part: Prepared, offset: float, until: float, answers: dict) -> None:
    token = part.token
    next_at = time.monotonic() + offset
    while next_at < until:
        time.sleep(max(0.0, next_at - time.monotonic()))
        headers = {"Cookie": part.cookies, "X-Live-Token": token, "HX-Request": "true"}
        response = _request(port, part.poll_path, headers)
        token = response.getheader("X-Live-Token") or token
        answers[response.status] = answers.get(response.status, 0) + 1
        next_at += POLL_SECONDS


def measure_open_pages(
    server: Server, parts: list[Prepared], window: float, change_every: float | None, large: int
) -> OpenPagesResult:
    """OPEN_PAGES pages (the parts in turn), each polling every POLL_SECONDS, staggered, for
    `window` seconds; with `change_every`, the large event changes that often. The CPU of
    the app's processes over the window, as a share of one core."""
    answers: dict[int, int] = {}
    start = time.monotonic()
    until = start + window
    threads = []
    for i in range(OPEN_PAGES):
        offset = POLL_SECONDS * i / OPEN_PAGES  # staggered, as pages opened at random would be
        args = (server.port, parts[i % len(parts)], offset, until, answers)
        threads.append(threading.Thread(target=_page_loop, args=args))
    if server.process is None:
        raise RuntimeError("measure_open_pages needs a started server")
    cpu_before = _cpu_seconds(server.process.pid)
    for thread in threads:
        thread.start()
    while change_every and time.monotonic() + change_every < until:
        time.sleep(change_every)
        _bump(large)
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - start
    share = (_cpu_seconds(server.process.pid) - cpu_before) / elapsed
    return OpenPagesResult(
        pages=OPEN_PAGES,
        poll_seconds=POLL_SECONDS,
        window_seconds=round(elapsed, 1),
        polls=sum(answers.values()),
        answers={str(k): v for k, v in sorted(answers.items())},
        change_every_s=change_every,
        cpu_share_of_one_core=share,
        target=f"< {CPU_GOAL:.0%} of one core",
        passed=share < CPU_GOAL,
    )


def measure(
    env: dict[str, str], cookie: str, large: int, seconds: int, only: tuple[str, ...]
) -> tuple[list[PageResult], list[dict[str, Any]]]:
    """Everything above in one gunicorn run; the open pages over a window of at least
    three poll intervals."""
    with Server(env) as server:
        # The ceiling again, in this server: the shares compare like with like.
        ceiling = _wrk(server.port, "/healthz", {}, seconds)["requests_per_s"]
        conditional = measure_conditional(server.port, cookie, large, ceiling, seconds, only)
        open_pages: list[dict[str, Any]] = []
        if selected("live: 50 open pages", only):
            parts = prepare(server.port, cookie, large)
            window = max(3 * POLL_SECONDS, 2 * seconds)
            for change_every in (None, float(POLL_SECONDS)):
                result = measure_open_pages(server, parts, window, change_every, large)
                open_pages.append(result.as_dict())
    return conditional, open_pages


def open_pages_table(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| 50 open pages, a poll every 5 s | polls | answers | CPU (share of one core) | target |",
        "|---|---:|---|---:|---|",
    ]
    for row in rows:
        what = (
            "nothing changes"
            if not row["change_every_s"]
            else f"the large event changes every {row['change_every_s']:g} s"
        )
        answers = ", ".join(f"{k}: {v}" for k, v in row["answers"].items())
        verdict = "ok" if row["passed"] else "MISSED"
        lines.append(
            f"| {what}, {row['window_seconds']:g} s | {row['polls']} | {answers} | "
            f"{row['cpu_share_of_one_core']:.1%} | {row['target']} {verdict} |"
        )
    return lines
