"""Run a function in N real threads at once, each on its own database connection."""

import threading
from collections.abc import Callable
from typing import Any

from django.db import connections


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
