"""The fulfillment page and its row actions, with and without htmx."""

import re

import pytest
from django.urls import reverse

from fulfillment.models import EventRecipientPackage, FulfillmentStatusChange
from tests.fulfillment.conftest import HTMX
from tests.fulfillment.factories import AssignmentFactory, RecipientFactory
from tests.planning.factories import EventFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def event():
    return EventFactory(name="Christmas")


@pytest.fixture
def row(event):
    return AssignmentFactory(event=event, recipient=RecipientFactory(name="Aunt Mary"))


def page_url(event, query=""):
    return reverse("fulfillment:event_fulfillment", args=[event.pk]) + query


def action_url(name, row, event=None):
    event_id = event.pk if event else row.event_id
    return reverse(f"fulfillment:{name}", args=[event_id, row.pk])


def status_of(row):
    return EventRecipientPackage.objects.get(pk=row.pk).fulfillment_status


def count_in(html, status):
    match = re.search(
        rf'id="count-{status}".*?<strong class="count-number">(\d+)</strong>', html, re.S
    )
    return int(match.group(1))


def move(row, status, user):
    from django.db import connection, transaction

    from fulfillment import services

    with transaction.atomic():
        services.update_fulfillment_status(row.pk, status, changed_by=user, connection=connection)


# --- the page ---------------------------------------------------------------------------


def test_page_needs_a_signed_in_user(client, event):
    response = client.get(page_url(event))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_page_shows_rows_counts_and_the_next_action(client_as, event, row):
    AssignmentFactory(event=event, ready=True)
    response = client_as("Coordinators").get(page_url(event))
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" in html
    assert "Aunt Mary" in html
    assert (count_in(html, "pending"), count_in(html, "ready"), count_in(html, "total")) == (
        1,
        1,
        2,
    )
    assert "Mark ready" in html
    assert "Mark delivered" in html
    assert f'href="/events/{event.pk}/"' in html  # back to the dashboard
    assert "HX-Request" in response["Vary"]


def test_page_for_htmx_is_the_list_fragment_with_counts(client_as, event, row):
    response = client_as("Packers").get(page_url(event, "?status=pending"), **HTMX)
    html = response.content.decode()
    assert "<html" not in html
    assert html.count('id="assignments"') == 1
    assert (
        'id="status-counts" class="status-counts" aria-label="Packages by status" hx-swap-oob'
        in html
    )
    assert "HX-Request" in response["Vary"]


def test_page_filters_by_status_and_searches_by_recipient(client_as, event, row):
    AssignmentFactory(event=event, ready=True, recipient=RecipientFactory(name="Uncle Bob"))
    client = client_as("Packers")
    html = client.get(page_url(event, "?status=ready")).content.decode()
    assert "Uncle Bob" in html
    assert "Aunt Mary" not in html
    html = client.get(page_url(event, "?q=aunt")).content.decode()
    assert "Aunt Mary" in html
    assert "Uncle Bob" not in html


def test_page_ignores_a_mangled_filter(client_as, event, row):
    response = client_as("Packers").get(page_url(event, "?status=lost&page=x"))
    assert response.status_code == 200
    assert "Aunt Mary" in response.content.decode()


def test_page_of_unknown_event_is_404(client_as, event):
    assert (
        client_as("Packers").get(page_url(event).replace(str(event.pk), "999")).status_code == 404
    )


def test_page_shows_actions_by_role(client_as, event, row):
    packer = client_as("Packers", "p1").get(page_url(event)).content.decode()
    assert "Mark ready" in packer
    assert ">Edit<" not in packer
    assert "Undo…" not in packer
    planner = client_as("Planners", "pl1").get(page_url(event)).content.decode()
    assert "Mark ready" not in planner
    assert ">Edit<" in planner
    assert "Assign a package" in planner


def test_page_paginates_and_keeps_the_filter_in_links(client_as, event):
    for n in range(55):
        AssignmentFactory(event=event, recipient=RecipientFactory(name=f"R{n:03d}"))
    html = client_as("Packers").get(page_url(event, "?status=pending&page=2")).content.decode()
    assert "R050" in html
    assert "R000" not in html
    assert "Page 2 of 2" in html
    assert "?status=pending&amp;page=1" in html


# --- moving one row ---------------------------------------------------------------------


def test_mark_ready_with_htmx_swaps_the_row_and_the_counts(client_as, event, row):
    client = client_as("Packers")
    response = client.post(
        action_url("assignment_status", row),
        {"new_status": "ready", "expected_status": "pending"},
        **HTMX,
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith(f'<tbody id="assignment-{row.pk}"')
    assert 'data-status="ready"' in html
    assert "Mark delivered" in html
    assert 'hx-swap-oob="true"' in html
    assert (count_in(html, "pending"), count_in(html, "ready")) == (0, 1)
    [change] = FulfillmentStatusChange.objects.filter(assignment=row)
    assert (change.changed_by, change.source) == (client.user, "page")


def test_mark_ready_without_htmx_redirects_back_to_the_filtered_page(client_as, event, row):
    client = client_as("Packers")
    response = client.post(
        action_url("assignment_status", row) + "?status=pending&q=aunt",
        {"new_status": "ready", "expected_status": "pending"},
    )
    assert response.status_code == 302
    assert response["Location"] == page_url(event, f"?status=pending&q=aunt#assignment-{row.pk}")
    assert status_of(row) == "ready"
    page = client.get(response["Location"]).content.decode()
    assert "is now ready" in page


def test_stale_click_shows_the_row_as_it_now_is_with_who_changed_it(client_as, event, row):
    bob = UserFactory(username="bob", is_superuser=True)
    move(row, "ready", bob)
    move(row, "delivered", bob)
    response = client_as("Packers").post(
        action_url("assignment_status", row),
        {"new_status": "ready", "expected_status": "pending"},
        **HTMX,
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert re.search(r"Changed by bob at \d\d:\d\d: this package is now delivered", html)
    assert 'data-status="delivered"' in html
    assert "Mark " not in html
    assert FulfillmentStatusChange.objects.filter(assignment=row).count() == 2


def test_stale_click_without_htmx_redirects_with_the_conflict_message(client_as, event, row):
    bob = UserFactory(username="bob", is_superuser=True)
    move(row, "ready", bob)
    move(row, "delivered", bob)
    client = client_as("Packers")
    response = client.post(
        action_url("assignment_status", row),
        {"new_status": "ready", "expected_status": "pending"},
        follow=True,
    )
    assert "Changed by bob at" in response.content.decode()
    assert status_of(row) == "delivered"


def test_double_click_changes_the_row_once_and_shows_no_error(client_as, event, row):
    client = client_as("Packers")
    data = {"new_status": "ready", "expected_status": "pending"}
    first = client.post(action_url("assignment_status", row), data, **HTMX)
    second = client.post(action_url("assignment_status", row), data, **HTMX)
    assert first.status_code == second.status_code == 200
    assert 'role="alert"' not in second.content.decode()
    assert 'data-status="ready"' in second.content.decode()
    assert FulfillmentStatusChange.objects.filter(assignment=row).count() == 1


def test_skipping_a_step_is_refused_in_the_row(client_as, event, row):
    response = client_as("Packers").post(
        action_url("assignment_status", row),
        {"new_status": "delivered", "expected_status": "pending"},
        **HTMX,
    )
    html = response.content.decode()
    assert "Cannot change the status from pending to delivered" in html
    assert status_of(row) == "pending"


def test_an_unknown_status_is_refused_in_the_row(client_as, event, row):
    response = client_as("Packers").post(
        action_url("assignment_status", row), {"new_status": "lost"}, **HTMX
    )
    assert "not a status this page can set" in response.content.decode()
    assert status_of(row) == "pending"


@pytest.mark.parametrize("role", ["Planners", None])
def test_moving_a_status_needs_the_permission(client_as, event, row, role):
    client = client_as(role) if role else client_as("Planners", "other")
    if role is None:
        client.user.groups.clear()
    data = {"new_status": "ready", "expected_status": "pending"}
    assert client.post(action_url("assignment_status", row), data, **HTMX).status_code == 403
    assert client.post(action_url("assignment_status", row), data).status_code == 403
    assert status_of(row) == "pending"


def test_moving_a_row_of_another_event_is_404(client_as, event, row):
    other = EventFactory()
    url = action_url("assignment_status", row, event=other)
    response = client_as("Packers").post(url, {"new_status": "ready"}, **HTMX)
    assert response.status_code == 404
    assert status_of(row) == "pending"


def test_status_change_is_not_possible_with_get(client_as, event, row):
    response = client_as("Packers").get(action_url("assignment_status", row))
    assert response.status_code == 405
    assert status_of(row) == "pending"


# --- bulk -------------------------------------------------------------------------------


def bulk_url(event, query=""):
    return reverse("fulfillment:bulk_status", args=[event.pk]) + query


def test_bulk_mark_ready_with_htmx_changes_all_and_updates_counts(client_as, event):
    rows = AssignmentFactory.create_batch(3, event=event)
    response = client_as("Packers").post(
        bulk_url(event), {"ids": [r.pk for r in rows], "new_status": "ready"}, **HTMX
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "3 packages marked ready." in html
    assert html.count('data-status="ready"') == 3
    assert count_in(html, "ready") == 3
    assert [status_of(r) for r in rows] == ["ready"] * 3


def test_bulk_without_htmx_redirects_with_the_message(client_as, event):
    rows = AssignmentFactory.create_batch(2, event=event, ready=True)
    client = client_as("Packers")
    response = client.post(
        bulk_url(event, "?status=ready"), {"ids": [r.pk for r in rows], "new_status": "delivered"}
    )
    assert response.status_code == 302
    assert response["Location"] == page_url(event, "?status=ready")
    assert "2 packages marked delivered." in client.get(response["Location"]).content.decode()


def test_bulk_refusal_changes_nothing_and_lists_the_blocking_rows(client_as, event):
    ready = AssignmentFactory(event=event, ready=True)
    bob = AssignmentFactory(event=event, recipient=RecipientFactory(name="Uncle Bob"))
    zoe = AssignmentFactory(event=event, recipient=RecipientFactory(name="Zoe"))
    response = client_as("Packers").post(
        bulk_url(event), {"ids": [ready.pk, bob.pk, zoe.pk], "new_status": "delivered"}, **HTMX
    )
    html = response.content.decode()
    assert "Nothing was changed: 2 of the selected packages cannot go to delivered" in html
    blocked = re.findall(r'<ul class="blocked">(.*?)</ul>', html, re.S)[0]
    assert f"Uncle Bob / {bob.package.name}" in blocked
    assert f"Zoe / {zoe.package.name}" in blocked
    assert ready.recipient.name not in blocked
    assert [status_of(r) for r in (ready, bob, zoe)] == ["ready", "pending", "pending"]
    assert not FulfillmentStatusChange.objects.exists()
    # the selection is kept so the user can adjust it
    assert f'value="{bob.pk}" form="bulk-form" id="select-{bob.pk}" checked' in html


def test_bulk_refusal_without_htmx_lists_the_rows_in_the_message(client_as, event):
    bob = AssignmentFactory(event=event, recipient=RecipientFactory(name="Uncle Bob"))
    client = client_as("Packers")
    response = client.post(
        bulk_url(event), {"ids": [bob.pk], "new_status": "delivered"}, follow=True
    )
    assert f"Uncle Bob / {bob.package.name} (pending)" in response.content.decode()


def test_bulk_with_nothing_selected_asks_for_a_selection(client_as, event, row):
    response = client_as("Packers").post(bulk_url(event), {"new_status": "ready"}, **HTMX)
    assert "Select at least one package first." in response.content.decode()


def test_bulk_with_a_row_of_another_event_is_404(client_as, event, row):
    foreign = AssignmentFactory()
    response = client_as("Packers").post(
        bulk_url(event), {"ids": [row.pk, foreign.pk], "new_status": "ready"}, **HTMX
    )
    assert response.status_code == 404
    assert [status_of(row), status_of(foreign)] == ["pending", "pending"]


def test_bulk_needs_the_status_permission(client_as, event, row):
    response = client_as("Planners").post(
        bulk_url(event), {"ids": [row.pk], "new_status": "ready"}, **HTMX
    )
    assert response.status_code == 403
    assert status_of(row) == "pending"


# --- history and undo -------------------------------------------------------------------


def test_history_with_htmx_opens_under_the_row(client_as, event, row):
    bob = UserFactory(username="bob", is_superuser=True)
    move(row, "ready", bob)
    response = client_as("Packers").get(action_url("assignment_history", row), **HTMX)
    html = response.content.decode()
    assert html.lstrip().startswith(f'<tbody id="assignment-{row.pk}"')
    assert "Status history" in html
    assert re.search(
        r"Pending</span> → <span[^>]*>Ready</span>\s*by bob\s*<span class=\"muted\">\(page\)", html
    )
    assert "Hide history" in html
    assert "HX-Request" in response["Vary"]


def test_history_without_htmx_is_the_assignment_page(client_as, event, row):
    move(row, "ready", None)
    html = client_as("Packers").get(action_url("assignment_history", row)).content.decode()
    assert "<html" in html
    assert "by a script" in html


def test_history_of_a_row_of_another_event_is_404(client_as, event, row):
    url = action_url("assignment_history", row, event=EventFactory())
    assert client_as("Packers").get(url).status_code == 404


def test_row_detail_with_htmx_is_the_plain_row(client_as, event, row):
    html = client_as("Packers").get(action_url("assignment_detail", row), **HTMX).content.decode()
    assert html.lstrip().startswith(f'<tbody id="assignment-{row.pk}"')
    assert "Status history" not in html


@pytest.mark.parametrize("role", ["Packers", "Planners"])
def test_undo_is_refused_without_the_undo_permission(client_as, event, role):
    row = AssignmentFactory(event=event, delivered=True)
    client = client_as(role)
    assert client.get(action_url("assignment_undo", row), **HTMX).status_code == 403
    response = client.post(
        action_url("assignment_undo", row),
        {"reason": "oops", "expected_status": "delivered"},
        **HTMX,
    )
    assert response.status_code == 403
    assert status_of(row) == "delivered"


def test_undo_form_with_htmx_opens_in_the_row(client_as, event):
    row = AssignmentFactory(event=event, delivered=True)
    html = (
        client_as("Coordinators").get(action_url("assignment_undo", row), **HTMX).content.decode()
    )
    assert "Reason for stepping back from delivered to ready" in html
    assert 'name="reason"' in html


def test_undo_with_htmx_steps_back_and_shows_the_reason_in_the_history(client_as, event):
    row = AssignmentFactory(event=event, delivered=True)
    client = client_as("Coordinators")
    response = client.post(
        action_url("assignment_undo", row),
        {"reason": "Delivered to the wrong house", "expected_status": "delivered"},
        **HTMX,
    )
    html = response.content.decode()
    assert status_of(row) == "ready"
    assert "Stepped back to ready." in html
    assert "Reason: Delivered to the wrong house" in html
    assert count_in(html, "ready") == 1
    [change] = FulfillmentStatusChange.objects.filter(assignment=row)
    assert (change.from_status, change.to_status, change.changed_by) == (
        "delivered",
        "ready",
        client.user,
    )


def test_undo_without_a_reason_re_renders_the_form_with_the_error(client_as, event):
    row = AssignmentFactory(event=event, ready=True)
    client = client_as("Coordinators")
    for headers in (HTMX, {}):
        response = client.post(
            action_url("assignment_undo", row),
            {"reason": "   ", "expected_status": "ready"},
            **headers,
        )
        html = response.content.decode()
        assert response.status_code == 200
        assert "Say why the status goes back" in html or "A reason is required" in html
        assert 'aria-invalid="true"' in html or "form-errors" in html
    assert status_of(row) == "ready"


def test_undo_without_htmx_redirects_to_the_assignment_page_with_history(client_as, event):
    row = AssignmentFactory(event=event, ready=True)
    client = client_as("Coordinators")
    response = client.post(
        action_url("assignment_undo", row), {"reason": "too early", "expected_status": "ready"}
    )
    assert response.status_code == 302
    assert response["Location"] == action_url("assignment_detail", row)
    html = client.get(response["Location"]).content.decode()
    assert "Stepped back to pending." in html
    assert "Reason: too early" in html


def test_stale_undo_shows_the_row_as_it_now_is(client_as, event):
    row = AssignmentFactory(event=event, ready=True)
    bob = UserFactory(username="bob", is_superuser=True)
    move(row, "delivered", bob)
    response = client_as("Coordinators").post(
        action_url("assignment_undo", row), {"reason": "oops", "expected_status": "ready"}, **HTMX
    )
    html = response.content.decode()
    assert "Changed by bob at" in html
    assert status_of(row) == "delivered"


def test_undo_of_a_pending_row_is_refused_with_the_reason(client_as, event, row):
    response = client_as("Coordinators").post(
        action_url("assignment_undo", row), {"reason": "oops", "expected_status": "pending"}, **HTMX
    )
    assert "there is no earlier status to go back to" in response.content.decode()
    assert not FulfillmentStatusChange.objects.exists()


def test_undo_without_the_status_the_page_showed_is_refused_on_the_form(client_as, event):
    row = AssignmentFactory(event=event, delivered=True)
    response = client_as("Coordinators").post(
        action_url("assignment_undo", row), {"reason": "oops"}, **HTMX
    )
    assert "did not say which status it showed" in response.content.decode()
    assert not FulfillmentStatusChange.objects.exists()


def test_undo_posted_twice_steps_back_once(client_as, event):
    row = AssignmentFactory(event=event, delivered=True)
    client = client_as("Coordinators")
    for _ in range(2):
        response = client.post(
            action_url("assignment_undo", row), {"reason": "oops", "expected_status": "delivered"}
        )
        assert response.status_code == 302
    row.refresh_from_db()
    assert row.fulfillment_status == "ready"
    assert FulfillmentStatusChange.objects.filter(assignment=row).count() == 1


# --- edit and remove --------------------------------------------------------------------


def test_edit_form_with_htmx_opens_in_the_row(client_as, event, row):
    html = client_as("Planners").get(action_url("assignment_edit", row), **HTMX).content.decode()
    assert 'name="quantity"' in html
    assert html.lstrip().startswith(f'<tbody id="assignment-{row.pk}"')


def test_edit_without_htmx_is_the_assignment_page_with_the_form(client_as, event, row):
    html = client_as("Planners").get(action_url("assignment_edit", row)).content.decode()
    assert "<html" in html
    assert 'id="edit-quantity"' in html


def test_edit_with_htmx_saves_and_returns_the_row(client_as, event, row):
    response = client_as("Planners").post(
        action_url("assignment_edit", row), {"quantity": "3", "notes": "No nuts"}, **HTMX
    )
    html = response.content.decode()
    assert "Saved." in html
    assert "No nuts" in html
    row.refresh_from_db()
    assert (row.quantity, row.notes) == (3, "No nuts")


def test_edit_without_htmx_redirects(client_as, event, row):
    response = client_as("Planners").post(
        action_url("assignment_edit", row), {"quantity": "2", "notes": ""}
    )
    assert response.status_code == 302
    assert response["Location"] == page_url(event, f"#assignment-{row.pk}")


@pytest.mark.parametrize("quantity", ["0", "-1", "2.5", "", "x"])
def test_edit_refuses_a_bad_quantity_with_a_200_form(client_as, event, row, quantity):
    client = client_as("Planners")
    for headers in (HTMX, {}):
        response = client.post(
            action_url("assignment_edit", row), {"quantity": quantity, "notes": ""}, **headers
        )
        assert response.status_code == 200
        assert 'class="field-error"' in response.content.decode()
    row.refresh_from_db()
    assert row.quantity == 1


def test_edit_needs_the_assignment_permission(client_as, event, row):
    client = client_as("Packers")
    assert client.get(action_url("assignment_edit", row)).status_code == 403
    response = client.post(action_url("assignment_edit", row), {"quantity": "5"}, **HTMX)
    assert response.status_code == 403
    row.refresh_from_db()
    assert row.quantity == 1


def test_remove_pending_row_with_htmx_empties_the_row_and_updates_counts(client_as, event, row):
    response = client_as("Planners").post(action_url("assignment_remove", row), **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert f'id="assignment-{row.pk}"' not in html
    assert count_in(html, "total") == 0
    assert f"Removed {row.package.name} for Aunt Mary." in html
    assert not EventRecipientPackage.objects.filter(pk=row.pk).exists()


def test_remove_without_htmx_asks_first_then_redirects(client_as, event, row):
    client = client_as("Planners")
    ask = client.post(action_url("assignment_remove", row))
    assert ask.status_code == 200
    assert "Remove</button>" in ask.content.decode()
    assert EventRecipientPackage.objects.filter(pk=row.pk).exists()
    response = client.post(action_url("assignment_remove", row), {"confirm": "yes"})
    assert response.status_code == 302
    assert not EventRecipientPackage.objects.filter(pk=row.pk).exists()


def test_remove_of_a_row_that_moved_on_is_refused_in_the_row(client_as, event):
    row = AssignmentFactory(event=event, ready=True)
    response = client_as("Planners").post(action_url("assignment_remove", row), **HTMX)
    assert "Only a pending assignment that was never marked ready" in response.content.decode()
    assert EventRecipientPackage.objects.filter(pk=row.pk).exists()


def test_status_change_announces_the_result_and_keeps_focus_on_the_row(client_as, event, row):
    html = (
        client_as("Packers")
        .post(
            action_url("assignment_status", row),
            {"new_status": "ready", "expected_status": "pending"},
            **HTMX,
        )
        .content.decode()
    )
    assert 'id="live-status"' in html
    assert f"{row.recipient.name}: {row.package.name} is now ready." in html
    # The focus goes to the row's next step, held for a moment by static/js/steps.js.
    assert 'class="button primary next-action" data-step-guard autofocus' in html


def test_a_row_with_history_offers_no_remove(client_as, event):
    from tests.fulfillment.factories import StatusChangeFactory

    change = StatusChangeFactory(assignment__event=event, assignment__fulfillment_status="pending")
    html = client_as("Planners").get(page_url(event)).content.decode()
    assert "assignment_remove" not in html
    assert f"/fulfillment/{change.assignment_id}/remove/" not in html


def test_remove_needs_the_permission(client_as, event, row):
    assert client_as("Packers").post(action_url("assignment_remove", row)).status_code == 403
    assert EventRecipientPackage.objects.filter(pk=row.pk).exists()


def test_bulk_with_an_id_too_large_for_the_database_is_a_message_not_a_500(client_as, event):
    row = AssignmentFactory(event=event)
    response = client_as("Packers").post(
        bulk_url(event), {"ids": [row.pk, 10**20], "new_status": "ready"}, **HTMX
    )
    assert response.status_code == 200
    assert "Choose packages from the list." in response.content.decode()
    assert status_of(row) == "pending"


def test_filtering_in_place_moves_the_export_links_and_tabs_with_it(client_as, event):
    AssignmentFactory(event=event, ready=True, recipient=RecipientFactory(name="Garcia"))
    html = (
        client_as("Packers")
        .get(page_url(event), {"status": "ready", "q": "garcia"}, **HTMX)
        .content.decode()
    )
    assert 'id="fulfillment-tools" class="row no-print" hx-swap-oob="true"' in html
    assert "export.csv?status=ready&amp;q=garcia" in html
    assert "packing-list/?status=ready" in html
    # The status tabs keep the search.
    assert "?status=pending&amp;q=garcia" in html


def test_a_bad_page_number_keeps_the_status_and_search(client_as, event):
    AssignmentFactory(event=event, ready=True, recipient=RecipientFactory(name="Garcia"))
    AssignmentFactory(event=event, recipient=RecipientFactory(name="Garcia Jr"))
    html = (
        client_as("Packers")
        .get(page_url(event), {"status": "ready", "q": "garcia", "page": "2000000000"}, **HTMX)
        .content.decode()
    )
    assert html.count('class="assignment"') == 1


@pytest.mark.parametrize("event_id", [1, 11, 101])
@pytest.mark.parametrize("row_id", [1, 10, 11, 111, 2**40])
def test_row_urls_built_from_prefixes_are_the_reversed_urls(event_id, row_id):
    from fulfillment.views import RowDisplayer

    event = EventFactory.build(pk=event_id)
    row = AssignmentFactory.build(
        pk=row_id, event=event, recipient=RecipientFactory.build(pk=row_id)
    )
    row.last_change_source = row.last_changed_by = None

    display = RowDisplayer(event)(row)

    assert display.url == reverse("fulfillment:assignment_detail", args=[event_id, row_id])
    assert display.recipient_url == reverse("fulfillment:recipient_detail", args=[row_id])


def test_a_rows_history_undo_and_edit_keep_the_pages_filter(client_as, event):
    row = AssignmentFactory(event=event, ready=True, recipient=RecipientFactory(name="Aunt Mary"))
    client = client_as("Coordinators")
    query = "?status=ready&q=Mary"
    page = client.get(page_url(event, query)).content.decode()
    suffix = "?status=ready&amp;q=Mary"
    for action in ("history/", "undo/", "edit/"):
        assert f'href="{action_url("assignment_detail", row)}{action}{suffix}"' in page
    # The row's forms opened with htmx post back with the filter.
    undo = client.get(action_url("assignment_undo", row) + query, **HTMX).content.decode()
    assert f'hx-post="{action_url("assignment_undo", row)}{suffix}"' in undo
    edit = client.get(action_url("assignment_edit", row) + query, **HTMX).content.decode()
    assert f'hx-post="{action_url("assignment_edit", row)}{suffix}"' in edit
    # Without JavaScript, stepping back lands on the assignment's page, still filtered.
    response = client.post(
        action_url("assignment_undo", row) + query,
        {"reason": "too early", "expected_status": "ready"},
    )
    assert response["Location"] == action_url("assignment_detail", row) + query
    detail = client.get(response["Location"]).content.decode()
    assert f'href="{page_url(event)}{suffix}">Packages</a>' in detail
