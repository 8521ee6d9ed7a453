"""Keep both: a season from bake-tracker imports into a database that already has items of
the same names (the demo data of a fresh `make run`), the file's differing items under a new
name, without touching the ones here; and without the choice the import still refuses."""

import datetime
import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from fulfillment.models import Package
from planning.models import Event, EventProductionTarget, FinishedGood, ProductionRun, Recipe
from planning.transfer import ImportConflict, import_baketracker
from tests.planning.factories import RecipeFactory
from tests.planning.figures import event_figures
from tests.reliability import changed_tables, db_state, unchanged_by

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "baketracker"
EXPORT = FIXTURES / "baketracker-export-4.1.json"
EXPECTED = json.loads((FIXTURES / "expected.json").read_text())["events"]
# What the demo data's differing items make of the file's.
RENAMED = {
    "Sugar Cookies": "Sugar Cookies (from bake-tracker)",
    "Truffle Box": "Truffle Box (from bake-tracker)",
}

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo():
    call_command("seed_demo", stdout=StringIO())


def _import(content=None, *, write=True, keep_both=True):
    with transaction.atomic():
        return import_baketracker(
            content or EXPORT.read_bytes(), write=write, keep_both=keep_both, connection=connection
        )


def _counts(report):
    return {e.label: (e.found, e.created, e.reused, e.conflicts) for e in report.entities}


def _progress(event: Event) -> dict:
    """The dashboard's figures of an event, in expected.json's shape."""
    figures = event_figures(event.pk)
    production, assembly, by_status = figures.production, figures.assembly, figures.by_status
    return {
        "production": sorted(
            (p.recipe_name, p.target_batches, p.produced_batches, p.produced_yield, p.progress_pct)
            for p in production
        ),
        "assembly": sorted(
            (a.finished_good_name, a.target_quantity, a.assembled_quantity, a.progress_pct)
            for a in assembly
        ),
        "packages": {s: len(rows) for s, rows in by_status.items()},
        "quantities": {s: sum(a.quantity for a in rows) for s, rows in by_status.items()},
    }


def _expected(name: str) -> dict:
    """expected.json's figures, with the items kept both under the names they got here."""
    expected = EXPECTED[name]
    return {
        "production": sorted(
            (
                RENAMED.get(p["recipe_name"], p["recipe_name"]),
                p["target_batches"],
                p["produced_batches"],
                p["produced_yield"],
                p["progress_pct"],
            )
            for p in expected["production_progress"]
        ),
        "assembly": sorted(
            (
                RENAMED.get(a["finished_good_name"], a["finished_good_name"]),
                a["target_quantity"],
                a["assembled_quantity"],
                a["progress_pct"],
            )
            for a in expected["assembly_progress"]
        ),
        "packages": expected["packages_by_status"],
        "quantities": expected["package_quantity_by_status"],
    }


def test_with_demo_data_keep_both_imports_the_season_with_bake_trackers_figures(demo):
    demo_cookies = Recipe.objects.values().get(name="Sugar Cookies")
    demo_box = FinishedGood.objects.get(name="Truffle Box")
    demo_components = {c.recipe.name: c.quantity for c in demo_box.components.all()}
    report = _import()
    assert report.written
    assert _counts(report)["recipes"] == (5, 5, 0, 0)
    assert _counts(report)["finished goods"] == (4, 4, 0, 0)
    assert not report.conflicts
    renamed = Recipe.objects.get(name="Sugar Cookies (from bake-tracker)")
    assert (renamed.yield_per_batch, renamed.yield_unit) == (24, "cookie")
    # The demo's own items are untouched.
    assert Recipe.objects.values().get(name="Sugar Cookies") == demo_cookies
    assert {c.recipe.name: c.quantity for c in demo_box.components.all()} == demo_components
    # Every reference of the file follows the new names.
    tin = FinishedGood.objects.get(name="Holiday Cookie Tin")
    assert "Sugar Cookies (from bake-tracker)" in {c.recipe.name for c in tin.components.all()}
    box = FinishedGood.objects.get(name="Truffle Box (from bake-tracker)")
    assert {c.recipe.name: c.quantity for c in box.components.all()} == {"Chocolate Truffles": 12}
    between = ProductionRun.objects.get(notes="Test batch for the new oven")
    assert (between.event, between.recipe) == (None, renamed)
    for name, expected in EXPECTED.items():
        date = datetime.date.fromisoformat(expected["event_date"])
        assert _progress(Event.objects.get(name=name, event_date=date)) == _expected(name)


def test_the_report_says_what_was_renamed_and_why(demo):
    report = _import()
    assert (
        "Recipe 'Sugar Cookies' differs from the one here (36 cookies per batch here, "
        "24 cookie per batch in the file); the file's is imported as "
        "'Sugar Cookies (from bake-tracker)'." in report.notes
    )
    truffle_box = next(line for line in report.notes if line.startswith("Finished good"))
    assert "12 x 'Chocolate Truffles' in the file" in truffle_box
    assert truffle_box.endswith("the file's is imported as 'Truffle Box (from bake-tracker)'.")


def test_the_keep_both_dry_run_writes_nothing_and_reports_what_the_import_does(demo):
    before = db_state()
    dry = _import(write=False)
    assert changed_tables(before, db_state()) == []
    real = _import()
    assert (dry.written, real.written) == (False, True)
    assert dry.outcome() == real.outcome()


def test_a_second_keep_both_import_changes_nothing_and_says_so(demo):
    _import()
    again = unchanged_by(_import)
    assert not again.changes
    assert _counts(again)["recipes"] == (5, 0, 5, 0)
    assert "Nothing to import: everything in the file is already here." in again.lines()
    assert any(
        "the file's is 'Sugar Cookies (from bake-tracker)', already here" in line
        for line in again.notes
    )


def test_without_keep_both_the_import_still_refuses_and_suggests_it(demo):
    before = db_state()
    with pytest.raises(ImportConflict) as refused:
        _import(keep_both=False)
    assert "Recipe 'Sugar Cookies' exists with different" in refused.value.message
    assert refused.value.message.endswith(
        "Re-run with --keep-both, or tick Keep both, to import the file's versions under new names."
    )
    assert changed_tables(before, db_state()) == []
    out = StringIO()
    with pytest.raises(CommandError, match="3 conflicts"):
        call_command("import_baketracker", str(EXPORT), "--dry-run", stdout=out)
    assert "Re-run with --keep-both" in out.getvalue()


def test_a_conflict_keep_both_cannot_resolve_still_refuses_without_the_suggestion():
    _import()
    EventProductionTarget.objects.filter(event__name="Christmas 2026").update(target_batches=9)
    with pytest.raises(ImportConflict, match="different production targets") as refused:
        _import()
    assert "--keep-both" not in refused.value.message


def test_the_command_with_keep_both_imports_into_the_demo_data(demo):
    out = StringIO()
    call_command("import_baketracker", str(EXPORT), "--keep-both", stdout=out)
    assert "Imported:" in out.getvalue()
    assert "imported as 'Truffle Box (from bake-tracker)'" in out.getvalue()
    assert Package.objects.get(name="Teacher's Treat").items.filter(
        finished_good__name="Truffle Box (from bake-tracker)"
    )


def test_a_new_name_taken_by_another_item_gets_a_number():
    RecipeFactory(name="Sugar Cookies", yield_per_batch=36)
    RecipeFactory(name="sugar cookies (FROM bake-tracker)", yield_per_batch=12)
    report = _import()
    assert Recipe.objects.get(name="Sugar Cookies (from bake-tracker 2)").yield_per_batch == 24
    assert any("imported as 'Sugar Cookies (from bake-tracker 2)'" in n for n in report.notes)
    assert not _import().changes


def test_a_name_at_the_column_limit_still_gets_a_valid_new_name():
    long_name = "Sugar Cookies " + "x" * 186
    assert len(long_name) == 200
    content = EXPORT.read_bytes().replace(b'"Sugar Cookies"', json.dumps(long_name).encode())
    RecipeFactory(name=long_name, yield_per_batch=36)
    _import(content)
    renamed = Recipe.objects.get(name__endswith=" (from bake-tracker)")
    assert len(renamed.name) == 200
    assert renamed.name.startswith("Sugar Cookies xxx")
    assert renamed.yield_per_batch == 24
    assert renamed.production_targets.count() == 2
    assert not _import(content).changes
