"""Concurrent first writes of a target, on PostgreSQL (SQLite serialises writers)."""

import time

import pytest
from django.db import connection, transaction

from planning import services
from planning.models import EventProductionTarget
from tests.concurrency import run_concurrently
from tests.planning.factories import EventFactory, RecipeFactory

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        "not __import__('django.db').db.connection.features.has_select_for_update",
        reason="real concurrency needs PostgreSQL",
    ),
]

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
