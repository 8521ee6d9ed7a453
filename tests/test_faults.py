"""A crash in the middle of any write leaves the database exactly as it was, and the user
sees the error page instead of a half-applied change.

Each endpoint in tests/reliability.WRITE_CASES runs twice on a real transaction (no test
transaction around it): once normally (it must change something) and once with an
exception injected right after its first INSERT/UPDATE/DELETE reached the database.
"""

import contextlib
import datetime
from types import SimpleNamespace

import pytest
from django.test import Client

from planning import catalog_views
from planning.models import Event
from tests.reliability import (
    PLANNING_WRITE_CASES,
    WRITE_CASES,
    InjectedFault,
    changed_tables,
    check_invariants,
    db_state,
    fault_after_first_write,
    make_world,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def world():
    return make_world()


@pytest.fixture
def boss(django_user_model):
    """A superuser: every endpoint is reachable, so the test is about faults alone."""
    user = django_user_model.objects.create_superuser("boss", "boss@example.com", "pw-boss-1")
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


@pytest.mark.parametrize("case", WRITE_CASES, ids=lambda case: case.name)
def test_write_case_changes_the_database_when_nothing_fails(case, world, boss):
    before = db_state()
    response = case.send(boss, world)
    assert response.status_code in (200, 302), response.content.decode()[:500]
    assert changed_tables(before, db_state()), "the case wrote nothing"
    check_invariants()


@pytest.mark.parametrize("case", WRITE_CASES, ids=lambda case: case.name)
def test_fault_after_the_first_write_leaves_the_database_exactly_as_before(case, world, boss):
    before = db_state()

    with fault_after_first_write() as fault:
        response = case.send(boss, world)

    assert fault.fired, "no write reached the database, so nothing was tested"
    assert response.status_code == 500
    body = response.content.decode()
    assert "Something went wrong" in body
    assert "nothing was half-saved" in body
    assert changed_tables(before, db_state()) == []
    check_invariants()


# Deletes are left out: Django's Collector wraps every delete() in its own atomic block.
CATALOG_CASES = [
    c
    for c in PLANNING_WRITE_CASES
    if c.name.startswith(("recipe", "finished")) and not c.name.endswith("delete")
]


@pytest.mark.parametrize("case", CATALOG_CASES, ids=lambda case: case.name)
def test_control_the_same_fault_without_the_views_transaction_leaves_a_change(
    case, world, boss, monkeypatch
):
    """The comparison catches a half-applied change: with the view's atomic block removed,
    the first write survives the crash. (Service-based views cannot be run this way: the
    services refuse to work outside a transaction.)"""
    monkeypatch.setattr(
        catalog_views, "transaction", SimpleNamespace(atomic=contextlib.nullcontext)
    )
    before = db_state()
    with fault_after_first_write() as fault:
        response = case.send(boss, world)
    assert fault.fired
    assert response.status_code == 500
    assert changed_tables(before, db_state()) != []


def test_control_code_without_a_transaction_keeps_its_first_write():
    before = db_state()

    def two_writes_without_a_transaction():
        Event.objects.create(name="Half", event_date=datetime.date(2030, 1, 1))
        Event.objects.create(name="Never", event_date=datetime.date(2030, 1, 2))

    with fault_after_first_write(), pytest.raises(InjectedFault):
        two_writes_without_a_transaction()
    assert changed_tables(before, db_state()) == ["planning.Event"]
