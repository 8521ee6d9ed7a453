"""The service operations of the benchmark, each beside its floor, with its target.

Targets (README, "Performance"), on SQLite on the 2-core reference machine:
- aggregate reads: within max(2 x floor, floor + 1 ms), in a constant number of statements;
- reads that return rows: within floor + 10 microseconds per row returned;
- per-call writes: within max(3 x floor, floor + 1.5 ms) per call;
- the 1,000-row bulk transition: within 5 x floor, in a constant number of statements.

Everything runs against a database filled by `seed_bench` and leaves it as it found it: the
writes are undone after each repetition (see `_restore_assignments`).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.db.backends.base.base import BaseDatabaseWrapper

from eventplanner.benchmark import floors
from eventplanner.benchmark.seed import event_name
from eventplanner.benchmark.timing import count_statements, median_pair
from fulfillment import services as fulfillment_services
from fulfillment.models import EventRecipientPackage, FulfillmentStatus, FulfillmentStatusChange
from planning import services as planning_services
from planning.models import Event, EventProductionTarget, Recipe

MS = 1000.0
PACKER_USERNAME = "bench-packer"


@dataclass
class Result:
    operation: str
    kind: str  # aggregate | rows | write | bulk
    service_ms: float
    floor_ms: float
    statements: int
    target_ms: float | None
    rule: str
    passed: bool | None
    rows: int | None = None
    repeats: int = 0
    note: str = ""
    group: str = ""  # results of one group must run in the same number of statements

    @property
    def ratio(self) -> float:
        return self.service_ms / self.floor_ms if self.floor_ms else float("inf")

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": round(self.ratio, 2)}


@dataclass
class Context:
    connection: BaseDatabaseWrapper
    large: int  # event 1
    small: int  # event 6
    bulk_event: int  # event 2
    packer: Any
    notes: list[str] = field(default_factory=list)


def _aggregate_target(floor_ms: float) -> tuple[float, str]:
    return max(2 * floor_ms, floor_ms + 1.0), "max(2x floor, floor + 1 ms)"


def _rows_target(floor_ms: float, rows: int) -> tuple[float, str]:
    return floor_ms + 0.010 * rows, f"floor + 10 us x {rows} rows"


def _write_target(floor_ms: float) -> tuple[float, str]:
    return max(3 * floor_ms, floor_ms + 1.5), "max(3x floor, floor + 1.5 ms) per call"


def make_context(connection: BaseDatabaseWrapper) -> Context:
    events = dict(
        Event.objects.using(connection.alias)
        .filter(name__in=[event_name(1), event_name(2), event_name(6)])
        .values_list("name", "pk")
    )
    users = get_user_model()._default_manager.db_manager(connection.alias)
    packer, created = users.get_or_create(username=PACKER_USERNAME)
    if created:
        packer.set_unusable_password()
        packer.save(using=connection.alias)
        # The role a packer has on the fulfillment page: the permission check is part of the
        # measured call, as it is for a real page.
        packer.groups.add(Group.objects.using(connection.alias).get(name="Packers"))
    return Context(
        connection=connection,
        large=events[event_name(1)],
        small=events[event_name(6)],
        bulk_event=events[event_name(2)],
        packer=packer,
    )


# ---------------------------------------------------------------------------------------
# Reads
# ---------------------------------------------------------------------------------------


def _read_operations(ctx: Context) -> list[tuple[str, str, str, Callable, Callable]]:
    c, large, small = ctx.connection, ctx.large, ctx.small
    ps, fs = planning_services, fulfillment_services
    ops: list[tuple[str, str, str, Callable, Callable]] = []
    for label, event in (("large event 1", large), ("small event 6", small)):
        ops += [
            (
                f"get_production_progress ({label})",
                "aggregate",
                "get_production_progress",
                lambda e=event: ps.get_production_progress(e, connection=c),
                lambda e=event: floors.production_progress(e, connection=c),
            ),
            (
                f"get_assembly_progress ({label})",
                "aggregate",
                "get_assembly_progress",
                lambda e=event: ps.get_assembly_progress(e, connection=c),
                lambda e=event: floors.assembly_progress(e, connection=c),
            ),
            (
                f"get_event_overall_progress ({label})",
                "aggregate",
                "get_event_overall_progress",
                lambda e=event: ps.get_event_overall_progress(e, connection=c),
                lambda e=event: floors.overall_progress(e, connection=c),
            ),
        ]
    ops += [
        (
            "get_events_with_progress('all'), 20 events",
            "aggregate",
            "get_events_with_progress",
            lambda: ps.get_events_with_progress(when="all", connection=c),
            lambda: floors.events_with_progress(connection=c),
        ),
        (
            "get_production_targets (large event 1)",
            "aggregate",
            "get_production_targets",
            lambda: ps.get_production_targets(large, connection=c),
            lambda: floors.production_targets(large, connection=c),
        ),
    ]
    for status in (None, *FulfillmentStatus.values):
        ops.append(
            (
                f"get_packages_by_status (large event 1, {status or 'all'})",
                "rows",
                "get_packages_by_status",
                lambda s=status: fs.get_packages_by_status(large, s, connection=c),
                lambda s=status: floors.packages_by_status(large, s, connection=c),
            )
        )
    return ops


def selected(name: str, only: tuple[str, ...] = ()) -> bool:
    """Whether `--only` (parts of names; empty: everything) selects this operation or page."""
    return not only or any(part in name for part in only)


def measure_reads(ctx: Context, *, budget: float = 1.0, only: tuple[str, ...] = ()) -> list[Result]:
    results = []
    # Reads need an atomic block (the service contract); one block for all of them, so the
    # timings hold only the calls.
    with transaction.atomic(using=ctx.connection.alias):
        for name, kind, group, service, floor in _read_operations(ctx):
            if not selected(name, only):
                continue
            service_s, floor_s, repeats = median_pair(service, floor, budget=budget)
            statements = count_statements(ctx.connection, service)
            service_ms, floor_ms = service_s * MS, floor_s * MS
            rows = len(service()) if kind == "rows" else None
            if kind == "rows":
                target, rule = _rows_target(floor_ms, rows)
            else:
                target, rule = _aggregate_target(floor_ms)
            results.append(
                Result(
                    operation=name,
                    kind=kind,
                    service_ms=service_ms,
                    floor_ms=floor_ms,
                    statements=statements,
                    target_ms=target,
                    rule=rule,
                    passed=service_ms <= target,
                    rows=rows,
                    repeats=repeats,
                    group=group,
                )
            )
    return results


# ---------------------------------------------------------------------------------------
# Writes: one transaction per call, as a page does
# ---------------------------------------------------------------------------------------


def _timed_calls(ctx: Context, calls: list[Callable[[], Any]]) -> float:
    """Seconds per call, each call in its own transaction."""
    alias = ctx.connection.alias
    started = time.perf_counter()
    for call in calls:
        with transaction.atomic(using=alias):
            call()
    return (time.perf_counter() - started) / len(calls)


def _statements_per_call(ctx: Context, calls: list[Callable[[], Any]]) -> float:
    alias = ctx.connection.alias

    def run() -> None:
        for call in calls:
            with transaction.atomic(using=alias):
                call()

    return count_statements(ctx.connection, run) / len(calls)


def _repeat_writes(
    ctx: Context,
    service_calls: Callable[[int], list[Callable[[], Any]]],
    floor_calls: Callable[[int], list[Callable[[], Any]]],
    restore: Callable[[], None],
    repeats: int,
) -> tuple[float, float, float]:
    """Median seconds per call over `repeats` alternating repetitions, restoring the data after
    each; the first repetition of each is a warm-up that counts the statements instead."""
    statements = _statements_per_call(ctx, service_calls(0))
    restore()
    _timed_calls(ctx, floor_calls(0))
    restore()
    service, floor = [], []
    for repetition in range(1, repeats + 1):
        service.append(_timed_calls(ctx, service_calls(repetition)))
        restore()
        floor.append(_timed_calls(ctx, floor_calls(repetition)))
        restore()
    return statistics.median(service), statistics.median(floor), statements


def measure_set_production_target(ctx: Context, *, calls: int = 1000, repeats: int = 5) -> Result:
    """500 updates of existing targets and 500 first writes, each in its own transaction."""
    alias, c = ctx.connection.alias, ctx.connection
    targets = EventProductionTarget.objects.using(alias)
    half = calls // 2
    existing = list(
        targets.order_by("event_id", "recipe_id").values_list("pk", "event_id", "recipe_id")[:half]
    )
    original = dict(targets.values_list("pk", "target_batches"))
    targeted = set(targets.values_list("event_id", "recipe_id"))
    recipes = list(Recipe.objects.using(alias).order_by("pk").values_list("pk", flat=True))
    events = list(Event.objects.using(alias).order_by("-pk").values_list("pk", flat=True))
    new = [
        (event, recipe) for event in events for recipe in recipes if (event, recipe) not in targeted
    ][:half]
    last_pk = max(original)

    def pairs(repetition: int) -> list[tuple[int, int, int]]:
        amount = 500 + repetition
        return [(e, r, amount) for _, e, r in existing] + [(e, r, amount) for e, r in new]

    def service_calls(repetition: int) -> list[Callable[[], Any]]:
        return [
            lambda e=e, r=r, a=a: planning_services.set_production_target(e, r, a, connection=c)
            for e, r, a in pairs(repetition)
        ]

    def floor_calls(repetition: int) -> list[Callable[[], Any]]:
        return [
            lambda e=e, r=r, a=a: floors.upsert_production_target(e, r, a, connection=c)
            for e, r, a in pairs(repetition)
        ]

    def restore() -> None:
        with transaction.atomic(using=alias):
            targets.filter(pk__gt=last_pk).delete()
            rows = list(targets.filter(pk__in=[pk for pk, _, _ in existing]))
            for row in rows:
                row.target_batches = original[row.pk]
            targets.bulk_update(rows, ["target_batches"])

    service_s, floor_s, statements = _repeat_writes(
        ctx, service_calls, floor_calls, restore, repeats
    )
    return _write_result(
        f"set_production_target x {calls} ({half} updates, {calls - half} inserts)",
        service_s,
        floor_s,
        statements,
        repeats,
        "floor: INSERT ... ON CONFLICT DO UPDATE",
    )


def _write_result(name, service_s, floor_s, statements, repeats, note) -> Result:
    service_ms, floor_ms = service_s * MS, floor_s * MS
    target, rule = _write_target(floor_ms)
    return Result(
        operation=name,
        kind="write",
        service_ms=service_ms,
        floor_ms=floor_ms,
        statements=round(statements),
        target_ms=target,
        rule=rule,
        passed=service_ms <= target,
        repeats=repeats,
        note=note,
    )


def _assignment_snapshot(alias: str, ids: list[int]) -> list[EventRecipientPackage]:
    return list(EventRecipientPackage.objects.using(alias).filter(pk__in=ids))


def _restore_assignments(alias: str, snapshot: list[EventRecipientPackage], last_change: int):
    """Put the assignments back as they were and drop the history rows the benchmark wrote.

    The history is append-only for the application; only the benchmark, on its own seeded
    database, removes the rows it has just added so that every repetition starts alike.
    """
    history = FulfillmentStatusChange._meta.db_table
    with transaction.atomic(using=alias):
        EventRecipientPackage.objects.using(alias).bulk_update(
            snapshot, ["fulfillment_status", "status_changed_at", "updated_at"], batch_size=500
        )
        with transaction.get_connection(alias).cursor() as cursor:
            cursor.execute(f"DELETE FROM {history} WHERE id > %s", [last_change])


def _last_change(alias: str) -> int:
    return (
        FulfillmentStatusChange.objects.using(alias)
        .order_by("-pk")
        .values_list("pk", flat=True)
        .first()
        or 0
    )


def measure_update_fulfillment_status(
    ctx: Context, *, calls: int = 1000, repeats: int = 5
) -> Result:
    """500 pending -> ready and 500 ready -> delivered, one transaction each, by a packer from
    the page: permission check, row lock, re-check, update, history row."""
    alias, c = ctx.connection.alias, ctx.connection
    half = calls // 2
    rows = EventRecipientPackage.objects.using(alias).filter(event_id=ctx.large).order_by("pk")
    pending = list(
        rows.filter(fulfillment_status=FulfillmentStatus.PENDING).values_list("pk", flat=True)[
            :half
        ]
    )
    ready = list(
        rows.filter(fulfillment_status=FulfillmentStatus.READY).values_list("pk", flat=True)[
            : calls - half
        ]
    )
    moves = [(pk, FulfillmentStatus.READY, FulfillmentStatus.PENDING) for pk in pending] + [
        (pk, FulfillmentStatus.DELIVERED, FulfillmentStatus.READY) for pk in ready
    ]
    snapshot = _assignment_snapshot(alias, pending + ready)
    last_change = _last_change(alias)

    def service_calls(_: int) -> list[Callable[[], Any]]:
        return [
            lambda pk=pk, new=new, seen=seen: fulfillment_services.update_fulfillment_status(
                pk, new, expected_status=seen, changed_by=ctx.packer, connection=c
            )
            for pk, new, seen in moves
        ]

    def floor_calls(_: int) -> list[Callable[[], Any]]:
        return [
            lambda pk=pk, new=new: floors.set_status(pk, new, connection=c) for pk, new, _ in moves
        ]

    service_s, floor_s, statements = _repeat_writes(
        ctx,
        service_calls,
        floor_calls,
        lambda: _restore_assignments(alias, snapshot, last_change),
        repeats,
    )
    return _write_result(
        f"update_fulfillment_status x {calls} ({half} to ready, {calls - half} to delivered)",
        service_s,
        floor_s,
        statements,
        repeats,
        "by a packer; floor: a bare UPDATE",
    )


def measure_bulk_update(ctx: Context, *, repeats: int = 5) -> list[Result]:
    """The pending rows of event 2 moved to ready in one call (one transaction), and the same
    call on a tenth of them to show that the statement count does not grow."""
    alias, c = ctx.connection.alias, ctx.connection
    ids = list(
        EventRecipientPackage.objects.using(alias)
        .filter(event_id=ctx.bulk_event, fulfillment_status=FulfillmentStatus.PENDING)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    snapshot = _assignment_snapshot(alias, ids)
    last_change = _last_change(alias)

    def restore() -> None:
        _restore_assignments(alias, snapshot, last_change)

    def service(selection: list[int]) -> None:
        with transaction.atomic(using=alias):
            fulfillment_services.bulk_update_fulfillment_status(
                selection, FulfillmentStatus.READY, changed_by=ctx.packer, connection=c
            )

    def floor(selection: list[int]) -> None:
        with transaction.atomic(using=alias):
            floors.set_status_many(selection, FulfillmentStatus.READY, connection=c)

    results = []
    for selection in (ids, ids[: max(1, len(ids) // 10)]):
        statements = count_statements(c, lambda s=selection: service(s))
        restore()
        service_times, floor_times = [], []
        for _ in range(repeats):
            started = time.perf_counter()
            service(selection)
            service_times.append(time.perf_counter() - started)
            restore()
            started = time.perf_counter()
            floor(selection)
            floor_times.append(time.perf_counter() - started)
            restore()
        service_ms = statistics.median(service_times) * MS
        floor_ms = statistics.median(floor_times) * MS
        full = selection is ids
        results.append(
            Result(
                operation=f"bulk_update_fulfillment_status, {len(selection)} pending rows",
                kind="bulk",
                service_ms=service_ms,
                floor_ms=floor_ms,
                statements=statements,
                # The target is set for the full selection; the tenth only shows that the
                # statement count does not depend on the number of rows.
                target_ms=5 * floor_ms if full else None,
                rule="5x floor" if full else "same statements as the full selection",
                passed=service_ms <= 5 * floor_ms if full else None,
                rows=len(selection),
                repeats=repeats,
                note="floor: one UPDATE ... WHERE id IN (...)",
                group="bulk_update_fulfillment_status",
            )
        )
    return results


def check_constant_statements(results: list[Result]) -> list[str]:
    """Each group of results (one operation at different sizes) must agree on its statement
    count; returns a message for each group that does not."""
    problems = []
    groups: dict[str, set[int]] = {}
    for result in results:
        if result.group:
            groups.setdefault(result.group, set()).add(result.statements)
    for group, counts in groups.items():
        if len(counts) > 1:
            problems.append(f"{group}: statement count varies with the data: {sorted(counts)}")
    return problems
