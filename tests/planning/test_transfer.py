"""export_event / import_event: an event survives the trip to JSON and into another
database unchanged; conflicts refuse the whole import."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, connections, transaction

from fulfillment.models import EventRecipientPackage, FulfillmentStatusChange, Recipient
from planning.models import Event, FinishedGoodComponent, ProductionRun, Recipe
from planning.transfer import ImportConflict, export_event, import_event
from planning.transfer.importing import plan_import, resolve, write_import
from planning.transfer.mapping import POSITIVE, RECIPES, RECIPIENTS, Entity, Field
from planning.transfer.reading import read_document, read_keyed_rows
from tests.fulfillment.factories import StatusChangeFactory
from tests.planning.factories import AssemblyRunFactory, UserFactory
from tests.reliability import changed_tables, db_state, make_world

BOTH = pytest.mark.django_db(databases=["default", "other"])


@pytest.fixture
def season():
    world = make_world()
    alice = UserFactory(username="alice")
    ProductionRun.objects.filter(event=world.event).update(
        recorded_by=alice, notes="<b>first</b> batch 🎄"
    )
    AssemblyRunFactory(event=world.event, finished_good_id=world.ids["spare_good"], quantity=4)
    delivered = EventRecipientPackage.objects.get(pk=world.ids["ready"])
    StatusChangeFactory(
        assignment=delivered, from_status="ready", to_status="delivered", changed_by=alice
    )
    EventRecipientPackage.objects.filter(pk=delivered.pk).update(fulfillment_status="delivered")
    return world


def _export(event_id, tmp_path, name, database="default"):
    path = tmp_path / name
    call_command("export_event", event_id, "--output", str(path), "--database", database)
    return path, json.loads(path.read_text())


def _export_renamed(season, name: str) -> dict:
    """The season's event as export_event gives it, under another name, so that it can be
    imported beside the original."""
    with transaction.atomic():
        data = export_event(season.event.pk, connection=connection)
    data["event"]["name"] = name
    return data


@BOTH
def test_round_trip_into_an_empty_database_is_unchanged(season, tmp_path):
    path, exported = _export(season.event.pk, tmp_path, "first.json")
    assert not Event.objects.using("other").exists()

    out = StringIO()
    call_command("import_event", str(path), "--database", "other", stdout=out)

    imported = Event.objects.using("other").get()
    _, again = _export(imported.pk, tmp_path, "second.json", database="other")
    assert again == exported
    assert "Created inactive users without a password for the history: alice." in out.getvalue()
    # Only this event and what it uses came along.
    assert Event.objects.using("other").count() == 1
    assert not Recipe.objects.using("other").filter(name="Hot cross buns").exists()
    assert FulfillmentStatusChange.objects.using("other").count() == 2


@BOTH
def test_the_export_holds_everything_the_event_needs(season):
    with transaction.atomic():
        data = export_event(season.event.pk, connection=connection)
    assert data["event"] == {"name": "Christmas 2030", "event_date": "2030-12-24", "notes": ""}
    assert [t["recipe"] for t in data["production_targets"]] == ["Shortbread"]
    assert {r["name"] for r in data["recipes"]} == {"Shortbread", "Gingerbread"}
    assert data["production_runs"][0]["recorded_by"] == "alice"
    assert data["production_runs"][0]["notes"] == "<b>first</b> batch 🎄"
    statuses = sorted(a["fulfillment_status"] for a in data["assignments"])
    assert statuses == ["delivered", "pending", "pending"]
    delivered = next(a for a in data["assignments"] if a["fulfillment_status"] == "delivered")
    assert [(h["from_status"], h["to_status"]) for h in delivered["history"]] == [
        ("pending", "ready"),
        ("ready", "delivered"),
    ]
    assert data["users"] == ["alice"]
    assert "id" not in json.dumps(data["recipients"])  # references, not database ids


@pytest.mark.django_db
def test_importing_the_same_event_again_is_refused_and_changes_nothing(season, tmp_path):
    path, _ = _export(season.event.pk, tmp_path, "event.json")
    before = db_state()
    with pytest.raises(CommandError, match="already exists; nothing was imported"):
        call_command("import_event", str(path))
    assert changed_tables(before, db_state()) == []


@pytest.mark.django_db
def test_a_same_named_recipe_that_differs_is_a_conflict_listing_the_difference(season):
    data = _export_renamed(season, "Christmas 2030 (restored)")
    Recipe.objects.filter(name="Shortbread").update(yield_per_batch=30)
    before = db_state()
    with pytest.raises(ImportConflict) as refused, transaction.atomic():
        import_event(data, connection=connection)
    assert (
        "Recipe 'Shortbread' exists with different yield_per_batch (30 here, 24 in the file)"
        in (refused.value.message)
    )
    assert changed_tables(before, db_state()) == []


@pytest.mark.django_db
def test_a_compatible_database_reuses_identical_catalog_rows(season):
    data = _export_renamed(season, "Christmas 2030 (copy)")
    recipes, recipients = Recipe.objects.count(), Recipient.objects.count()
    with transaction.atomic():
        result = import_event(data, connection=connection)
    assert (Recipe.objects.count(), Recipient.objects.count()) == (recipes, recipients)
    assert result.reused == {"recipes": 2, "finished goods": 2, "packages": 1, "recipients": 3}
    with transaction.atomic():
        copy = export_event(result.event.pk, connection=connection)
    assert copy == data


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(format="something else"), "format: not an event export"),
        (
            lambda d: d["production_targets"][0].update(target_batches=0),
            r"production_targets\[0\].target_batches: must be a whole number of at least 1",
        ),
        (
            lambda d: d["production_targets"][0].update(recipe="Nope"),
            "no recipe named 'Nope' in the file",
        ),
        (
            lambda d: d["assignments"][0].update(fulfillment_status="delivered"),
            "the history ends at pending, the status is delivered",
        ),
        (lambda d: d["assignments"][0].update(fulfillment_status="lost"), "unknown status"),
        (
            lambda d: d["production_runs"][0].update(produced_at="yesterday"),
            "must be a date and time",
        ),
    ],
)
def test_a_malformed_file_is_refused_with_the_reason(season, tmp_path, change, message):
    data = _export_renamed(season, "Restored")
    change(data)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    before = db_state()
    with pytest.raises(CommandError, match=message):
        call_command("import_event", str(path))
    assert changed_tables(before, db_state()) == []


@pytest.mark.django_db
def test_unreadable_file_and_missing_event_are_clear_errors(tmp_path):
    path = tmp_path / "not.json"
    path.write_text("{not json")
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("import_event", str(path))
    with pytest.raises(CommandError, match="Event 424242 does not exist"):
        call_command("export_event", 424242)


@pytest.mark.django_db
def test_export_to_stdout(season):
    out = StringIO()
    call_command("export_event", season.event.pk, stdout=out)
    assert json.loads(out.getvalue())["event"]["name"] == "Christmas 2030"
    assert connections["default"].in_atomic_block  # the test's own transaction, untouched


# ---------------------------------------------------------------------------------------
# The steps on their own: read (no database), plan (reads only), write
# ---------------------------------------------------------------------------------------


def _exported(event_id, name="Christmas 2030 (restored)"):
    with transaction.atomic():
        data = export_event(event_id, connection=connection)
    data["event"]["name"] = name
    return data


@pytest.mark.django_db
def test_reading_a_file_touches_no_database(season, django_assert_num_queries):
    data = _exported(season.event.pk)
    with django_assert_num_queries(0):
        document = read_document(data)
    assert [entity.label for entity, _ in document.catalog] == [
        "recipes",
        "finished goods",
        "packages",
        "recipients",
    ]
    goods = next(rows for entity, rows in document.catalog if entity.label == "finished goods")
    assert {row.key: row.parts for row in goods} == {
        "Cookie box": {"Gingerbread": 6},
        "Spare tin": {"Shortbread": 2},
    }
    assert document.users == ["alice"]


@pytest.mark.django_db
def test_the_plan_lists_every_conflict_and_writes_nothing(season):
    data = _exported(season.event.pk, name="Christmas 2030")
    Recipe.objects.filter(name="Shortbread").update(yield_per_batch=30)
    FinishedGoodComponent.objects.filter(finished_good__name="Cookie box").update(quantity=7)
    before = db_state()
    plan = plan_import(read_document(data), "default")
    assert changed_tables(before, db_state()) == []
    assert plan.conflicts == [
        "An event called 'Christmas 2030' on 2030-12-24 already exists; nothing was imported.",
        "Recipe 'Shortbread' exists with different yield_per_batch (30 here, 24 in the file).",
        "Finished good 'Cookie box' exists with different components "
        "({'Gingerbread': 7} here, {'Gingerbread': 6} in the file).",
    ]
    recipes = next(resolved for resolved in plan.catalog if resolved.entity is RECIPES)
    assert set(recipes.existing) == {"Shortbread", "Gingerbread"}


@BOTH
def test_the_write_creates_only_what_the_plan_found_missing(season):
    data = _exported(season.event.pk)
    shortbread = next(r for r in data["recipes"] if r["name"] == "Shortbread")
    Recipe.objects.using("other").create(**shortbread)
    with transaction.atomic(using="other"):
        plan = plan_import(read_document(data), "other")
        assert plan.conflicts == []
        result = write_import(plan, "other")
    assert (result.created["recipes"], result.reused["recipes"]) == (1, 1)
    assert Recipe.objects.using("other").filter(name="Shortbread").count() == 1


@BOTH
def test_identical_recipients_of_a_file_without_keys_become_one_row(season):
    data = _exported(season.event.pk)
    data["version"] = 1  # as written before recipients had keys
    for recipient in data["recipients"]:
        del recipient["key"]
    data["recipients"].append({**data["recipients"][0], "ref": "recipient-copy"})
    data["assignments"][0]["recipient"] = "recipient-copy"
    with transaction.atomic(using="other"):
        plan = plan_import(read_document(data), "other")
        assert next(r for r in plan.catalog if r.entity is RECIPIENTS).existing == {}
        result = write_import(plan, "other")
    assert result.created["recipients"] == 3
    assert "recipients" not in result.reused
    assert Recipient.objects.using("other").count() == 3


@pytest.mark.django_db
def test_another_format_reads_its_own_field_names_into_the_same_rows():
    Recipe.objects.create(name="Spritz", yield_per_batch=10)
    theirs = Entity(
        "recipes",
        "recipes",
        "recipe",
        Recipe,
        (Field("name", source="title"), Field("yield_per_batch", POSITIVE, source="yields")),
    )
    rows = read_keyed_rows(theirs, [{"title": "Spritz", "yields": 10}])
    assert [(row.key, row.values) for row in rows] == [
        ("Spritz", {"name": "Spritz", "yield_per_batch": 10}),
    ]
    assert set(resolve(theirs, rows, "default").existing) == {"Spritz"}
