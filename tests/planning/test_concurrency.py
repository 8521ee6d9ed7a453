"""Concurrent first writes of a target, and runs recorded while progress is read, on
PostgreSQL (SQLite serialises writers)."""

import threading
import time

from django.db import connection, transaction
from django.db.models import Sum

from planning import services
from planning.models import EventProductionTarget, ProductionRun
from tests.concurrency import real_concurrency, run_concurrently
from tests.planning.factories import EventFactory, ProductionTargetFactory, RecipeFactory

pytestmark = real_concurrency("real concurrency needs PostgreSQL")

THREADS = 16


def test_sixteen_concurrent_first_writes_end_with_one_row_and_no_error():
    event, recipe = EventFactory(), RecipeFactory()

    def call(i):
        with transaction.atomic():
            return services.set_production_target(
                event.pk, recipe.pk, i + 1, connection=connection
            ).pk

    results = run_concurrently(THREADS, call)

    assert [kind for kind, _ in results] == ["ok"] * THREADS, results
    assert len({pk for _, pk in results}) == 1
    target = EventProductionTarget.objects.get()
    assert 1 <= target.target_batches <= THREADS


def test_control_a_check_then_insert_upsert_fails_under_the_same_load():
    event, recipe = EventFactory(), RecipeFactory()

    def naive_upsert(i):
        with transaction.atomic():
            found = EventProductionTarget.objects.filter(event=event, recipe=recipe).first()
            time.sleep(0.05)
            if found is None:
                EventProductionTarget.objects.create(
                    event=event, recipe=recipe, target_batches=i + 1
                )

    results = run_concurrently(THREADS, naive_upsert)

    assert any(kind == "error" for kind, _ in results)
    assert EventProductionTarget.objects.count() == 1


# A run recorded while progress is read: the read sees the run entirely (its batches, its
# yield, the completeness it brings) or not at all.

YIELD = 24


def _progress_while_runs_are_recorded(read, runs=30):
    """One thread records `runs` runs (1 to 3 batches each, yield = batches x 24), each in
    its own transaction; three others read progress with `read(event_id, recipe_id)` until
    the writer is done. Returns every (batches, yield, extra) the readers saw."""
    event, recipe = EventFactory(), RecipeFactory(yield_per_batch=YIELD)
    services_target = ProductionTargetFactory(event=event, recipe=recipe, target_batches=40)
    done = threading.Event()
    seen = []

    def call(i):
        if i == 0:
            try:
                for n in range(runs):
                    with transaction.atomic():
                        services.record_production_run(
                            recipe.pk, n % 3 + 1, event_id=event.pk, connection=connection
                        )
                    time.sleep(0.003)
            finally:
                done.set()
            return None
        while not done.is_set():
            seen.append(read(event.pk, recipe.pk))
        return None

    results = run_concurrently(4, call)
    assert all(kind == "ok" for kind, _ in results), results
    assert services_target.pk
    return seen


def _dashboard_read(event_id, recipe_id):
    with transaction.atomic():
        dashboard = services.get_event_dashboard(event_id, connection=connection)
        listed = services.get_events_with_progress(connection=connection, when="all")
    row = dashboard.production[0]
    overall = dashboard.overall
    listed_row = next(r for r in listed if r.event.pk == event_id).production[0]
    assert overall.production_complete_count == int(row.is_complete)
    assert row.is_complete == (row.produced_batches >= row.target_batches)
    assert row.progress_pct == row.produced_batches / row.target_batches * 100
    return row.produced_batches, row.produced_yield, listed_row


def test_a_run_recorded_while_progress_is_read_is_seen_entirely_or_not_at_all():
    seen = _progress_while_runs_are_recorded(_dashboard_read)

    assert len(seen) > 10
    for batches, produced_yield, listed_row in seen:
        assert produced_yield == batches * YIELD
        assert listed_row.produced_yield == listed_row.produced_batches * YIELD
    assert len({batches for batches, _, _ in seen}) > 2  # the readers did see runs arrive


def _split_read(event_id, recipe_id):
    """A deliberately naive progress read: batches and yield in separate statements."""
    runs = ProductionRun.objects.filter(event_id=event_id, recipe_id=recipe_id)
    with transaction.atomic():
        batches = runs.aggregate(n=Sum("num_batches"))["n"] or 0
        time.sleep(0.002)
        produced_yield = runs.aggregate(n=Sum("actual_yield"))["n"] or 0
    return batches, produced_yield, None


def test_control_a_progress_read_in_two_statements_sees_half_a_run():
    seen = _progress_while_runs_are_recorded(_split_read, runs=60)

    assert any(produced_yield != batches * YIELD for batches, produced_yield, _ in seen)
