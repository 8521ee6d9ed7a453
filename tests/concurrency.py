"""Run a function in N real threads at once, each on its own database connection."""

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connections


def real_concurrency(reason: str) -> list[pytest.MarkDecorator]:
    """The marks of a module of concurrency tests: committed transactions on real
    connections, run on PostgreSQL only, because SQLite serialises writers and would hide a
    missing lock (`reason` says what this module needs)."""
    return [
        pytest.mark.postgres,
        pytest.mark.django_db(transaction=True),
        pytest.mark.skipif(
            "not __import__('django.db').db.connection.features.has_select_for_update",
            reason=reason,
        ),
    ]


def run_concurrently(n: int, func: Callable[[int], Any]) -> list[tuple[str, Any]]:
    """Start n threads that call func(i) together; return ("ok", result) or ("error", exc)
    for each, in thread order."""
    barrier = threading.Barrier(n)
    results: list[tuple[str, Any]] = [("missing", None)] * n

    def worker(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[i] = ("ok", func(i))
        except Exception as exc:
            results[i] = ("error", exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results
