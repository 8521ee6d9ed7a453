"""Shared tools for the reliability tests: a snapshot of every app row, a fault injected
after the first write, the table of every endpoint that writes, and the invariants that
must hold after any request.

EXTENDING: when an endpoint that writes is added (the fulfillment pages: status buttons,
bulk changes, undo, assignments, recipients and packages), add a WriteCase for it to
FULFILLMENT_WRITE_CASES below. The fault tests (tests/test_faults.py) and the per-role
permission table (tests/test_security.py) pick it up; add its form fields to
tests/test_hostile_input.py as well.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.db import connections
from django.test import Client
from django.urls import reverse

from fulfillment.models import (
    STATUS_ORDER,
    EventRecipientPackage,
    FulfillmentStatus,
    FulfillmentStatusChange,
)
from planning.models import Event, EventAssemblyTarget, EventProductionTarget

APP_LABELS = ("planning", "fulfillment")
HTMX = {"HTTP_HX_REQUEST": "true"}

# ---------------------------------------------------------------------------------------
# Snapshot: every row of the apps' tables, every column
# ---------------------------------------------------------------------------------------


def db_state(using: str = "default") -> dict[str, list[tuple]]:
    """All rows of all planning and fulfillment tables, ordered by primary key. Two equal
    snapshots mean the database is exactly as it was (counts, statuses, amounts, times)."""
    state = {}
    for label in APP_LABELS:
        for model in apps.get_app_config(label).get_models():
            columns = [f.attname for f in model._meta.concrete_fields]
            state[model._meta.label] = list(
                model._base_manager.using(using).order_by("pk").values_list(*columns)
            )
    return state


def changed_tables(before: dict, after: dict) -> list[str]:
    return [label for label in before if before[label] != after[label]]


def unchanged_by(do: Callable[[], Any]) -> Any:
    """Run `do`, check that every table is exactly as it was before, and return its result."""
    before = db_state()
    result = do()
    assert changed_tables(before, db_state()) == []
    return result


# ---------------------------------------------------------------------------------------
# Fault injection
# ---------------------------------------------------------------------------------------


class InjectedFault(Exception):
    """Raised by fault_after_first_write(): stands for any crash in the middle of a change
    (a bug, a killed worker, a lost connection)."""


WRITE_VERBS = ("INSERT", "UPDATE", "DELETE")


def is_app_write(sql: str) -> bool:
    # Session writes happen after the view, outside its transaction, by design.
    statement = sql.lstrip().upper()
    # A data-modifying CTE (a status change on PostgreSQL) writes too.
    writes = statement.startswith(WRITE_VERBS) or (
        statement.startswith("WITH") and any(f" {verb} " in statement for verb in WRITE_VERBS)
    )
    return writes and "DJANGO_SESSION" not in statement


@dataclass
class FaultState:
    writes: int = 0
    fired: bool = False
    statement: str = ""


@contextmanager
def fault_after_first_write(using: str = "default", exception: type[Exception] = InjectedFault):
    """Let the first INSERT/UPDATE/DELETE of the code under test reach the database, then
    raise: whatever the code does next, that first write must not survive."""
    state = FaultState()

    def wrapper(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if is_app_write(sql):
            state.writes += 1
            if not state.fired:
                state.fired = True
                state.statement = sql[:200]
                raise exception(f"injected after the first write: {sql[:80]}")
        return result

    with connections[using].execute_wrapper(wrapper):
        yield state


# ---------------------------------------------------------------------------------------
# The data every write case works on
# ---------------------------------------------------------------------------------------


@dataclass
class World:
    event: Event
    other_event: Event
    deletable_event: Event
    ids: dict[str, int] = field(default_factory=dict)


def make_world() -> World:
    """A season with something for every endpoint to change: targets, runs, a package whose
    needs are not covered yet, pending and ready assignments (one with history), another
    event, an event that may be deleted and catalog items that may be deleted."""
    from tests.fulfillment.factories import (
        AssignmentFactory,
        PackageFactory,
        PackageItemFactory,
        RecipientFactory,
        StatusChangeFactory,
    )
    from tests.planning.factories import (
        AssemblyTargetFactory,
        EventFactory,
        FinishedGoodComponentFactory,
        FinishedGoodFactory,
        ProductionRunFactory,
        ProductionTargetFactory,
        RecipeFactory,
    )

    event = EventFactory(name="Christmas 2030", event_date=datetime.date(2030, 12, 24))
    other = EventFactory(name="Easter 2031", event_date=datetime.date(2031, 4, 20))
    deletable = EventFactory(name="Cancelled fair", event_date=datetime.date(2030, 11, 1))

    targeted = RecipeFactory(name="Shortbread", yield_per_batch=24)
    needed = RecipeFactory(name="Gingerbread", yield_per_batch=12)
    free_recipe = RecipeFactory(name="Unused recipe")
    other_recipe = RecipeFactory(name="Hot cross buns")
    boxed = FinishedGoodFactory(name="Cookie box")
    spare_good = FinishedGoodFactory(name="Spare tin")
    loose_good = FinishedGoodFactory(name="Loose cookies")
    FinishedGoodComponentFactory(finished_good=boxed, recipe=needed, quantity=6)
    FinishedGoodComponentFactory(finished_good=spare_good, recipe=targeted, quantity=2)
    FinishedGoodComponentFactory(finished_good=loose_good, recipe=targeted, quantity=1)
    FinishedGoodComponentFactory(finished_good=loose_good, recipe=needed, quantity=1)
    item = PackageItemFactory(finished_good=boxed, quantity=2)

    ProductionTargetFactory(event=event, recipe=targeted, target_batches=4)
    AssemblyTargetFactory(event=event, finished_good=spare_good, target_quantity=10)
    ProductionTargetFactory(event=other, recipe=other_recipe, target_batches=3)
    ProductionTargetFactory(event=deletable, recipe=targeted, target_batches=1)
    ProductionRunFactory(event=event, recipe=targeted, num_batches=1)

    pending = [
        AssignmentFactory(event=event, package=item.package, recipient=RecipientFactory())
        for _ in range(2)
    ]
    ready = AssignmentFactory(event=event, package=item.package, ready=True)
    StatusChangeFactory(assignment=ready)
    AssignmentFactory(event=deletable, package=item.package)
    other_assignment = AssignmentFactory(event=other, package=item.package)
    # Catalog rows nobody uses yet: they may be assigned or deleted.
    free_recipient = RecipientFactory(name="Cousin Jo", household="Jo's flat")
    free_package = PackageItemFactory(
        package=PackageFactory(name="Empty hamper"), finished_good=spare_good, quantity=1
    ).package

    return World(
        event=event,
        other_event=other,
        deletable_event=deletable,
        ids={
            "targeted_recipe": targeted.pk,
            "needed_recipe": needed.pk,
            "free_recipe": free_recipe.pk,
            "other_recipe": other_recipe.pk,
            "boxed_good": boxed.pk,
            "spare_good": spare_good.pk,
            "loose_good": loose_good.pk,
            "pending_1": pending[0].pk,
            "pending_2": pending[1].pk,
            "ready": ready.pk,
            "other_assignment": other_assignment.pk,
            "package": item.package_id,
            "recipient": pending[0].recipient_id,
            "other_recipient": other_assignment.recipient_id,
            "free_recipient": free_recipient.pk,
            "free_package": free_package.pk,
        },
    )


# ---------------------------------------------------------------------------------------
# Every endpoint that writes
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WriteCase:
    """One write through the web: `send(client, world)` returns the response. `perm_kind`
    says who may do it: "plan" (Planners, Coordinators), "status" (Packers, Coordinators),
    "undo" (Coordinators), "admin" (staff with the status permission) or "admin_undo" (staff
    with the undo permission)."""

    name: str
    send: Callable[[Client, World], Any]
    perm_kind: str = "plan"


def _post(name: str, args: Callable[[World], list], data: Callable[[World], dict], htmx=False):
    def send(client: Client, world: World):
        return client.post(reverse(name, args=args(world)), data(world), **(HTMX if htmx else {}))

    return send


def _action(action: str, ids: list[str]):
    def send(client: Client, world: World):
        return client.post(
            reverse("admin:fulfillment_eventrecipientpackage_changelist"),
            {"action": action, "_selected_action": [world.ids[i] for i in ids]},
        )

    return send


def _component_formset(recipe_id: int | None = None, existing: list[tuple] = ()) -> dict:
    data = {
        "components-TOTAL_FORMS": str(len(existing) + 1),
        "components-INITIAL_FORMS": str(len(existing)),
        "components-MIN_NUM_FORMS": "0",
        "components-MAX_NUM_FORMS": "1000",
    }
    rows = [*existing, (None, recipe_id, 3)] if recipe_id else [*existing, (None, "", "")]
    for i, (pk, recipe, quantity) in enumerate(rows):
        data[f"components-{i}-id"] = pk or ""
        data[f"components-{i}-recipe"] = recipe
        data[f"components-{i}-quantity"] = quantity
    return data


def _existing_components(world: World, good_key: str) -> list[tuple]:
    from planning.models import FinishedGoodComponent

    return list(
        FinishedGoodComponent.objects.filter(finished_good_id=world.ids[good_key])
        .order_by("pk")
        .values_list("pk", "recipe_id", "quantity")
    )


def _event(world: World) -> list:
    return [world.event.pk]


PLANNING_WRITE_CASES = [
    WriteCase(
        "event_create",
        _post(
            "planning:event_create",
            lambda w: [],
            lambda w: {"name": "Midsummer", "event_date": "2031-06-21", "notes": "n"},
        ),
    ),
    WriteCase(
        "event_edit",
        _post(
            "planning:event_edit",
            _event,
            lambda w: {"name": "Christmas 2030!", "event_date": "2030-12-25", "notes": "x"},
        ),
    ),
    WriteCase(
        "event_delete",
        _post("planning:event_delete", lambda w: [w.deletable_event.pk], lambda w: {}),
    ),
    WriteCase(
        "event_clone",
        _post(
            "planning:event_clone",
            _event,
            lambda w: {"name": "Christmas 2031", "event_date": "2031-12-24", "notes": ""},
        ),
    ),
    WriteCase(
        "production_target_add",
        _post(
            "planning:production_target_add",
            _event,
            lambda w: {"recipe": w.ids["free_recipe"], "target_batches": 5, "notes": ""},
            htmx=True,
        ),
    ),
    WriteCase(
        "assembly_target_add",
        _post(
            "planning:assembly_target_add",
            _event,
            lambda w: {"finished_good": w.ids["boxed_good"], "target_quantity": 7},
        ),
    ),
    WriteCase(
        "production_target_edit",
        _post(
            "planning:target_edit",
            lambda w: [w.event.pk, "production", w.ids["targeted_recipe"]],
            lambda w: {"target_batches": 9, "notes": "more"},
            htmx=True,
        ),
    ),
    WriteCase(
        "assembly_target_edit",
        _post(
            "planning:target_edit",
            lambda w: [w.event.pk, "assembly", w.ids["spare_good"]],
            lambda w: {"target_quantity": 12, "notes": ""},
        ),
    ),
    WriteCase(
        "production_target_delete",
        _post(
            "planning:target_delete",
            lambda w: [w.event.pk, "production", w.ids["targeted_recipe"]],
            lambda w: {},
            htmx=True,
        ),
    ),
    WriteCase(
        "assembly_target_delete",
        _post(
            "planning:target_delete",
            lambda w: [w.event.pk, "assembly", w.ids["spare_good"]],
            lambda w: {},
        ),
    ),
    WriteCase(
        "production_run_add",
        _post(
            "planning:production_run_add",
            _event,
            lambda w: {"recipe": w.ids["targeted_recipe"], "num_batches": 2, "actual_yield": ""},
            htmx=True,
        ),
    ),
    WriteCase(
        "assembly_run_add",
        _post(
            "planning:assembly_run_add",
            _event,
            lambda w: {"finished_good": w.ids["spare_good"], "quantity": 3},
        ),
    ),
    WriteCase(
        "needs_apply",
        _post(
            "planning:needs_apply",
            _event,
            lambda w: {
                "recipe_ids": [w.ids["needed_recipe"]],
                "finished_good_ids": [w.ids["boxed_good"]],
            },
            htmx=True,
        ),
    ),
    WriteCase(
        "recipe_create",
        _post(
            "planning:recipe_create",
            lambda w: [],
            lambda w: {"name": "Stollen", "yield_per_batch": 2, "yield_unit": "loaves"},
        ),
    ),
    WriteCase(
        "recipe_edit",
        _post(
            "planning:recipe_edit",
            lambda w: [w.ids["targeted_recipe"]],
            lambda w: {"name": "Butter shortbread", "yield_per_batch": 30, "yield_unit": "pcs"},
        ),
    ),
    WriteCase(
        "recipe_delete",
        _post("planning:recipe_delete", lambda w: [w.ids["free_recipe"]], lambda w: {}),
    ),
    WriteCase(
        "finished_good_create",
        _post(
            "planning:finished_good_create",
            lambda w: [],
            lambda w: {"name": "Gift bag", **_component_formset(w.ids["targeted_recipe"])},
        ),
    ),
    WriteCase(
        "finished_good_edit",
        _post(
            "planning:finished_good_edit",
            lambda w: [w.ids["spare_good"]],
            lambda w: {
                "name": "Spare tin (large)",
                "description": "d",
                **_component_formset(w.ids["free_recipe"], _existing_components(w, "spare_good")),
            },
        ),
    ),
    WriteCase(
        "finished_good_delete",
        _post("planning:finished_good_delete", lambda w: [w.ids["loose_good"]], lambda w: {}),
    ),
]

CHANGELIST = "admin:fulfillment_eventrecipientpackage_changelist"
HIDDEN_INPUT = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


def _admin_undo(ids: list[str], reason: str = "Marked by accident"):
    """The admin's undo action as a user does it: the action opens the intermediate page
    (which writes nothing), whose form posts back with the reason. When the page is not
    shown (no permission), the confirmation is posted anyway, as a crafted request would."""

    def send(client: Client, world: World):
        url = reverse(CHANGELIST)
        data = {"action": "undo_status", "_selected_action": [world.ids[i] for i in ids]}
        page = client.post(url, data)
        confirm = {**data, "apply": "1", "select_across": "0", "index": "0"}
        if page.status_code == 200 and 'name="reason"' in page.content.decode():
            confirm = {}
            for name, value in HIDDEN_INPUT.findall(page.content.decode()):
                confirm.setdefault(name, []).append(value)
        return client.post(url, {**confirm, "reason": reason})

    return send


ADMIN_WRITE_CASES = [
    WriteCase("admin_mark_ready", _action("mark_ready", ["pending_1", "pending_2"]), "admin"),
    WriteCase("admin_mark_delivered", _action("mark_delivered", ["ready"]), "admin"),
    WriteCase("admin_undo", _admin_undo(["ready"]), "admin_undo"),
]


def _row(key: str) -> Callable[[World], list]:
    return lambda w: [w.event.pk, w.ids[key]]


def _item_formset(rows: list[tuple[int | str, int | str]]) -> dict:
    data = {
        "items-TOTAL_FORMS": str(len(rows) + 1),
        "items-INITIAL_FORMS": "0",
        "items-MIN_NUM_FORMS": "0",
        "items-MAX_NUM_FORMS": "1000",
    }
    for i, (good, quantity) in enumerate([*rows, ("", "")]):
        data[f"items-{i}-finished_good"] = good
        data[f"items-{i}-quantity"] = quantity
    return data


RECIPIENT = {"name": "Aunt Mary", "household": "The Smiths", "address": "1 Main St", "notes": ""}

FULFILLMENT_WRITE_CASES: list[WriteCase] = [
    WriteCase(
        "status_ready",
        _post(
            "fulfillment:assignment_status",
            _row("pending_1"),
            lambda w: {"new_status": "ready", "expected_status": "pending"},
            htmx=True,
        ),
        "status",
    ),
    WriteCase(
        "status_delivered",
        _post(
            "fulfillment:assignment_status",
            _row("ready"),
            lambda w: {"new_status": "delivered", "expected_status": "ready"},
        ),
        "status",
    ),
    WriteCase(
        "checklist_delivered",
        _post(
            "fulfillment:assignment_status",
            _row("ready"),
            lambda w: {"view": "checklist", "new_status": "delivered", "expected_status": "ready"},
            htmx=True,
        ),
        "status",
    ),
    WriteCase(
        "bulk_ready",
        _post(
            "fulfillment:bulk_status",
            _event,
            lambda w: {"ids": [w.ids["pending_1"], w.ids["pending_2"]], "new_status": "ready"},
            htmx=True,
        ),
        "status",
    ),
    WriteCase(
        "bulk_delivered",
        _post(
            "fulfillment:bulk_status",
            _event,
            lambda w: {"ids": [w.ids["ready"]], "new_status": "delivered"},
        ),
        "status",
    ),
    WriteCase(
        "undo",
        _post(
            "fulfillment:assignment_undo",
            _row("ready"),
            lambda w: {"reason": "Marked by accident", "expected_status": "ready"},
            htmx=True,
        ),
        "undo",
    ),
    WriteCase(
        "undo_without_javascript",
        _post(
            "fulfillment:assignment_undo",
            _row("ready"),
            lambda w: {"reason": "Wrong row", "expected_status": "ready"},
        ),
        "undo",
    ),
    WriteCase(
        "assignment_new",
        _post(
            "fulfillment:assignment_new",
            _event,
            lambda w: {
                "recipient": w.ids["free_recipient"],
                "package": w.ids["package"],
                "quantity": 2,
                "notes": "no nuts",
            },
        ),
    ),
    WriteCase(
        "assignment_new_htmx",
        _post(
            "fulfillment:assignment_new",
            _event,
            lambda w: {
                "recipient": w.ids["recipient"],
                "package": w.ids["free_package"],
                "quantity": 1,
            },
            htmx=True,
        ),
    ),
    WriteCase(
        "assignment_edit",
        _post(
            "fulfillment:assignment_edit",
            _row("pending_1"),
            lambda w: {"quantity": 3, "notes": "three, please"},
            htmx=True,
        ),
    ),
    WriteCase(
        "assignment_remove",
        _post("fulfillment:assignment_remove", _row("pending_2"), lambda w: {"confirm": "yes"}),
    ),
    WriteCase(
        "recipient_new",
        _post("fulfillment:recipient_new", lambda w: [], lambda w: RECIPIENT),
    ),
    WriteCase(
        "recipient_edit",
        _post(
            "fulfillment:recipient_edit",
            lambda w: [w.ids["recipient"]],
            lambda w: {**RECIPIENT, "notes": "allergic to nuts"},
            htmx=True,
        ),
    ),
    WriteCase(
        "recipient_delete",
        _post("fulfillment:recipient_delete", lambda w: [w.ids["free_recipient"]], lambda w: {}),
    ),
    WriteCase(
        "package_new",
        _post(
            "fulfillment:package_new",
            lambda w: [],
            lambda w: {
                "name": "Big hamper",
                "description": "d",
                **_item_formset([(w.ids["boxed_good"], 2), (w.ids["spare_good"], 1)]),
            },
        ),
    ),
    WriteCase(
        "package_edit",
        _post(
            "fulfillment:package_edit",
            lambda w: [w.ids["package"]],
            lambda w: {
                "name": "Cookie parcel",
                "description": "",
                **_item_formset([(w.ids["boxed_good"], 3), (w.ids["loose_good"], 1)]),
            },
            htmx=True,
        ),
    ),
    WriteCase(
        "package_delete",
        _post("fulfillment:package_delete", lambda w: [w.ids["free_package"]], lambda w: {}),
    ),
]

WRITE_CASES = PLANNING_WRITE_CASES + ADMIN_WRITE_CASES + FULFILLMENT_WRITE_CASES


# ---------------------------------------------------------------------------------------
# Invariants that hold after any request, whatever it posted
# ---------------------------------------------------------------------------------------


def assignment_statuses(using: str = "default") -> dict[int, tuple[str, int]]:
    """Assignment id -> (status, number of history rows)."""
    from django.db.models import Count

    return {
        pk: (status, n)
        for pk, status, n in EventRecipientPackage.objects.using(using)
        .annotate(n=Count("status_changes"))
        .values_list("pk", "fulfillment_status", "n")
    }


def check_invariants(before: dict[int, tuple[str, int]] | None = None, using="default") -> None:
    """Targets positive, statuses valid, each assignment's history a chain of single steps
    from pending that ends at its current status (no history: still pending). With `before`
    (assignment_statuses() before one request): nothing moved more than one step, and each
    move wrote exactly one history row, each non-move none."""
    assert not EventProductionTarget.objects.using(using).filter(target_batches__lte=0).exists()
    assert not EventAssemblyTarget.objects.using(using).filter(target_quantity__lte=0).exists()
    now = assignment_statuses(using)
    assert {status for status, _ in now.values()} <= set(FulfillmentStatus.values), now
    history: dict[int, list[tuple[str, str]]] = {}
    for assignment_id, from_status, to_status in (
        FulfillmentStatusChange.objects.using(using)
        .order_by("changed_at", "id")
        .values_list("assignment_id", "from_status", "to_status")
    ):
        history.setdefault(assignment_id, []).append((from_status, to_status))
    for assignment_id, (status, _) in now.items():
        steps = history.get(assignment_id, [])
        if not steps:
            assert status == FulfillmentStatus.PENDING, (assignment_id, status)
            continue
        assert steps[0][0] == FulfillmentStatus.PENDING, (assignment_id, steps)
        for from_status, to_status in steps:
            distance = abs(STATUS_ORDER.index(to_status) - STATUS_ORDER.index(from_status))
            assert distance == 1, (assignment_id, steps)
        for (_, reached), (left, _) in zip(steps, steps[1:], strict=False):
            assert reached == left, (assignment_id, steps)
        assert steps[-1][1] == status, (assignment_id, steps)
    for assignment_id, (old, old_rows) in (before or {}).items():
        if assignment_id not in now:
            continue  # removed with its event (only possible without history)
        new, new_rows = now[assignment_id]
        moved = abs(STATUS_ORDER.index(new) - STATUS_ORDER.index(old))
        assert moved <= 1, (assignment_id, old, new)
        assert new_rows - old_rows == moved, (assignment_id, old, new, old_rows, new_rows)
