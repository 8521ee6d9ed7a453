"""Delivery day in a real browser: row actions, conflicts between two people, bulk, undo."""

import re

import pytest
from playwright.sync_api import expect

from fulfillment.models import EventRecipientPackage
from tests.e2e.conftest import DESKTOP, PHONE, wait_for_htmx
from tests.fulfillment.factories import (
    AssignmentFactory,
    PackageFactory,
    PackageItemFactory,
    RecipientFactory,
)
from tests.planning.factories import EventFactory, FinishedGoodFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def season():
    event = EventFactory(name="Christmas 2026")
    hamper = PackageFactory(name="Family Hamper")
    PackageItemFactory(
        package=hamper, finished_good=FinishedGoodFactory(name="Cookie Gift Box"), quantity=2
    )
    rows = [
        AssignmentFactory(
            event=event,
            package=hamper,
            recipient=RecipientFactory(name=name, household=household),
        )
        for name, household in [
            ("Aunt Mary", "Smiths"),
            ("Uncle Bob", "Smiths"),
            ("Grandma Rose", "Millers"),
            ("Neighbor Ned", ""),
        ]
    ]
    return event, rows


def page_url(live_server, event):
    return f"{live_server.url}/events/{event.pk}/fulfillment/"


def row_of(page, assignment):
    return page.locator(f"#assignment-{assignment.pk}")


def count(page, status):
    return page.locator(f"#count-{status} .count-number")


def status_of(assignment):
    return EventRecipientPackage.objects.get(pk=assignment.pk).fulfillment_status


def test_mark_ready_then_delivered_updates_counts_without_reload(
    page, live_server, make_user, login, season, screenshot
):
    event, rows = season
    login(page, make_user("packer", role="Packers"))
    page.set_viewport_size(DESKTOP)
    page.goto(page_url(live_server, event))
    expect(count(page, "pending")).to_have_text("4")
    page.evaluate("window.__sameDocument = true")

    mary = row_of(page, rows[0])
    mary.get_by_role("button", name="Mark ready").click()
    expect(mary.locator(".status-cell .badge")).to_have_text("Ready")
    expect(count(page, "pending")).to_have_text("3")
    expect(count(page, "ready")).to_have_text("1")

    mary.get_by_role("button", name="Mark delivered").click()
    expect(mary.locator(".status-cell .badge")).to_have_text("Delivered")
    expect(count(page, "ready")).to_have_text("0")
    expect(count(page, "delivered")).to_have_text("1")
    expect(mary.get_by_role("button", name=re.compile("Mark"))).to_have_count(0)

    assert page.evaluate("window.__sameDocument") is True  # no reload happened
    assert status_of(rows[0]) == "delivered"
    screenshot(page, "fulfillment-desktop")


def test_second_person_on_the_same_row_sees_the_conflict_and_the_fresh_status(
    browser, live_server, make_user, login, season
):
    event, rows = season
    alice_context, bob_context = browser.new_context(), browser.new_context()
    alice, bob = alice_context.new_page(), bob_context.new_page()
    login(alice, make_user("alice", role="Packers"))
    login(bob, make_user("bob", role="Packers"))
    alice.goto(page_url(live_server, event))
    bob.goto(page_url(live_server, event))

    alice_row = row_of(alice, rows[1])
    alice_row.get_by_role("button", name="Mark ready").click()
    expect(alice_row.locator(".status-cell .badge")).to_have_text("Ready")
    alice_row.get_by_role("button", name="Mark delivered").click()
    expect(alice_row.locator(".status-cell .badge")).to_have_text("Delivered")

    bob_row = row_of(bob, rows[1])
    expect(bob_row.locator(".status-cell .badge")).to_have_text("Pending")  # Bob's page is stale
    bob_row.get_by_role("button", name="Mark ready").click()
    expect(bob_row.get_by_role("alert")).to_contain_text(
        re.compile(r"Changed by alice at \d\d:\d\d: this package is now delivered")
    )
    expect(bob_row.locator(".status-cell .badge")).to_have_text("Delivered")
    assert status_of(rows[1]) == "delivered"
    alice_context.close()
    bob_context.close()


def test_bulk_mark_several_rows_and_see_a_refusal_listing_rows(
    page, live_server, make_user, login, season
):
    event, rows = season
    login(page, make_user("coordinator"))
    page.goto(page_url(live_server, event))

    for assignment in rows[:3]:
        page.locator(f"#select-{assignment.pk}").check()
    page.get_by_role("button", name="Mark selected ready").click()
    expect(page.get_by_text("3 packages marked ready.")).to_be_visible()
    expect(count(page, "ready")).to_have_text("3")
    expect(count(page, "pending")).to_have_text("1")
    assert [status_of(a) for a in rows] == ["ready", "ready", "ready", "pending"]

    # Delivered is not allowed for the pending row: nothing changes, the row is named.
    page.locator(f"#select-{rows[0].pk}").check()
    page.locator(f"#select-{rows[3].pk}").check()
    page.get_by_role("button", name="Mark selected delivered").click()
    alert = page.locator("#assignments").get_by_role("alert")
    expect(alert).to_contain_text("Nothing was changed")
    expect(alert.locator(".blocked")).to_contain_text("Neighbor Ned / Family Hamper")
    assert [status_of(a) for a in rows] == ["ready", "ready", "ready", "pending"]


def test_undo_with_a_reason_shows_in_the_history(page, live_server, make_user, login, season):
    event, rows = season
    login(page, make_user("coordinator"))
    page.goto(page_url(live_server, event))
    row = row_of(page, rows[2])
    row.get_by_role("button", name="Mark ready").click()
    expect(row.locator(".status-cell .badge")).to_have_text("Ready")

    row.locator(".row-menu summary").click()  # Undo waits in the row's menu
    row.get_by_role("link", name="Undo…").click()
    row.get_by_label("Reason for stepping back from ready to pending").fill("Wrong box packed")
    row.get_by_role("button", name="Step back to pending").click()

    expect(row.locator(".status-cell .badge")).to_have_text("Pending")
    history = row.locator(".history")
    expect(history).to_contain_text("Reason: Wrong box packed")
    expect(history.locator("li")).to_have_count(2)
    expect(count(page, "pending")).to_have_text("4")
    assert status_of(rows[2]) == "pending"


def test_undo_without_a_reason_asks_for_one(page, live_server, make_user, login, season):
    event, rows = season
    EventRecipientPackage.objects.filter(pk=rows[0].pk).update(fulfillment_status="ready")
    login(page, make_user("coordinator"))
    page.goto(page_url(live_server, event))
    row = row_of(page, rows[0])
    row.locator(".row-menu summary").click()  # Undo waits in the row's menu
    row.get_by_role("link", name="Undo…").click()
    # The browser's own required check would stop an empty reason; spaces get through to
    # the server, which refuses them.
    row.get_by_label(re.compile("Reason for stepping back")).fill("   ")
    row.get_by_role("button", name="Step back to pending").click()
    expect(row.get_by_text("Say why the status goes back")).to_be_visible()
    assert status_of(rows[0]) == "ready"


def test_phone_width_checklist_and_page_are_usable(
    page, live_server, make_user, login, season, screenshot
):
    event, rows = season
    EventRecipientPackage.objects.filter(pk__in=[r.pk for r in rows[:3]]).update(
        fulfillment_status="ready"
    )
    page.set_viewport_size(PHONE)
    login(page, make_user("packer", role="Packers"))
    page.goto(page_url(live_server, event))
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    # The row's next step fits inside the row's card.
    card = page.locator(f"#assignment-{rows[0].pk} tr").first.bounding_box()
    step = page.get_by_role("button", name=re.compile(r"Mark \w+\s*: Aunt Mary")).bounding_box()
    assert step["x"] + step["width"] <= card["x"] + card["width"]
    screenshot(page, "fulfillment-phone")

    page.goto(f"{live_server.url}/events/{event.pk}/checklist/")
    expect(page.get_by_role("heading", name="Smiths")).to_be_visible()
    button = page.get_by_role("button", name=re.compile(r"Mark delivered\s*: Aunt Mary"))
    box = button.bounding_box()
    assert box["height"] >= 44  # a comfortable touch target
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, "checklist-phone")
    button.click()
    expect(page.locator(f"#stop-{rows[0].pk} .badge")).to_have_text("Delivered")
    assert status_of(rows[0]) == "delivered"


def test_keyboard_only_mark_ready(page, live_server, make_user, login, season):
    event, rows = season
    login(page, make_user("packer", role="Packers"))
    page.goto(page_url(live_server, event))
    button = row_of(page, rows[0]).get_by_role("button", name="Mark ready")
    button.focus()
    page.keyboard.press("Enter")
    expect(row_of(page, rows[0]).locator(".status-cell .badge")).to_have_text("Ready")


def test_assign_by_search_then_a_duplicate_offers_the_existing_row(
    page, live_server, make_user, login, season
):
    event, rows = season
    RecipientFactory(name="Cousin Carla", household="")
    PackageFactory(name="Neighbor Box")
    login(page, make_user("planner", role="Planners"))
    page.goto(f"{live_server.url}/events/{event.pk}/fulfillment/new/")

    page.get_by_label("Find recipient (name or household)").fill("carla")
    recipient = page.get_by_label("Recipient", exact=True)
    expect(recipient.locator("option")).to_have_count(2)  # "Choose…" and Carla
    recipient.select_option(label="Cousin Carla")
    page.get_by_label("Find package").fill("neighbor")
    package = page.get_by_label("Package", exact=True)
    expect(package.locator("option")).to_have_count(2)
    package.select_option(label="Neighbor Box")
    page.get_by_label("Quantity").fill("2")
    page.get_by_role("button", name="Assign").click()
    expect(page.get_by_text("Assigned Neighbor Box to Cousin Carla.")).to_be_visible()
    assert EventRecipientPackage.objects.filter(
        event=event, recipient__name="Cousin Carla", quantity=2
    ).exists()

    # The form was just swapped in: let htmx finish wiring it before typing, or the first
    # keystrokes reach an input nothing listens to yet.
    wait_for_htmx(page)
    # Wait for the narrowed list itself (not just its size, which the previous narrowed list
    # may share), or a late swap would replace the choice made meanwhile.
    page.get_by_label("Find recipient (name or household)").fill("mary")
    recipient = page.get_by_label("Recipient", exact=True)
    expect(recipient.locator("option", has_text="Aunt Mary")).to_have_count(1)
    expect(recipient.locator("option")).to_have_count(2)
    recipient.select_option(label="Aunt Mary (Smiths)")
    page.get_by_label("Find package").fill("hamper")
    package = page.get_by_label("Package", exact=True)
    expect(package.locator("option", has_text="Family Hamper")).to_have_count(1)
    expect(package.locator("option")).to_have_count(2)
    page.get_by_label("Package", exact=True).select_option(label="Family Hamper")
    page.get_by_role("button", name="Assign").click()
    expect(page.get_by_role("alert")).to_contain_text("already has the package Family Hamper")
    page.get_by_role("link", name=re.compile("Edit the existing assignment")).click()
    expect(page.get_by_role("spinbutton", name="Quantity")).to_have_value("1")
    assert EventRecipientPackage.objects.filter(event=event).count() == 5


def test_searching_then_paging_shows_the_page_the_address_names(
    page, live_server, make_user, login
):
    event = EventFactory(name="Bakery round")
    package = PackageFactory(name="Cookie tin")
    for i in range(60):
        AssignmentFactory(event=event, package=package, recipient__name=f"Patel {i:02d}")
        AssignmentFactory(event=event, package=package, recipient__name=f"Other {i:02d}")
    login(page, make_user("packer", role="Packers"))
    page.goto(page_url(live_server, event))
    expect(page.locator("#assignments")).to_contain_text("Page 1 of 3")

    search = page.get_by_label("Search recipient or household")
    search.press_sequentially("Patel")
    expect(page.locator("#assignments")).to_contain_text("Page 1 of 2")
    # Leaving the box re-submits the filter at the moment Next is clicked: the later request
    # wins, so the list, the address and the box agree.
    page.locator("#assignments").get_by_role("link", name="Next").click()
    expect(page.locator("#assignments")).to_contain_text("Page 2 of 2")
    wait_for_htmx(page)
    assert "q=Patel" in page.url
    assert "page=2" in page.url
    expect(search).to_have_value("Patel")
    expect(page.locator("#assignments")).not_to_contain_text("Other")
