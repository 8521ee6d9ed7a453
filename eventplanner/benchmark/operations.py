"""The service operations of the benchmark, each beside its floor, with its target.

Targets (README, "Performance"), on SQLite and PostgreSQL on the 2-core reference machine:
- aggregate reads: within max(2 x floor, floor + 1 ms), in a constant number of statements;
- the contract's list reads, which return model objects: within 1.15 x the idiomatic ORM read
  of the same objects (select_related, ordered), measured in the same run;
- the pages' row reads: within floor + 10 microseconds per row returned;
- per-call writes: within floor + 1 ms per call, in at most 2 statements besides the
  transaction's own;
- the 1,000-row bulk transition: within 5 x floor, in a constant number of statements.

Everything runs against a database filled by `seed_bench` and leaves it as it found it: the
writes are undone after each repetition (see `_restore_assignments`).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.db.backends.base.base import BaseDatabaseWrapper

from eventplanner.benchmark import floors
from eventplanner.benchmark.seed import event_name
from eventplanner.benchmark.timing import count_statements, median_times
from fulfillment import services as fulfillment_services
from fulfillment.models import EventRecipientPackage, FulfillmentStatus, FulfillmentStatusChange
from planning import services as planning_services
from planning.models import Event, EventProductionTarget, Recipe

MS = 1000.0

# The desktop predecessor (bake-tracker, SQLAlchemy on SQLite) on the same workload and
# dataset shape, measured on this kind of machine: what a household moving in compares with.
PREDECESSOR = {
    "set_production_target": "bake-tracker: 1.197 ms per call (1,000 upserts in 1,197 ms)",
    "update_fulfillment_status": "bake-tracker: 4.796 ms per call (1,000 in 4,796 ms)",
    "get_event_overall_progress (large event 1)": "bake-tracker: 110-173 ms",
    "get_events_with_progress('all'), 20 events": "bake-tracker: 2,030-2,470 ms",
}
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


# A per-call write: one transaction, at most this many statements besides the transaction's
# own (an existence check and the write that returns its row; the row lock with the permission,
# and the status with its history).
WRITE_STATEMENTS = 2


def _write_target(floor_ms: float) -> tuple[float, str]:
    return floor_ms + 1.0, f"floor + 1 ms per call, <= {WRITE_STATEMENTS} statements"


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

# The contract's list reads return model objects. Building them is the contract's price, so
# they are held to the idiomatic ORM read of the same objects in the same run, not to SQL.
MODEL_READ_MARGIN = 1.15


@dataclass(frozen=True)
class ReadOp:
    name: str
    kind: str  # aggregate | rows | models
    group: str
    service: Callable[[], Any]
    floor: Callable[[], Any]
    # For "models": the same objects read the idiomatic way (select_related, ordered).
    reference: Callable[[], Any] | None = None


def _idiomatic_targets(event: int, alias: str) -> Callable[[], list]:
    return lambda: list(
        EventProductionTarget.objects.using(alias)
        .filter(event_id=event)
        .select_related("recipe")
        .order_by("recipe__name", "id")
    )


def _idiomatic_assignments(event: int, status: str | None, alias: str) -> Callable[[], list]:
    def read() -> list:
        rows = EventRecipientPackage.objects.using(alias).filter(event_id=event)
        if status:
            rows = rows.filter(fulfillment_status=status)
        return list(rows.select_related("recipient", "package").order_by("recipient__name", "id"))

    return read


def _progress_operations(ctx: Context) -> list[ReadOp]:
    c, ps, ops = ctx.connection, planning_services, []
    for label, event in (("large event 1", ctx.large), ("small event 6", ctx.small)):
        for read, floor in (
            (ps.get_production_progress, floors.production_progress),
            (ps.get_assembly_progress, floors.assembly_progress),
            (ps.get_event_overall_progress, floors.overall_progress),
        ):
            ops.append(
                ReadOp(
                    f"{read.__name__} ({label})",
                    "aggregate",
                    read.__name__,
                    partial(read, event, connection=c),
                    partial(floor, event, connection=c),
                )
            )
    ops.append(
        ReadOp(
            "get_events_with_progress('all'), 20 events",
            "aggregate",
            "get_events_with_progress",
            lambda: ps.get_events_with_progress(when="all", connection=c),
            lambda: floors.events_with_progress(connection=c),
        )
    )
    return ops


def _models_and_rows(
    ctx: Context,
    label: str,
    services: tuple[Callable, Callable],
    args: tuple,
    floor: Callable[[], Any],
    reference: Callable[[], Any],
) -> list[ReadOp]:
    """A list the contract returns as model objects and a page reads as light rows: the two
    services, called with `args`, each measured against the same floor."""
    c = ctx.connection
    read_models, read_rows = services
    return [
        ReadOp(
            f"{read_models.__name__} ({label})",
            "models",
            read_models.__name__,
            partial(read_models, *args, connection=c),
            floor,
            reference,
        ),
        ReadOp(
            f"{read_rows.__name__} ({label})",
            "rows",
            read_rows.__name__,
            partial(read_rows, *args, connection=c),
            floor,
        ),
    ]


def _list_operations(ctx: Context) -> list[ReadOp]:
    c, large, alias = ctx.connection, ctx.large, ctx.connection.alias
    ps, fs = planning_services, fulfillment_services
    ops = _models_and_rows(
        ctx,
        "large event 1",
        (ps.get_production_targets, ps.list_production_target_rows),
        (large,),
        partial(floors.production_targets, large, connection=c),
        _idiomatic_targets(large, alias),
    )
    for status in (None, *FulfillmentStatus.values):
        ops += _models_and_rows(
            ctx,
            f"large event 1, {status or 'all'}",
            (fs.get_packages_by_status, fs.list_assignment_rows),
            (large, status),
            partial(floors.packages_by_status, large, status, connection=c),
            _idiomatic_assignments(large, status, alias),
        )
    return ops


def _read_operations(ctx: Context) -> list[ReadOp]:
    return _progress_operations(ctx) + _list_operations(ctx)


def selected(name: str, only: tuple[str, ...] = ()) -> bool:
    """Whether `--only` (parts of names; empty: everything) selects this operation or page."""
    return not only or any(part in name for part in only)


def _measure_read(ctx: Context, op: ReadOp, budget: float) -> Result:
    calls = [op.service, op.floor] + ([op.reference] if op.reference else [])
    medians, repeats = median_times(*calls, budget=budget)
    service_ms, floor_ms = medians[0] * MS, medians[1] * MS
    rows = len(op.service()) if op.kind in ("rows", "models") else None
    note = PREDECESSOR.get(op.name, "")
    if op.kind == "models":
        reference_ms = medians[2] * MS
        target = MODEL_READ_MARGIN * reference_ms
        rule = f"{MODEL_READ_MARGIN:g}x the idiomatic ORM read, {reference_ms:.3g} ms"
        note = f"{service_ms / reference_ms:.2f}x the idiomatic ORM read"
    elif op.kind == "rows" and rows is not None:
        target, rule = _rows_target(floor_ms, rows)
    else:
        target, rule = _aggregate_target(floor_ms)
    return Result(
        operation=op.name,
        kind=op.kind,
        service_ms=service_ms,
        floor_ms=floor_ms,
        statements=count_statements(ctx.connection, op.service),
        target_ms=target,
        rule=rule,
        passed=service_ms <= target,
        rows=rows,
        repeats=repeats,
        note=note,
        group=op.group,
    )


def measure_reads(ctx: Context, *, budget: float = 1.0, only: tuple[str, ...] = ()) -> list[Result]:
    # Reads need an atomic block (the service contract); one block for all of them, so the
    # timings hold only the calls.
    with transaction.atomic(using=ctx.connection.alias):
        return [
            _measure_read(ctx, op, budget)
            for op in _read_operations(ctx)
            if selected(op.name, only)
        ]


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
            partial(planning_services.set_production_target, e, r, a, connection=c)
            for e, r, a in pairs(repetition)
        ]

    def floor_calls(repetition: int) -> list[Callable[[], Any]]:
        return [
            partial(floors.upsert_production_target, e, r, a, connection=c)
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
        f"floor: INSERT ... ON CONFLICT DO UPDATE; {PREDECESSOR['set_production_target']}",
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
        passed=service_ms <= target and round(statements) <= WRITE_STATEMENTS,
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
            partial(
                fulfillment_services.update_fulfillment_status,
                pk,
                new,
                expected_status=seen,
                changed_by=ctx.packer,
                connection=c,
            )
            for pk, new, seen in moves
        ]

    def floor_calls(_: int) -> list[Callable[[], Any]]:
        return [partial(floors.set_status, pk, new, connection=c) for pk, new, _ in moves]

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
        f"by a packer; floor: a bare UPDATE; {PREDECESSOR['update_fulfillment_status']}",
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
        statements = count_statements(c, partial(service, selection))
        restore()
        service_ms, floor_ms = _alternate(
            partial(service, selection), partial(floor, selection), restore, repeats
        )
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


def _alternate(
    service: Callable[[], Any], floor: Callable[[], Any], restore: Callable[[], None], repeats: int
) -> tuple[float, float]:
    """Median milliseconds of the service and of its floor, run in turn, the data restored
    after each run."""
    service_times: list[float] = []
    floor_times: list[float] = []
    for _ in range(repeats):
        for call, times in ((service, service_times), (floor, floor_times)):
            started = time.perf_counter()
            call()
            times.append(time.perf_counter() - started)
            restore()
    return statistics.median(service_times) * MS, statistics.median(floor_times) * MS


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
