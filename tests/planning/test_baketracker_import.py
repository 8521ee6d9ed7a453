"""Moving in from bake-tracker: its real export imports whole, the progress matches what
bake-tracker itself reports, a dry run says exactly what the import does, a repeat changes
nothing, and a conflict or a broken file writes nothing."""

import copy
import datetime
import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.urls import reverse

from fulfillment.models import EventRecipientPackage, FulfillmentStatusChange, Recipient
from planning.models import (
    AssemblyRun,
    Event,
    EventProductionTarget,
    FinishedGood,
    ProductionRun,
    Recipe,
)
from planning.transfer import ImportConflict, import_baketracker
from tests.planning.factories import RecipeFactory
from tests.planning.figures import event_figures
from tests.reliability import changed_tables, db_state, unchanged_by

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "baketracker"
EXPORT = FIXTURES / "baketracker-export-4.1.json"
EXPECTED = json.loads((FIXTURES / "expected.json").read_text())["events"]

pytestmark = pytest.mark.django_db


def _content(data=None) -> bytes:
    return EXPORT.read_bytes() if data is None else json.dumps(data).encode()


def _data() -> dict:
    return json.loads(EXPORT.read_bytes())


def _import(content=None, *, write=True):
    with transaction.atomic():
        return import_baketracker(content or _content(), write=write, connection=connection)


def _counts(report):
    return {e.label: (e.found, e.created, e.reused, e.skipped_count) for e in report.entities}


def test_the_real_export_imports_every_entity_eventplanner_has():
    report = _import()
    assert _counts(report) == {
        "recipes": (5, 5, 0, 0),
        "finished goods": (4, 4, 0, 0),
        "packages": (4, 4, 0, 0),
        "recipients": (6, 6, 0, 0),
        "events": (2, 2, 0, 0),
        "production targets": (8, 8, 0, 0),
        "assembly targets": (8, 8, 0, 0),
        "production runs": (8, 8, 0, 0),
        "assembly runs": (6, 6, 0, 0),
        "assignments": (12, 12, 0, 0),
        "status changes": (8, 8, 0, 0),
    }
    not_carried = dict(report.not_carried_over)
    assert not_carried["purchases"] == 11
    assert not_carried["ingredients"] == 8
    assert not_carried["compositions (packaging materials)"] == 1
    assert (Recipe.objects.count(), Event.objects.count(), ProductionRun.objects.count()) == (
        5,
        2,
        8,
    )


def test_the_imported_rows_carry_the_values_of_the_file():
    _import()
    target = EventProductionTarget.objects.get(
        event__name="Christmas 2026", recipe__name="Bûche de Noël"
    )
    assert (target.target_batches, target.notes) == (2, "One for us, one for the Álvarez dinner")
    assert Event.objects.get(name="Christmas 2025").event_date == datetime.date(2025, 12, 20)
    run = ProductionRun.objects.get(notes="Doubled the batch")
    assert (run.event.name, run.num_batches, run.actual_yield) == ("Christmas 2025", 2, 80)
    assert run.produced_at == datetime.datetime(2025, 12, 14, 16, tzinfo=datetime.UTC)
    between_seasons = ProductionRun.objects.get(notes="Test batch for the new oven")
    assert between_seasons.event is None
    assert AssemblyRun.objects.get(notes="Ran out of boxes").event.name == "Christmas 2025"


def test_a_delivered_assignment_has_exactly_one_history_row_from_the_import():
    _import()
    delivered = EventRecipientPackage.objects.get(
        event__name="Christmas 2025", recipient__name="Mrs. O'Brien"
    )
    assert (delivered.fulfillment_status, delivered.notes) == (
        "delivered",
        "Left at the school office",
    )
    history = list(delivered.status_changes.all())
    assert [(h.from_status, h.to_status, h.source, h.changed_by) for h in history] == [
        ("pending", "delivered", "import", None)
    ]
    assert history[0].get_source_display() == "Import"
    pending = EventRecipientPackage.objects.filter(fulfillment_status="pending")
    assert not FulfillmentStatusChange.objects.filter(assignment__in=pending).exists()


def test_an_imported_status_is_shown_as_imported_not_as_made_by_a_script(admin_client):
    _import()
    delivered = EventRecipientPackage.objects.get(
        event__name="Christmas 2025", recipient__name="Mrs. O'Brien"
    )
    for name in ("fulfillment:assignment_history", "fulfillment:assignment_detail"):
        page = admin_client.get(reverse(name, args=[delivered.event_id, delivered.pk]))
        text = page.content.decode()
        assert page.status_code == 200
        assert "imported" in text
        assert "a script" not in text


def test_the_traps_are_resolved_as_a_user_moving_in_expects():
    report = _import()
    # Nested goods flatten into recipes; the tin itself (a packaging material) stays behind.
    tin = FinishedGood.objects.get(name="Holiday Cookie Tin")
    assert {c.recipe.name: c.quantity for c in tin.components.all()} == {
        "Sugar Cookies": 6,
        "Grandma's Gingerbread": 4,
        "Chocolate Truffles": 6,
    }
    # The Bûche keeps the whole-cake yield its runs are counted in.
    buche = Recipe.objects.get(name="Bûche de Noël")
    assert (buche.yield_per_batch, buche.yield_unit) == (1, "cake")
    assert Recipe.objects.get(name="Sugar Cookies - Sprinkle").yield_per_batch == 24
    # The two Alex Kims stay two people, each with their own packages in both events.
    kims = {
        r.household: sorted(r.assignments.values_list("quantity", "event__name"))
        for r in Recipient.objects.filter(name="Alex Kim")
    }
    assert kims == {
        "Kim Household": [(1, "Christmas 2025"), (1, "Christmas 2026")],
        "": [(2, "Christmas 2025"), (2, "Christmas 2026")],
    }
    assert any("'Alex Kim'" in line for line in report.notes)


@pytest.mark.parametrize("event_name", sorted(EXPECTED))
def test_progress_after_the_import_equals_what_bake_tracker_reports(event_name):
    _import()
    expected = EXPECTED[event_name]
    event = Event.objects.get(name=event_name)
    figures = event_figures(event.pk)
    overall, production, assembly = figures.overall, figures.production, figures.assembly
    by_status = figures.by_status
    assert {k: getattr(overall, k) for k in expected["overall_progress"]} == (
        expected["overall_progress"]
    )
    production_fields = expected["production_progress"][0].keys()
    assert sorted(
        ({k: getattr(p, k) for k in production_fields} for p in production),
        key=lambda row: row["recipe_name"],
    ) == sorted(expected["production_progress"], key=lambda row: row["recipe_name"])
    assert sorted(
        (a.finished_good_name, a.target_quantity, a.assembled_quantity, a.progress_pct)
        for a in assembly
    ) == sorted(
        (a["finished_good_name"], a["target_quantity"], a["assembled_quantity"], a["progress_pct"])
        for a in expected["assembly_progress"]
    )
    assert {s: len(rows) for s, rows in by_status.items()} == expected["packages_by_status"]
    assert {s: sum(a.quantity for a in rows) for s, rows in by_status.items()} == (
        expected["package_quantity_by_status"]
    )


def test_the_dry_run_writes_nothing_and_reports_what_the_import_then_does():
    RecipeFactory(
        name="Chocolate Truffles", category="Candy", yield_per_batch=40, yield_unit="truffle"
    )
    before = db_state()
    dry = _import(write=False)
    assert changed_tables(before, db_state()) == []
    real = _import()
    assert not dry.written
    assert real.written
    assert dry.outcome() == real.outcome()
    assert _counts(real)["recipes"] == (5, 4, 1, 0)


def test_importing_the_same_file_again_changes_nothing_and_says_so():
    _import()
    again = unchanged_by(_import)
    assert not again.changes
    assert _counts(again)["assignments"] == (12, 0, 12, 0)
    assert "Nothing to import: everything in the file is already here." in again.lines()


def test_a_same_named_recipe_that_differs_refuses_the_whole_import_naming_both_versions():
    RecipeFactory(
        name="Sugar Cookies", category="Cookies", yield_per_batch=36, yield_unit="cookies"
    )
    before = db_state()
    with pytest.raises(ImportConflict) as refused:
        _import()
    assert (
        "Recipe 'Sugar Cookies' exists with different yield_per_batch, yield_unit "
        "(36, 'cookies' here, 24, 'cookie' in the file)" in refused.value.message
    )
    assert changed_tables(before, db_state()) == []
    dry = _import(write=False)
    assert next(e for e in dry.entities if e.label == "recipes").conflicts == 1


def test_an_imported_event_changed_since_is_a_conflict_on_the_next_import():
    _import()
    EventProductionTarget.objects.filter(
        event__name="Christmas 2026", recipe__name="Sugar Cookies"
    ).update(target_batches=6)
    before = db_state()
    with pytest.raises(ImportConflict, match="different production targets") as refused:
        _import()
    assert "target_batches 6" in refused.value.message  # here
    assert "target_batches 4" in refused.value.message  # in the file
    assert changed_tables(before, db_state()) == []


def test_a_name_that_differs_only_in_case_is_a_conflict_not_a_database_error():
    RecipeFactory(name="sugar cookies", category="Cookies", yield_per_batch=24, yield_unit="cookie")
    with pytest.raises(ImportConflict, match="different name \\('sugar cookies' here"):
        _import()


def _broken(change):
    data = _data()
    change(data)
    return _content(data)


def _field_fault(section, index, key, value, problem, case):
    """One field of the file set to `value`: refused with the field's place and `problem`."""
    content = _broken(lambda d: d[section][index].update({key: value}))
    return pytest.param(content, f"{section}[{index}].{key}: {problem}", id=case)


# section, index, field, value: what is refused there, and the case's name
FIELD_FAULTS = [
    ("events", 1, "event_date", "20th of December", "must be a date", "bad-date"),
    ("event_production_targets", 2, "target_batches", "3", "must be a whole number", "wrong-type"),
    ("production_runs", 0, "num_batches", 10**30, "must be at most 1,000,000", "huge-number"),
    ("recipes", 0, "name", "Bûche\x00de Noël", "contains a NUL character", "nul"),
    ("recipients", 0, "name", "x" * 201, "is 201 characters long; at most 200", "too-long"),
]

HOSTILE = [
    pytest.param(b"{not json", "not valid JSON", id="malformed"),
    pytest.param(EXPORT.read_bytes()[:5000], "not valid JSON", id="truncated"),
    pytest.param(b"\xff\xfe{}", "not UTF-8", id="not-utf8"),
    pytest.param(b"[" * 100_000, "nested too deeply", id="deep"),
    pytest.param(b'{"application": "spreadsheet"}', "not a bake-tracker export", id="other"),
    pytest.param(
        _broken(lambda d: d.update(version="3.2")), "version '3.2' is not supported", id="version"
    ),
    pytest.param(
        _broken(lambda d: d["recipes"].append(copy.deepcopy(d["recipes"][0]))),
        "recipes[5].name: recipe 'Bûche de Noël' is listed twice (also recipes[0].name)",
        id="duplicate-name",
    ),
    pytest.param(
        _broken(lambda d: d.update(recipes={"name": "x"})), "recipes: must be a list", id="shape"
    ),
    *(_field_fault(*fault) for fault in FIELD_FAULTS),
]


@pytest.mark.parametrize(("content", "message"), HOSTILE)
def test_a_broken_or_hostile_file_is_refused_with_its_place_and_nothing_is_written(
    content, message
):
    before = db_state()
    with pytest.raises(ValidationError) as refused:
        _import(content)
    assert message in " ".join(refused.value.messages)
    assert changed_tables(before, db_state()) == []


def test_a_ten_megabyte_file_is_refused_with_the_limit_named():
    data = _data()
    data["suppliers"] = [{"name": "x" * 1000, "n": i} for i in range(10_000)]
    with pytest.raises(ValidationError, match="at most 5 MB is read"):
        _import(_content(data))


def test_markup_in_names_is_stored_as_text():
    data = _data()
    data["recipients"][3]["name"] = "<script>alert(1)</script>"
    for row in data["event_recipient_packages"]:
        if row["recipient_name"] == "José Álvarez":
            row["recipient_name"] = "<script>alert(1)</script>"
    _import(_content(data))
    assert Recipient.objects.get(name="<script>alert(1)</script>").assignments.count() == 2


def test_the_command_prints_the_dry_run_then_imports(tmp_path):
    out = StringIO()
    call_command("import_baketracker", str(EXPORT), "--dry-run", stdout=out)
    assert "Dry run, nothing was written." in out.getvalue()
    assert not Event.objects.exists()
    out = StringIO()
    call_command("import_baketracker", str(EXPORT), stdout=out)
    assert "Imported:" in out.getvalue()
    assert Event.objects.count() == 2
    missing = tmp_path / "missing.json"
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("import_baketracker", str(missing))


def test_the_command_refuses_a_conflicting_file_and_lists_the_conflicts():
    RecipeFactory(name="Sugar Cookies", yield_per_batch=36)
    with pytest.raises(CommandError, match="Recipe 'Sugar Cookies' exists with different"):
        call_command("import_baketracker", str(EXPORT), stdout=StringIO())
    assert not Event.objects.exists()
