"""The plans of the reads that must not sort or scan all of an event's rows, on SQLite (the
default database), where a missing index shows as a full scan or a temporary B-tree."""

import pytest
from django.db import connection

from planning.models import AssemblyRun, ProductionRun
from tests.planning.factories import EventFactory

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's plan format"),
]


@pytest.mark.parametrize(
    ("model", "moment", "index"),
    [
        (ProductionRun, "produced_at", "prodrun_event_latest_idx"),
        (AssemblyRun, "assembled_at", "asmrun_event_latest_idx"),
    ],
)
def test_latest_runs_of_an_event_are_read_from_the_index_without_sorting(model, moment, index):
    event = EventFactory()
    plan = (
        model.objects.filter(event_id=event.pk)
        .order_by(f"-{moment}", "-id")
        .values_list("id", flat=True)[:10]
        .explain()
    )
    assert index in plan
    assert "TEMP B-TREE" not in plan
