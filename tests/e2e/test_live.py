"""Live pages in a real browser, two people at once: what one changes appears in the other's
page within the poll interval, without disturbing what the other is doing; a hidden tab
sends no polls; signed out, the page says so and keeps what was typed. Each scenario runs
with live updates on and, as its control, off (then the change must not appear)."""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import DESKTOP, PHONE, wait_for_htmx
from tests.fulfillment.factories import AssignmentFactory, PackageFactory, RecipientFactory
from tests.planning.factories import EventFactory, ProductionTargetFactory, RecipeFactory

pytestmark = pytest.mark.django_db(transaction=True)

POLL_SECONDS = 1
# Within the interval, with room for the request and a slow machine.
APPEARS_MS = 4000
LIVE = pytest.mark.parametrize("live_on", [True, False], ids=["live", "control_off"])


@pytest.fixture
def poll_fast(settings):
    def set_live(on: bool) -> None:
        settings.LIVE_POLL_SECONDS = POLL_SECONDS if on else 0

    return set_live


@pytest.fixture
def season():
    event = EventFactory(name="Christmas 2026")
    hamper = PackageFactory(name="Family Hamper")
    people = [("Aunt Mary", "Smiths"), ("Uncle Bob", "Smiths"), ("Grandma Rose", "Millers")]
    rows = [
        AssignmentFactory(
            event=event, package=hamper, recipient=RecipientFactory(name=n, household=h)
        )
        for n, h in people
    ]
    return event, rows


@pytest.fixture
def two_people(browser, live_server, make_user, login):
    """Alice watches, Bob changes: two browser contexts, two signed-in users."""
    contexts = []

    def open_as(username: str, role: str = "Coordinators"):
        context = browser.new_context(viewport=DESKTOP)
        contexts.append(context)
        page = context.new_page()
        login(page, make_user(username, role=role))
        return page

    yield open_as
    for context in contexts:
        context.close()


def badge(page, assignment):
    return page.locator(f"#assignment-{assignment.pk} .status-cell .badge")


def expect_change(locator, text: str, live_on: bool) -> None:
    if live_on:
        expect(locator).to_have_text(text, timeout=APPEARS_MS)
    else:
        locator.page.wait_for_timeout(APPEARS_MS)
        expect(locator).not_to_have_text(text, timeout=1)


@LIVE
def test_status_and_bulk_changes_appear_and_keep_the_form_ticks_and_search(
    live_on, poll_fast, season, two_people, live_server, screenshot
):
    poll_fast(live_on)
    event, (mary, bob_row, rose) = season
    url = f"{live_server.url}/events/{event.pk}/fulfillment/"
    alice, bob = two_people("alice"), two_people("bob")
    alice.goto(url)
    alice.get_by_label("Search recipient or household").fill("Smiths")
    alice.get_by_label("Search recipient or household").press("Enter")
    expect(alice.locator("tbody.assignment")).to_have_count(2)
    alice.wait_for_timeout(600)  # the search field's own delayed request (keyup) too
    wait_for_htmx(alice)
    alice.evaluate("window.__sameDocument = true")
    alice.locator(f"#select-{bob_row.pk}").check()
    alice.locator(f"#assignment-{mary.pk} .row-menu summary").click()  # Edit is in the menu
    alice.locator(f"#assignment-{mary.pk}").get_by_role("link", name="Edit").click()
    quantity = alice.get_by_label("Quantity")
    quantity.fill("5")

    bob.goto(url)
    bob.locator(f"#assignment-{mary.pk}").get_by_role("button", name="Mark ready").click()
    expect(badge(bob, mary)).to_have_text("Ready")
    bob.locator(f"#select-{bob_row.pk}").check()
    bob.locator(f"#select-{rose.pk}").check()
    bob.get_by_role("button", name="Mark selected ready").click()
    expect(badge(bob, rose)).to_have_text("Ready")

    expect_change(badge(alice, bob_row), "Ready", live_on)
    expect_change(alice.locator("#count-ready .count-number"), "3", live_on)
    # What Alice was doing is as she left it.
    expect(quantity).to_have_value("5")
    expect(quantity).to_be_focused()
    expect(alice.locator(f"#select-{bob_row.pk}")).to_be_checked()
    expect(alice.get_by_label("Search recipient or household")).to_have_value("Smiths")
    assert alice.evaluate("window.__sameDocument") is True
    if live_on:
        held = alice.locator(f"#assignment-{mary.pk} .live-note-held")
        expect(held).to_contain_text("Changed by bob")
        expect(alice.locator(f"#assignment-{bob_row.pk}")).to_have_class("assignment live-changed")
        expect(alice.locator("#live")).to_contain_text("changed by a colleague")
        screenshot(alice, "live-fulfillment-desktop")
        alice.set_viewport_size(PHONE)
        screenshot(alice, "live-fulfillment-phone")
        held.get_by_role("button", name="Show the change").click()
        expect(badge(alice, mary)).to_have_text("Ready")


@LIVE
def test_a_recorded_run_and_a_target_edit_appear_on_the_other_dashboard(
    live_on, poll_fast, two_people, live_server, screenshot
):
    poll_fast(live_on)
    target = ProductionTargetFactory(target_batches=4, recipe__name="Stollen")
    other = ProductionTargetFactory(event=target.event, target_batches=2, recipe__name="Biscotti")
    RecipeFactory(name="Unused")
    url = f"{live_server.url}/events/{target.event_id}/"
    alice, bob = two_people("alice", "Planners"), two_people("bob", "Planners")
    alice.goto(url)
    alice.evaluate("window.__sameDocument = true")
    alice_row = alice.locator(f"#production-row-{target.recipe_id}")
    alice.locator(f"#production-row-{other.recipe_id}").get_by_role("link", name="Edit").click()
    alice_batches = alice.locator(f"#production-row-{other.recipe_id}").get_by_role(
        "spinbutton", name="Batches"
    )
    alice_batches.fill("3")

    bob.goto(url)
    run_form = bob.locator("#production-run-form")
    run_form.get_by_label("Recipe").select_option(label="Biscotti")
    run_form.get_by_label("Batches").fill("2")
    run_form.get_by_role("button", name="Record production run").click()
    expect(bob.locator("#runs")).to_contain_text(re.compile(r"2 batches, \d+ \w+ · Biscotti"))
    bob_row = bob.locator(f"#production-row-{target.recipe_id}")
    bob_row.get_by_role("link", name="Edit the target for Stollen").click()
    bob_row.get_by_role("spinbutton", name="Batches").fill("8")
    bob_row.get_by_role("button", name="Save").click()
    expect(bob_row).to_contain_text("0/8 batches (0%)")

    progress = alice_row.locator(".progress-text")
    expect_change(progress, "0/8 batches (0%)", live_on)
    if live_on:
        # The run changed the row Alice is editing: held, with a note, not replaced.
        expect(alice.locator("#runs")).to_contain_text(re.compile(r"2 batches, \d+ \w+ · Biscotti"))
        expect(alice.locator(f"#production-row-{other.recipe_id} .live-note-held")).to_be_visible()
        screenshot(alice, "live-dashboard-desktop")
        alice.set_viewport_size(PHONE)
        screenshot(alice, "live-dashboard-phone")
    expect(alice_batches).to_have_value("3")
    assert alice.evaluate("window.__sameDocument") is True


@LIVE
def test_the_events_list_follows_a_colleague(live_on, poll_fast, season, two_people, live_server):
    poll_fast(live_on)
    event, (mary, *_) = season
    alice, bob = two_people("alice"), two_people("bob")
    alice.goto(f"{live_server.url}/?when=all")
    card = alice.locator(f"#event-card-{event.pk}")
    expect(card.locator(".status-ready")).to_have_text("0 ready")
    bob.goto(f"{live_server.url}/events/{event.pk}/fulfillment/")
    bob.locator(f"#assignment-{mary.pk}").get_by_role("button", name="Mark ready").click()
    expect(badge(bob, mary)).to_have_text("Ready")
    expect_change(card.locator(".status-ready"), "1 ready", live_on)


def _count_polls(page) -> list:
    polls = []
    page.on("request", lambda request: polls.append(request.url) if "/live/" in request.url else 0)
    return polls


def _set_hidden(page, hidden: bool) -> None:
    page.evaluate(
        """(hidden) => {
            Object.defineProperty(document, "hidden", {configurable: true, get: () => hidden});
            Object.defineProperty(document, "visibilityState",
                {configurable: true, get: () => hidden ? "hidden" : "visible"});
            document.dispatchEvent(new Event("visibilitychange"));
        }""",
        hidden,
    )


@pytest.mark.parametrize("hidden", [True, False], ids=["hidden", "control_visible"])
def test_a_hidden_tab_sends_no_polls_and_polls_at_once_when_shown(
    hidden, poll_fast, season, two_people, live_server
):
    poll_fast(True)
    event, _ = season
    alice = two_people("alice")
    alice.goto(f"{live_server.url}/events/{event.pk}/fulfillment/")
    polls = _count_polls(alice)
    _set_hidden(alice, hidden)
    alice.wait_for_timeout(3500)
    if hidden:
        assert polls == []
        _set_hidden(alice, False)
        # Inside the interval: the poll made on showing (a regular one may follow it, on a busy
        # machine in the same window).
        for _ in range(16):
            if polls:
                break
            alice.wait_for_timeout(50)
        assert 1 <= len(polls) <= 2
    else:
        assert len(polls) >= 2


def test_signed_out_the_page_says_so_and_keeps_what_was_typed(
    poll_fast, season, two_people, live_server
):
    poll_fast(True)
    event, (mary, *_) = season
    alice = two_people("alice")
    url = f"{live_server.url}/events/{event.pk}/fulfillment/"
    alice.goto(url)
    alice.locator(f"#assignment-{mary.pk} .row-menu summary").click()  # Edit is in the menu
    alice.locator(f"#assignment-{mary.pk}").get_by_role("link", name="Edit").click()
    # Type only into the form htmx has settled, not the row it is replacing.
    expect(alice.get_by_label("Notes")).to_be_visible()
    wait_for_htmx(alice)
    alice.get_by_label("Notes").fill("leave at the door")
    alice.context.clear_cookies()
    expect(alice.locator("#live")).to_contain_text("You are signed out", timeout=APPEARS_MS)
    expect(alice.get_by_label("Notes")).to_have_value("leave at the door")
    assert alice.url == url
    polls = _count_polls(alice)
    alice.wait_for_timeout(2500)
    assert polls == []  # it stopped
