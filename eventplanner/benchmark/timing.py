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


def median_pair(
    first: Callable[[], Any],
    second: Callable[[], Any],
    *,
    warmup: int = 3,
    min_repeat: int = 7,
    max_repeat: int = 300,
    budget: float = 1.0,
) -> tuple[float, float, int]:
    """Median seconds per call of two callables, timed alternately so that noise from other
    work on the machine falls on both alike. Repeats at least `min_repeat` times and then until
    `budget` seconds have passed or `max_repeat` is reached. Returns (first, second, repeats)."""
    for _ in range(warmup):
        first()
        second()
    a: list[float] = []
    b: list[float] = []
    started = time.perf_counter()
    while len(a) < max_repeat and (len(a) < min_repeat or time.perf_counter() - started < budget):
        t0 = time.perf_counter()
        first()
        t1 = time.perf_counter()
        second()
        t2 = time.perf_counter()
        a.append(t1 - t0)
        b.append(t2 - t1)
    return statistics.median(a), statistics.median(b), len(a)
