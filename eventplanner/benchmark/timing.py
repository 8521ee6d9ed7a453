"""Timing and statement counting for the benchmark."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper

TRANSACTION_CONTROL = ("BEGIN", "SAVEPOINT", "RELEASE", "ROLLBACK", "COMMIT")


class StatementCounter:
    """Counts the SQL statements sent through a connection (`connection.execute_wrapper`),
    leaving out transaction control, which SQLite sends as statements and PostgreSQL does not:
    the counts compare across databases."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        if not sql.lstrip().upper().startswith(TRANSACTION_CONTROL):
            self.count += 1
        return execute(sql, params, many, context)


def count_statements(connection: BaseDatabaseWrapper, call: Callable[[], Any]) -> int:
    counter = StatementCounter()
    with connection.execute_wrapper(counter):
        call()
    return counter.count


def median_times(
    *calls: Callable[[], Any],
    warmup: int = 3,
    min_repeat: int = 7,
    max_repeat: int = 300,
    budget: float = 1.0,
) -> tuple[list[float], int]:
    """Median seconds per call of each callable, timed in turn so that noise from other work
    on the machine falls on all alike. Repeats at least `min_repeat` times and then until
    `budget` seconds have passed or `max_repeat` is reached. Returns (medians, repeats)."""
    for _ in range(warmup):
        for call in calls:
            call()
    times: list[list[float]] = [[] for _ in calls]
    started = time.perf_counter()
    while len(times[0]) < max_repeat and (
        len(times[0]) < min_repeat or time.perf_counter() - started < budget
    ):
        for call, spent in zip(calls, times, strict=True):
            t0 = time.perf_counter()
            call()
            spent.append(time.perf_counter() - t0)
    return [statistics.median(spent) for spent in times], len(times[0])
