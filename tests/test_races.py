"""Two requests that meet, over the app's own views, on PostgreSQL (SQLite serialises
writers and hides every one of these races). Each scenario releases its requests together
(tests/concurrency.py) and holds the first writer's transaction open for a moment after its
write (a signal receiver that sleeps), so the second always arrives while the first still
holds its locks. Each has a control: the same race without the protection gives the 500
the test guards against."""

import time

import pytest
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.test import Client
from django.urls import reverse

from eventplanner import domain
from eventplanner.htmx import Attempt
from fulfillment import assignments as assignment_services
from fulfillment.models import EventRecipientPackage, Package, Recipient
from fulfillment.views import assignments as assignment_views
from fulfillment.views import catalog as fulfillment_catalog_views
from fulfillment.views import status as status_views
from planning import runs as run_services
from planning import targets as target_services
from planning.models import Event, EventProductionTarget, ProductionRun, Recipe
from tests.concurrency import real_concurrency, run_concurrently
from tests.fulfillment.factories import AssignmentFactory, PackageFactory, RecipientFactory
from tests.planning.factories import EventFactory, RecipeFactory, UserFactory

pytestmark = real_concurrency("real concurrency needs PostgreSQL")

HOLD = 0.4  # how long the first writer keeps its transaction open after writing
LATE = 0.15  # how much later the second request starts
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def hold_after(monkeypatch):
    """hold_after(signal, model): the request that writes `model` first sleeps inside its
    transaction right after the write."""
    receivers = []

    def hold(signal, model):
        def sleep(**kwargs):
            time.sleep(HOLD)

        signal.connect(sleep, sender=model, weak=False)
        receivers.append((signal, sleep, model))

    yield hold
    for signal, receiver, model in receivers:
        signal.disconnect(receiver, sender=model)


def _client() -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(UserFactory(is_superuser=True, is_staff=True))
    return client


def race(*posts: tuple) -> list:
    """POST each (url, data[, headers]) from its own client and connection, the first at once
    and the others LATE after it; the responses, in order."""
    clients = [_client() for _ in posts]

    def call(i: int):
        url, data, *headers = posts[i]
        if i:
            time.sleep(LATE)
        return clients[i].post(url, data, **(headers[0] if headers else {}))

    results = run_concurrently(len(posts), call)
    assert [kind for kind, _ in results] == ["ok"] * len(posts), results
    return [response for _, response in results]


def _text(response) -> str:
    return response.content.decode()


class _OldAttempt(Attempt):
    """The views' refusal list before races were handled: only ValidationError."""

    def __init__(self, *refusals):
        super().__init__()


# --- a delete of something already gone --------------------------------------------------


def test_double_submitted_event_delete_lands_on_the_list_saying_already_deleted(hold_after):
    event = EventFactory(name="Winter Fair")
    hold_after(post_delete, Event)
    url = reverse("planning:event_delete", args=[event.pk])
    first, second = race((url, {}), (url, {}))
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"] == reverse("planning:event_list")
    assert not Event.objects.exists()


def test_control_two_event_deletes_at_once_reach_the_gone_row(hold_after):
    event = EventFactory()
    hold_after(post_delete, Event)
    from planning import services

    def delete(i):
        time.sleep(LATE * i)
        with transaction.atomic():
            services.delete_event(event.pk, connection=transaction.get_connection())

    results = run_concurrently(2, delete)
    assert [kind for kind, _ in results] == ["ok", "error"]
    assert isinstance(results[1][1], Event.DoesNotExist)  # what the view used to let through


@pytest.mark.parametrize(
    ("catalog", "factory", "model"),
    [("recipient", RecipientFactory, Recipient), ("package", PackageFactory, Package)],
)
def test_double_submitted_catalog_delete_lands_on_the_list(hold_after, catalog, factory, model):
    entry = factory()
    hold_after(post_delete, model)
    url = reverse(f"fulfillment:{catalog}_delete", args=[entry.pk])
    first, second = race((url, {}), (url, {}))
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"] == reverse(f"fulfillment:{catalog}_list")
    assert not model.objects.exists()


def test_control_a_double_catalog_delete_without_its_handling_is_a_500(hold_after, monkeypatch):
    entry = PackageFactory()
    hold_after(post_delete, Package)
    monkeypatch.setattr(fulfillment_catalog_views, "Attempt", _OldAttempt)
    url = reverse("fulfillment:package_delete", args=[entry.pk])
    assert [r.status_code for r in race((url, {}), (url, {}))] == [302, 500]


def test_double_submitted_assignment_remove_lands_where_the_first_did(hold_after):
    row = AssignmentFactory()
    hold_after(post_delete, EventRecipientPackage)
    url = reverse("fulfillment:assignment_remove", args=[row.event_id, row.pk])
    first, second = race((url, {"confirm": "yes"}), (url, {"confirm": "yes"}))
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    assert not EventRecipientPackage.objects.exists()


def test_control_a_double_remove_without_its_handling_is_a_500(hold_after, monkeypatch):
    row = AssignmentFactory()
    hold_after(post_delete, EventRecipientPackage)
    monkeypatch.setattr(assignment_views, "Attempt", _OldAttempt)
    url = reverse("fulfillment:assignment_remove", args=[row.event_id, row.pk])
    responses = race((url, {"confirm": "yes"}), (url, {"confirm": "yes"}))
    assert [r.status_code for r in responses] == [302, 500]


# --- a click or an edit on a row removed meanwhile ----------------------------------------


CLICK = {"new_status": "ready", "expected_status": "pending"}


def _posted_on_a_row_removed_meanwhile(hold_after, action: str, data: dict):
    """Remove an assignment while `action` (the URL name of a row's form) is posted on it,
    with htmx; the answer to that post."""
    row = AssignmentFactory()
    hold_after(post_delete, EventRecipientPackage)
    remove = reverse("fulfillment:assignment_remove", args=[row.event_id, row.pk])
    url = reverse(f"fulfillment:{action}", args=[row.event_id, row.pk])
    return race((remove, {"confirm": "yes"}), (url, data, HTMX))[1]


def test_a_status_click_on_a_row_removed_meanwhile_says_so(hold_after):
    click = _posted_on_a_row_removed_meanwhile(hold_after, "assignment_status", CLICK)
    assert click.status_code == 200
    assert "removed from the event meanwhile" in _text(click)


def test_control_the_click_without_its_handling_is_a_500(hold_after, monkeypatch):
    monkeypatch.setattr(status_views, "Attempt", _OldAttempt)
    click = _posted_on_a_row_removed_meanwhile(hold_after, "assignment_status", CLICK)
    assert click.status_code == 500


def test_an_edit_of_a_row_removed_meanwhile_says_so_and_keeps_the_typing(hold_after):
    data = {"quantity": "7", "notes": "nut-free, typed with care"}
    edit = _posted_on_a_row_removed_meanwhile(hold_after, "assignment_edit", data)
    assert edit.status_code == 200
    assert "removed from the event meanwhile" in _text(edit)
    assert "nut-free, typed with care" in _text(edit)


def test_control_the_edit_without_its_handling_is_a_500(hold_after, monkeypatch):
    monkeypatch.setattr(assignment_views, "Attempt", _OldAttempt)
    data = {"quantity": "7", "notes": ""}
    assert (
        _posted_on_a_row_removed_meanwhile(hold_after, "assignment_edit", data).status_code == 500
    )


# --- writes that refer to a row deleted at the same moment (foreign keys) -----------------


def _posted_while_the_event_is_deleted(hold_after, url_name: str, data: dict) -> list:
    """Delete a new event while `url_name` is posted for it with `data` and one recipe's
    id (as "recipe"); the two answers."""
    event, recipe = EventFactory(), RecipeFactory(name="Gingerbread")
    hold_after(post_delete, Event)
    delete = reverse("planning:event_delete", args=[event.pk])
    url = reverse(f"planning:{url_name}", args=[event.pk])
    return race((delete, {}), (url, {"recipe": recipe.pk, **data}))


def test_a_run_posted_while_its_event_is_deleted_says_so_and_keeps_the_typing(hold_after):
    data = {"num_batches": "3", "notes": "oven two ran hot"}
    delete, run = _posted_while_the_event_is_deleted(hold_after, "production_run_add", data)
    assert delete.status_code == 302
    assert run.status_code == 410
    assert "deleted meanwhile" in _text(run)
    assert "oven two ran hot" in _text(run)
    assert not ProductionRun.objects.exists()


def test_control_a_run_without_the_lock_fails_at_commit_with_a_500(hold_after, monkeypatch):
    monkeypatch.setattr(run_services, "lock_referenced", domain.require_exists)
    data = {"num_batches": "3", "notes": ""}
    _, run = _posted_while_the_event_is_deleted(hold_after, "production_run_add", data)
    assert run.status_code == 500


def _unlocked_item_sql(monkeypatch):
    locked = target_services._item_sql
    monkeypatch.setattr(
        target_services,
        "_item_sql",
        lambda kind, alias: locked(kind, alias).replace(" FOR KEY SHARE", ""),
    )


def test_a_target_added_while_its_event_is_deleted_says_so(hold_after):
    data = {"target_batches": "4", "notes": "for the school"}
    _, add = _posted_while_the_event_is_deleted(hold_after, "production_target_add", data)
    assert add.status_code == 410
    assert "for the school" in _text(add)
    assert not EventProductionTarget.objects.exists()


def test_control_a_target_without_the_lock_fails_at_commit(hold_after, monkeypatch):
    _unlocked_item_sql(monkeypatch)
    data = {"target_batches": "4", "notes": ""}
    _, add = _posted_while_the_event_is_deleted(hold_after, "production_target_add", data)
    assert add.status_code == 500


def _target_added_while_its_recipe_is_deleted(hold_after) -> list:
    """Delete a recipe while a target of it is added to an event; the two answers."""
    event, recipe = EventFactory(), RecipeFactory()
    hold_after(post_delete, Recipe)
    delete = reverse("planning:recipe_delete", args=[recipe.pk])
    add = reverse("planning:production_target_add", args=[event.pk])
    return race((delete, {}), (add, {"recipe": recipe.pk, "target_batches": "2", "notes": ""}))


def test_a_target_for_a_recipe_deleted_meanwhile_is_a_form_error(hold_after):
    delete, add = _target_added_while_its_recipe_is_deleted(hold_after)
    assert delete.status_code == 302
    assert add.status_code == 200
    assert "recipe was deleted meanwhile" in _text(add)
    assert not EventProductionTarget.objects.exists()


def test_control_the_recipe_race_without_the_lock_fails_at_commit(hold_after, monkeypatch):
    _unlocked_item_sql(monkeypatch)
    assert _target_added_while_its_recipe_is_deleted(hold_after)[1].status_code == 500


def _delete_package_and_assign(event, recipient, package) -> list:
    delete = reverse("fulfillment:package_delete", args=[package.pk])
    assign = reverse("fulfillment:assignment_new", args=[event.pk])
    data = {"recipient": recipient.pk, "package": package.pk, "quantity": "1", "notes": ""}
    return race((delete, {}), (assign, data))


def test_an_assignment_of_a_package_deleted_meanwhile_is_a_form_error(hold_after):
    event, recipient, package = EventFactory(), RecipientFactory(), PackageFactory()
    hold_after(post_delete, Package)
    delete, assign = _delete_package_and_assign(event, recipient, package)
    assert delete.status_code == 302
    assert assign.status_code == 200
    assert "That package no longer exists" in _text(assign)
    assert not EventRecipientPackage.objects.exists()


def test_control_the_assignment_without_the_lock_fails_at_commit(hold_after, monkeypatch):
    event, recipient, package = EventFactory(), RecipientFactory(), PackageFactory()
    hold_after(post_delete, Package)
    monkeypatch.setattr(assignment_services, "lock_referenced", domain.require_exists)
    assert _delete_package_and_assign(event, recipient, package)[1].status_code == 500


# --- a unique name taken at the same moment ----------------------------------------------

ITEMS = {"items-TOTAL_FORMS": "0", "items-INITIAL_FORMS": "0"}


def _rename_both(first, second) -> list:
    return race(
        (
            reverse("fulfillment:package_edit", args=[first.pk]),
            {"name": "Gift Box", "description": "", **ITEMS},
        ),
        (
            reverse("fulfillment:package_edit", args=[second.pk]),
            {"name": "gift box", "description": "", **ITEMS},
        ),
    )


def test_two_packages_renamed_at_once_to_one_name_get_the_checks_message(hold_after):
    first, second = PackageFactory(name="A"), PackageFactory(name="B")
    hold_after(post_save, Package)
    saved, refused = _rename_both(first, second)
    assert saved.status_code == 302
    assert refused.status_code == 200
    assert "There is already a package called &#x27;gift box&#x27;" in _text(refused)
    assert sorted(Package.objects.values_list("name", flat=True)) == ["B", "Gift Box"]


def test_control_the_rename_without_its_handling_is_a_500(hold_after, monkeypatch):
    first, second = PackageFactory(name="A"), PackageFactory(name="B")
    hold_after(post_save, Package)
    monkeypatch.setattr(fulfillment_catalog_views, "Attempt", _OldAttempt)
    assert [r.status_code for r in _rename_both(first, second)] == [302, 500]
