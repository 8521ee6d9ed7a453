"""Production progress is computed by one SQL query (planning/services.py,
`_PRODUCTION_PROGRESS_SQL`); these tests hold it to the ORM formulation it replaced (two
correlated SUM subqueries per target) on whichever database the suite runs on."""

import datetime
import random

import pytest
from django.db.models import OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from planning import services
from planning.models import EventProductionTarget, ProductionRun
from tests.planning.factories import (
    EventFactory,
    ProductionRunFactory,
    ProductionTargetFactory,
    RecipeFactory,
)

pytestmark = pytest.mark.django_db


def orm_progress(event_ids):
    """What the query must return, written with the ORM: per target, the sums of the event's
    own runs of its recipe, ordered by recipe name then id."""

    def total(amount):
        runs = (
            ProductionRun.objects.filter(
                event_id=OuterRef("event_id"), recipe_id=OuterRef("recipe_id")
            )
            .order_by()
            .values("event_id")
            .annotate(total=Sum(amount))
            .values("total")
        )
        return Coalesce(Subquery(runs), Value(0))

    rows = (
        EventProductionTarget.objects.filter(event_id__in=event_ids)
        .annotate(batches=total("num_batches"), produced_yield=total("actual_yield"))
        .order_by("recipe__name", "id")
        .values_list(
            "event_id",
            "recipe_id",
            "recipe__name",
            "target_batches",
            "batches",
            "produced_yield",
            "recipe__yield_unit",
            "id",
            "notes",
        )
    )
    result = {}
    for event_id, *fields in rows:
        result.setdefault(event_id, []).append(services.ProductionProgress(*fields))
    return result


@pytest.fixture
def season():
    """Three events with targets, runs of targeted and untargeted recipes, other events' runs
    and standalone runs, with fixed random amounts."""
    rng = random.Random(6)
    recipes = [
        RecipeFactory(name=f"Recipe {i:02d}", yield_per_batch=rng.randint(1, 30)) for i in range(12)
    ]
    events = [EventFactory(event_date=datetime.date(2026, 12, 1 + i)) for i in range(3)]
    for event in events:
        for recipe in rng.sample(recipes, 6):
            ProductionTargetFactory(event=event, recipe=recipe, target_batches=rng.randint(1, 9))
        for _ in range(40):
            ProductionRunFactory(
                event=event,
                recipe=rng.choice(recipes),
                num_batches=rng.randint(1, 4),
                actual_yield=rng.randint(0, 100),
            )
    for _ in range(20):
        ProductionRunFactory(event=None, recipe=rng.choice(recipes), num_batches=rng.randint(1, 4))
    EventFactory()  # an event without targets
    return events


def test_production_progress_of_each_event_matches_the_orm(atomic, season):
    expected = orm_progress([event.pk for event in season])
    for event in season:
        rows = services.get_production_progress(event.pk, connection=atomic)
        assert rows == expected[event.pk]
        assert any(row.produced_batches for row in rows)
        assert any(row.produced_batches == 0 for row in rows) or len(rows) == 6


def test_events_with_progress_matches_the_orm_for_every_event(atomic, season):
    rows = services.get_events_with_progress(when="all", connection=atomic)
    expected = orm_progress([row.event.pk for row in rows])
    assert len(rows) == 4
    for row in rows:
        assert row.production == expected.get(row.event.pk, [])


def test_events_with_progress_keeps_its_date_filter_in_the_progress(atomic, season):
    day = season[1].event_date
    rows = services.get_events_with_progress(
        when="all", date_from=day, date_to=day, connection=atomic
    )
    assert [row.event for row in rows] == [season[1]]
    assert rows[0].production == orm_progress([season[1].pk])[season[1].pk]


def test_dashboard_production_rows_match_the_orm(atomic, season):
    dashboard = services.get_event_dashboard(season[2].pk, connection=atomic)
    assert dashboard.production == orm_progress([season[2].pk])[season[2].pk]
