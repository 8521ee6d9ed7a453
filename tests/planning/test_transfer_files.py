"""An event file as it comes: alike recipients stay two people, a malformed file is refused
with its place and writes nothing, and imported values obey the forms' limits."""

import copy
import html
import json
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventplanner.limits import AMOUNT, NOTES, PACKED, YIELD_PER_BATCH
from fulfillment.forms import AssignmentEditForm
from fulfillment.models import EventRecipientPackage, Recipient
from planning.forms import RecipeForm, target_edit_form
from planning.kinds import PRODUCTION
from planning.transfer import export_event, import_baketracker, import_event
from tests.fulfillment.factories import AssignmentFactory, PackageFactory, RecipientFactory
from tests.planning.factories import EventFactory, ProductionTargetFactory, RecipeFactory
from tests.reliability import changed_tables, db_state

BOTH = pytest.mark.django_db(databases=["default", "other"])
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
BAKETRACKER = FIXTURES / "baketracker" / "baketracker-export-4.1.json"


def _exported(event_id: int, name: str = "Restored") -> dict:
    with transaction.atomic():
        data = export_event(event_id, connection=connection)
    data["event"]["name"] = name
    return data


@pytest.fixture
def twins():
    """An event where two recipients with every field the same share a package."""
    event = EventFactory(name="Christmas 2030")
    ProductionTargetFactory(event=event, recipe=RecipeFactory(name="Shortbread"), target_batches=2)
    tin = PackageFactory(name="Tin")
    first, second = (
        RecipientFactory(name="Aunt Mary", household="", address="", notes="") for _ in range(2)
    )
    AssignmentFactory(event=event, recipient=first, package=tin, quantity=1)
    AssignmentFactory(event=event, recipient=second, package=tin, quantity=2)
    return event


def _users() -> int:
    return get_user_model().objects.count()


# ---------------------------------------------------------------------------------------
# Alike recipients
# ---------------------------------------------------------------------------------------


@BOTH
def test_two_identical_recipients_sharing_a_package_round_trip_as_two_people(twins):
    exported = _exported(twins.pk, name="Christmas 2030")
    keys = [r["key"] for r in exported["recipients"]]
    assert len(set(keys)) == 2

    with transaction.atomic(using="other"):
        result = import_event(exported, connection=_other())
    assert Recipient.objects.using("other").filter(name="Aunt Mary").count() == 2
    quantities = sorted(
        EventRecipientPackage.objects.using("other")
        .filter(event=result.event)
        .values_list("recipient_id", "quantity")
    )
    assert len({recipient for recipient, _ in quantities}) == 2
    assert [q for _, q in quantities] == [1, 2]
    with transaction.atomic(using="other"):
        again = export_event(result.event.pk, connection=_other())
    assert again == exported  # the same keys, in a database the event was imported into


def _other():
    from django.db import connections

    return connections["other"]


@pytest.mark.django_db
def test_the_key_is_stable_across_exports_and_the_alike_reuse_their_own_rows(twins):
    first = _exported(twins.pk)
    second = _exported(twins.pk)
    assert [r["key"] for r in first["recipients"]] == [r["key"] for r in second["recipients"]]
    # Into the same database: each of the two takes its own row here, none is merged.
    with transaction.atomic():
        result = import_event(first, connection=connection)
    assert result.reused["recipients"] == 2
    assert Recipient.objects.filter(name="Aunt Mary").count() == 2
    assert EventRecipientPackage.objects.filter(event=result.event).count() == 2


def _legacy(data: dict) -> dict:
    """The same file as version 1 wrote it: recipients without keys."""
    data = copy.deepcopy(data)
    data["version"] = 1
    for recipient in data["recipients"]:
        del recipient["key"]
    return data


@BOTH
def test_a_file_without_keys_keeps_alike_recipients_who_share_a_package_apart(twins):
    data = _legacy(_exported(twins.pk))
    with transaction.atomic(using="other"):
        result = import_event(data, connection=_other())
    assert Recipient.objects.using("other").count() == 2
    assert EventRecipientPackage.objects.using("other").filter(event=result.event).count() == 2


@BOTH
def test_a_file_without_keys_still_makes_alike_recipients_one_person_otherwise(twins):
    data = _legacy(_exported(twins.pk))
    data["packages"].append({"name": "Jar", "description": "", "items": []})
    data["assignments"][1]["package"] = "Jar"
    with transaction.atomic(using="other"):
        result = import_event(data, connection=_other())
    mary = Recipient.objects.using("other").get()
    assert sorted(mary.assignments.values_list("package__name", flat=True)) == ["Jar", "Tin"]
    assert result.created["recipients"] == 1


# ---------------------------------------------------------------------------------------
# Malformed files: a message with the place, nothing written
# ---------------------------------------------------------------------------------------


CASES = json.loads((FIXTURES / "transfer" / "malformed.json").read_text())


def _node(data, path: list[str]):
    for part in path:
        data = data[int(part)] if isinstance(data, list) else data[part]
    return data


def _edit(data, case: dict):
    """The file with the case's edit made (see the fixture's _about)."""
    op = case["op"]
    if op == "wrap":
        return [data]
    *parents, last = case["path"].split(".")
    node = _node(data, parents)
    key = int(last) if isinstance(node, list) else last
    if op == "set":
        node[key] = copy.deepcopy(case["value"])
    elif op == "drop":
        del node[key]
    elif op == "copy":
        node[key] = _node(data, case["from"].split("."))
    else:  # append-copy: the list's first row again, with the case's changes
        node[key].append({**node[key][0], **case.get("with", {})})
    return data


def _params(kind: str, first: int = 0, last: int | None = None):
    return [pytest.param(case, case["message"], id=case["id"]) for case in CASES[kind][first:last]]


MALFORMED = _params("event_export")


def _broken(event_id: int, case: dict):
    return _edit(_exported(event_id), case)


def _set(path: str, value) -> dict:
    return {"op": "set", "path": path, "value": value}


@pytest.mark.django_db
@pytest.mark.parametrize(("case", "message"), MALFORMED)
def test_a_malformed_file_names_the_place_and_writes_nothing(twins, case, message):
    data = _broken(twins.pk, case)
    before, users = db_state(), _users()
    with pytest.raises(ValidationError) as refused, transaction.atomic():
        import_event(data, connection=connection)
    assert message in " ".join(refused.value.messages)
    assert changed_tables(before, db_state()) == []
    assert _users() == users


@pytest.mark.django_db
@pytest.mark.parametrize(("case", "message"), MALFORMED)
def test_the_command_shows_the_same_message_and_writes_nothing(twins, tmp_path, case, message):
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(_broken(twins.pk, case)))
    before = db_state()
    with pytest.raises(CommandError) as refused:
        call_command("import_event", str(path), stdout=StringIO())
    assert message in str(refused.value)
    assert "Traceback" not in str(refused.value)
    assert changed_tables(before, db_state()) == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(b"{not json", "Cannot read", id="not-json"),
        pytest.param(b"[1, 2]", "must be a JSON object", id="a-list"),
        pytest.param(b"\xff\xfe{}", "Cannot read", id="not-utf8"),
        pytest.param(b"[" * 100_000, "Cannot read", id="too-deep"),
        pytest.param(b'{"n": 1' + b"0" * 5000 + b"}", "Cannot read", id="too-many-digits"),
    ],
)
def test_the_command_refuses_what_is_not_json_with_a_message(tmp_path, content, message):
    path = tmp_path / "file.json"
    path.write_bytes(content)
    before = db_state()
    with pytest.raises(CommandError, match=message):
        call_command("import_event", str(path), stdout=StringIO())
    assert changed_tables(before, db_state()) == []


# ---------------------------------------------------------------------------------------
# Limits: one definition, the forms' and the imports'
# ---------------------------------------------------------------------------------------


def _form_takes(form_class, **data) -> bool:
    return form_class(data=data).is_valid()


@BOTH
@pytest.mark.parametrize(
    ("path", "limit", "form"),
    [
        pytest.param(
            "recipes.0.yield_per_batch",
            YIELD_PER_BATCH.maximum,
            lambda n: _form_takes(
                RecipeForm, name="Spritz", yield_per_batch=n, yield_unit="items", category=""
            ),
            id="yield-per-batch",
        ),
        pytest.param(
            "production_targets.0.target_batches",
            AMOUNT.maximum,
            lambda n: _form_takes(target_edit_form(PRODUCTION), target_batches=n),
            id="target-batches",
        ),
        pytest.param(
            "assignments.0.quantity",
            PACKED.maximum,
            lambda n: _form_takes(AssignmentEditForm, quantity=n),
            id="assignment-quantity",
        ),
    ],
)
def test_an_imported_amount_obeys_the_limit_of_its_form(twins, path, limit, form):
    assert form(limit)
    assert not form(limit + 1)
    with transaction.atomic(using="other"):
        import_event(_broken(twins.pk, _set(path, limit)), connection=_other())
    refused = pytest.raises(ValidationError, match=f"must be at most {limit:,}")
    with refused, transaction.atomic(using="other"):
        import_event(_broken(twins.pk, _set(path, limit + 1)), connection=_other())


@pytest.mark.django_db
def test_imported_notes_and_names_obey_the_forms_lengths(twins):
    assert not _form_takes(AssignmentEditForm, quantity=1, notes="x" * (NOTES + 1))
    data = _broken(twins.pk, _set("assignments.0.notes", "x" * (NOTES + 1)))
    notes = "assignments\\[0\\].notes: is 2,001 characters"
    with pytest.raises(ValidationError, match=notes), transaction.atomic():
        import_event(data, connection=connection)
    data = _broken(twins.pk, _set("recipients.0.household", "x" * 201))
    household = "recipients\\[0\\].household: is 201 characters"
    with pytest.raises(ValidationError, match=household), transaction.atomic():
        import_event(data, connection=connection)


def _baketracker(case: dict) -> bytes:
    return json.dumps(_edit(json.loads(BAKETRACKER.read_bytes()), case)).encode()


BAKETRACKER_CASES = _params("baketracker")


@pytest.mark.django_db
@pytest.mark.parametrize(("case", "message"), BAKETRACKER_CASES)
def test_a_baketracker_file_is_refused_with_its_place_by_the_service(case, message):
    before = db_state()
    with pytest.raises(ValidationError) as refused, transaction.atomic():
        import_baketracker(_baketracker(case), write=False, connection=connection)
    assert message in " ".join(refused.value.messages)
    assert changed_tables(before, db_state()) == []


# ---------------------------------------------------------------------------------------
# The admin page and the bake-tracker command show the message and write nothing
# ---------------------------------------------------------------------------------------

NOT_JSON = [
    pytest.param(b"{not json", "not valid JSON", id="not-json"),
    pytest.param(b"[1]", "not a bake-tracker export", id="not-an-object"),
    pytest.param(b'{"n": 1' + b"0" * 5000 + b"}", "not valid JSON", id="too-many-digits"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("content", "message"), NOT_JSON + BAKETRACKER_CASES)
def test_the_admin_import_page_shows_the_message_and_writes_nothing(admin_client, content, message):
    if isinstance(content, dict):
        content = _baketracker(content)
    before, users = db_state(), _users()
    file = SimpleUploadedFile("export.json", content, "application/json")
    response = admin_client.post(reverse("admin:planning_event_import_baketracker"), {"file": file})
    assert response.status_code == 200
    page = html.unescape(response.content.decode())
    assert message in page
    assert 'name="token"' not in page
    assert changed_tables(before, db_state()) == []
    assert _users() == users


@pytest.mark.django_db
@pytest.mark.parametrize(("case", "message"), BAKETRACKER_CASES)
def test_the_baketracker_command_shows_the_message_and_writes_nothing(tmp_path, case, message):
    path = tmp_path / "export.json"
    path.write_bytes(_baketracker(case))
    before = db_state()
    with pytest.raises(CommandError) as refused:
        call_command("import_baketracker", str(path), stdout=StringIO())
    assert message in str(refused.value)
    assert changed_tables(before, db_state()) == []


# ---------------------------------------------------------------------------------------
# Any mutation of a valid file: a ValidationError or an import, never anything else
# ---------------------------------------------------------------------------------------

ODD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True),
    st.text(max_size=5),
    st.just("\x00"),
    st.just("x" * 300),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, (*prefix, index))


@pytest.mark.django_db
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_a_mutated_file_imports_or_is_refused_with_a_validation_error(twins, data):
    exported = _exported(twins.pk, name=f"Mutated {data.draw(st.integers(0, 10**6))}")
    paths = [p for p in _paths(exported) if p]
    path = data.draw(st.sampled_from(paths))
    node = exported
    for part in path[:-1]:
        node = node[part]
    if data.draw(st.booleans()) and isinstance(node, dict):
        del node[path[-1]]
    else:
        node[path[-1]] = data.draw(ODD_VALUES)
    before, users = db_state(), _users()
    try:
        with transaction.atomic():
            import_event(exported, connection=connection)
    except ValidationError:
        assert changed_tables(before, db_state()) == []
        assert _users() == users
