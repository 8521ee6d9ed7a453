"""The benchmark's tables (Markdown, for the terminal and the README) and growth checks."""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

import django

from eventplanner.benchmark.live import open_pages_table

READ_GROWTH_LIMIT = 10.0
PAGINATED_GROWTH_LIMIT = 1.5


def machine(connection: Any) -> dict[str, Any]:
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    if connection.vendor == "postgresql":
        version = connection.cursor().connection.info.server_version  # e.g. 150018
        database = f"PostgreSQL {version // 10000}.{version % 10000}"
    else:
        import sqlite3

        database = f"SQLite {sqlite3.sqlite_version}"
    return {
        "cores": os.cpu_count(),
        "cpu": model,
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "django": django.get_version(),
        "database": database,
    }


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if value < 10 else f"{value:.1f}"


def _verdict(passed: bool | None) -> str:
    return {True: "pass", False: "**MISS**", None: "-"}[passed]


def operations_table(operations: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| operation | service ms | floor ms | ratio | statements | target ms | result | note |",
        "|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for op in operations:
        target = f"{_ms(op['target_ms'])} ({op['rule']})" if op["target_ms"] else op["rule"]
        lines.append(
            f"| {op['operation']} | {_ms(op['service_ms'])} | {_ms(op['floor_ms'])} | "
            f"{op['ratio']:.2f} | {op['statements']} | {target} | {_verdict(op['passed'])} | "
            f"{op.get('note', '')} |"
        )
    return lines


def pages_table(pages: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| page | requests/s | p50 ms | p95 ms | share of ceiling | target | result |",
        "|---|---:|---:|---:|---:|---|---|",
    ]
    for page in pages:
        if page["status"] != "measured":
            lines.append(f"| {page['name']} (`{page['path']}`) | skipped: {page['note']} ||||||")
            continue
        lines.append(
            f"| {page['name']} | {page['requests_per_s']:.0f} | {_ms(page['p50_ms'])} | "
            f"{_ms(page['p95_ms'])} | {page['share_of_ceiling']:.0%} | {page['target'] or '-'} | "
            f"{_verdict(page['passed'])} |"
        )
    return lines


def growth(small: dict[str, Any], large: dict[str, Any]) -> list[dict[str, Any]]:
    """Each read and page at the larger scale against the smaller: reads and unpaginated pages
    may take at most 10x the time for 10x the data, paginated pages 1.5x."""
    rows = []
    before = {op["operation"]: op for op in small.get("operations", [])}
    for op in large.get("operations", []):
        if op["kind"] not in ("aggregate", "rows", "models") or op["operation"] not in before:
            continue
        old = before[op["operation"]]
        ratio = op["service_ms"] / old["service_ms"]
        rows.append(
            {
                "name": op["operation"],
                "before_ms": old["service_ms"],
                "after_ms": op["service_ms"],
                "ratio": ratio,
                "limit": READ_GROWTH_LIMIT,
                "statements": f"{old['statements']} -> {op['statements']}",
                "passed": ratio <= READ_GROWTH_LIMIT and old["statements"] == op["statements"],
            }
        )
    pages_before = {page["name"]: page for page in small.get("pages", [])}
    for page in large.get("pages", []):
        old = pages_before.get(page["name"])
        if page["status"] != "measured" or not old or old["status"] != "measured":
            continue
        limit = PAGINATED_GROWTH_LIMIT if page["paginated"] else READ_GROWTH_LIMIT
        ratio = page["p50_ms"] / old["p50_ms"]
        rows.append(
            {
                "name": f"page: {page['name']} (p50)",
                "before_ms": old["p50_ms"],
                "after_ms": page["p50_ms"],
                "ratio": ratio,
                "limit": limit,
                "statements": "-",
                "passed": ratio <= limit,
            }
        )
    return rows


def growth_table(rows: list[dict[str, Any]], small: str, large: str) -> list[str]:
    lines = [
        f"| read or page | scale {small} ms | scale {large} ms | ratio | statements | limit | "
        "result |",
        "|---|---:|---:|---:|---|---:|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['name']} | {_ms(row['before_ms'])} | {_ms(row['after_ms'])} | "
            f"{row['ratio']:.2f} | {row['statements']} | {row['limit']:g}x | "
            f"{_verdict(row['passed'])} |"
        )
    return lines


def render(report: dict[str, Any]) -> str:
    info = report["machine"]
    lines = [
        f"## {info['database']}, {report['date']}",
        "",
        f"{info['cores']} cores ({info['cpu'] or 'unknown CPU'}), {info['system']}, "
        f"Python {info['python']}, Django {info['django']}; load by {report['load_tool']}, "
        f"{report['seconds']} s per page.",
    ]
    for scale, run in report["scales"].items():
        lines += ["", f"### Scale {scale} (migrate and seed: {run['seed_seconds']:.1f} s)", ""]
        lines += operations_table(run["operations"])
        for problem in run.get("problems", []):
            lines.append(f"\n**Statements not constant:** {problem}")
        if run.get("pages"):
            lines += [""] + pages_table(run["pages"])
        if run.get("open_pages"):
            lines += [""] + open_pages_table(run["open_pages"])
    if report.get("growth"):
        scales = list(report["scales"])
        lines += ["", f"### Growth: scale {scales[0]} to scale {scales[-1]}", ""]
        lines += growth_table(report["growth"], scales[0], scales[-1])
    missed = report.get("missed", [])
    lines += ["", f"Targets missed: {len(missed)}" + (": " + "; ".join(missed) if missed else "")]
    return "\n".join(lines) + "\n"


def missed_targets(report: dict[str, Any]) -> list[str]:
    missed = []
    for scale, run in report["scales"].items():
        for op in run["operations"]:
            if op["passed"] is False:
                missed.append(f"{op['operation']} at scale {scale}")
        for page in run.get("pages", []):
            if page.get("passed") is False:
                missed.append(f"page {page['name']} at scale {scale}")
        missed += [f"{problem} at scale {scale}" for problem in run.get("problems", [])]
        missed += [
            f"50 open pages ({row['change_every_s'] or 'no'} changes) at scale {scale}"
            for row in run.get("open_pages", [])
            if not row["passed"]
        ]
    missed += [f"growth of {row['name']}" for row in report.get("growth", []) if not row["passed"]]
    return missed
