"""A planner's season in a real browser: headless Chromium against live_server."""

import datetime
import re

import pytest
from playwright.sync_api import Page, expect

from planning.models import Event, EventProductionTarget
from tests.e2e.conftest import DESKTOP, PHONE, wait_for_htmx
from tests.fulfillment.factories import AssignmentFactory, PackageItemFactory
from tests.planning.factories import (
    AssemblyTargetFactory,
    EventFactory,
    FinishedGoodComponentFactory,
    FinishedGoodFactory,
    ProductionTargetFactory,
    RecipeFactory,
)

pytestmark = pytest.mark.django_db(transaction=True)


def _mark_page(page: Page) -> None:
    """Tag the window: if the page reloads, the tag is gone."""
    page.evaluate("window.__noReload = true")


def _assert_not_reloaded(page: Page) -> None:
    assert page.evaluate("window.__noReload === true")


def test_planner_creates_event_sets_target_and_records_a_run(
    page: Page, live_server, make_user, login
):
    RecipeFactory(name="Gingerbread Men", yield_per_batch=24)
    login(page, make_user("pat", role="Planners"))

    page.get_by_role("link", name="New event").click()
    page.get_by_label("Name").fill("Christmas 2030")
    page.get_by_label("Date").fill("2030-12-24")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", name="Christmas 2030")).to_be_visible()
    expect(page.get_by_text("Created Christmas 2030")).to_be_visible()

    _mark_page(page)
    add_form = page.locator("form.add-target").first
    add_form.get_by_label("Recipe").select_option(label="Gingerbread Men")
    add_form.get_by_label("Batches").fill("4")
    add_form.get_by_role("button", name="Add production target").click()
    expect(page.locator("#production")).to_contain_text("0/4 batches (0%)")

    run_form = page.locator("#production-run-form")
    run_form.get_by_label("Recipe").select_option(label="Gingerbread Men")
    run_form.get_by_label("Batches").fill("2")
    run_form.get_by_role("button", name="Record production run").click()
    expect(page.locator("#production")).to_contain_text("2/4 batches (50%)")
    expect(page.locator("#messages")).to_contain_text("Recorded 2 batches of Gingerbread Men")
    # Floating in the window, so a phone user sees it wherever the form is, and not
    # pushing the form or the runs below it.
    expect(page.locator("#messages .message")).to_be_in_viewport()
    expect(run_form).not_to_contain_text("Recorded 2 batches of Gingerbread Men")
    expect(run_form.get_by_label("Batches")).to_have_value("")
    expect(page.locator("#runs")).to_contain_text(
        re.compile(r"2 batches, \d+ \w+ · Gingerbread Men")
    )

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Take back the run of 2 batches of Gingerbread Men").click()
    expect(page.locator("#production")).to_contain_text("0/4 batches (0%)")
    expect(page.locator("#runs")).to_contain_text("No runs recorded for this event yet.")
    _assert_not_reloaded(page)


def test_inline_edit_and_validation_error_for_zero(page: Page, live_server, make_user, login):
    target = ProductionTargetFactory(target_batches=4, recipe__name="Stollen", notes="")
    login(page, make_user("pat", role="Planners"))
    page.goto(f"{live_server.url}/events/{target.event_id}/")
    _mark_page(page)

    row = page.locator(f"#production-row-{target.recipe_id}")
    row.get_by_role("link", name="Edit the target for Stollen").focus()
    page.keyboard.press("Enter")
    batches = row.get_by_role("spinbutton", name="Batches")
    expect(batches).to_have_value("4")
    expect(batches).to_be_focused()  # keyboard users land in the field
    batches.fill("0")
    row.get_by_role("button", name="Save").click()
    expect(row).to_contain_text("Enter a whole number of 1 or more.")
    assert EventProductionTarget.objects.get().target_batches == 4
    # Type into the row once htmx has settled it, as a person would: during the settle,
    # htmx is still swapping attributes on the new form.
    wait_for_htmx(page)

    batches.fill("6")
    row.get_by_label("Notes").fill("two ovens")
    row.get_by_role("button", name="Save").click()
    expect(row).to_contain_text("0/6 batches (0%)")
    expect(row).to_contain_text("two ovens")
    expect(page.locator("#messages")).to_contain_text("Target saved.")
    expect(row.get_by_role("link", name="Edit the target for Stollen")).to_be_focused()

    row.get_by_role("link", name="Edit the target for Stollen").click()
    expect(row.get_by_role("spinbutton", name="Batches")).to_be_focused()
    page.keyboard.press("Escape")  # cancels the inline edit
    expect(row).to_contain_text("0/6 batches (0%)")
    _assert_not_reloaded(page)
    assert EventProductionTarget.objects.get().target_batches == 6


def test_apply_suggested_targets_after_review(page: Page, live_server, make_user, login):
    event = EventFactory(name="Christmas")
    stollen = RecipeFactory(name="Stollen", yield_per_batch=2)
    box = FinishedGoodFactory(name="Gift box")
    FinishedGoodComponentFactory(finished_good=box, recipe=stollen, quantity=1)
    item = PackageItemFactory(finished_good=box, quantity=1)
    AssignmentFactory.create_batch(3, event=event, package=item.package)
    login(page, make_user("pat", role="Planners"))
    page.goto(f"{live_server.url}/events/{event.pk}/")

    _mark_page(page)
    needs = page.locator("#needs")
    needs.get_by_role("link", name="Work out what the packages need").click()
    expect(needs).to_contain_text("Create target of 2")  # ceil(3 loaves / 2 per batch)
    expect(needs).to_contain_text("Create target of 3")
    needs.get_by_role("checkbox", name="Apply the suggestion for Gift box").uncheck()
    needs.get_by_role("button", name="Apply the ticked suggestions").click()
    expect(page.locator("#messages")).to_contain_text("1 target created, 0 raised")
    expect(page.locator("#production")).to_contain_text("0/2 batches (0%)")
    expect(page.locator("#assembly")).to_contain_text("No assembly targets yet")

    # The section shows the current targets, so it reloads itself when one changes.
    row = page.locator(f"#production-row-{stollen.pk}")
    row.get_by_role("link", name="Edit the target for Stollen").click()
    row.get_by_role("spinbutton", name="Batches").fill("1")
    row.get_by_role("button", name="Save").click()
    expect(needs).to_contain_text("Raise to 2")
    _assert_not_reloaded(page)


def test_events_list_filter_is_kept_in_the_url(page: Page, live_server, make_user, login):
    today = datetime.date.today()  # noqa: DTZ011 - the app runs in UTC
    EventFactory(name="Next fair", event_date=today + datetime.timedelta(days=5))
    EventFactory(name="Old fair", event_date=today - datetime.timedelta(days=5))
    login(page, make_user("pat", role="Planners"))
    expect(page.locator("#event-list")).to_contain_text("Next fair")
    page.get_by_role("radio", name="Past").check()
    expect(page.locator("#event-list")).to_contain_text("Old fair")
    expect(page.locator("#event-list")).not_to_contain_text("Next fair")
    assert "when=past" in page.url
    page.get_by_role("radio", name="All").check()
    expect(page.locator("#event-list")).to_contain_text("Next fair")
    page.go_back()
    expect(page.locator("#event-list")).not_to_contain_text("Next fair")
    expect(page.get_by_role("radio", name="Past")).to_be_checked()  # controls follow the URL
    page.go_back()
    expect(page.locator("#event-list")).to_contain_text("Next fair")
    expect(page.get_by_role("radio", name="Upcoming")).to_be_checked()


def test_screenshots_of_events_list_and_dashboard(
    page: Page, live_server, make_user, login, screenshot
):
    from django.core.management import call_command

    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    login(page, make_user("pat", role="Coordinators"))
    event = Event.objects.filter(event_date__gte=datetime.date.today()).order_by("event_date")[0]  # noqa: DTZ011
    for label, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(viewport)
        page.goto(f"{live_server.url}/")
        expect(page.locator("#event-list")).to_contain_text(event.name)
        screenshot(page, f"events-list-{label}")
        page.goto(f"{live_server.url}/events/{event.pk}/")
        expect(page.locator("#summary")).to_be_visible()
        # Nothing may be wider than the phone screen.
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{label}: page is {overflow}px wider than the screen"
        screenshot(page, f"dashboard-{label}")


def test_a_large_event_shows_its_targets_a_page_at_a_time(
    page: Page, live_server, make_user, login
):
    event = EventFactory(name="Bakery season")
    for i in range(1, 31):
        ProductionTargetFactory(event=event, recipe__name=f"Recipe {i:02d}", target_batches=4)
        AssemblyTargetFactory(event=event, finished_good__name=f"Good {i:02d}")
    login(page, make_user("pat", role="Planners"))
    page.goto(f"{live_server.url}/events/{event.pk}/")
    _mark_page(page)
    production = page.locator("#production")
    expect(production).to_contain_text("Targets 1–25 of 30")
    expect(production.get_by_role("row", name="Recipe 26")).to_have_count(0)

    production.get_by_role("link", name="Next").click()
    expect(production).to_contain_text("Targets 26–30 of 30")
    expect(page).to_have_url(f"{live_server.url}/events/{event.pk}/?production_page=2")

    # Recording a run elsewhere on the page keeps the table on the page the planner is on.
    run_form = page.locator("#production-run-form")
    run_form.get_by_label("Recipe").select_option(label="Recipe 28")
    run_form.get_by_label("Batches").fill("1")
    run_form.get_by_role("button", name="Record production run").click()
    expect(page.locator("#messages")).to_contain_text("Recorded 1 batch of Recipe 28")
    expect(production).to_contain_text("Targets 26–30 of 30")
    expect(production.get_by_role("row", name="Recipe 28")).to_contain_text("1/4 batches (25%)")
    expect(page.locator("#runs")).to_contain_text(re.compile(r"1 batch, \d+ \w+ · Recipe 28"))

    # Paging the other table keeps this one's page in the address.
    assembly = page.locator("#assembly")
    assembly.get_by_role("link", name="Next").click()
    expect(assembly).to_contain_text("Targets 26–30 of 30")
    expect(page).to_have_url(
        f"{live_server.url}/events/{event.pk}/?assembly_page=2&production_page=2"
    )
    _assert_not_reloaded(page)

    page.reload()
    expect(production).to_contain_text("Targets 26–30 of 30")
    expect(assembly).to_contain_text("Targets 26–30 of 30")
    page.go_back()
    expect(page.locator("#assembly")).to_contain_text("Targets 1–25 of 30")
