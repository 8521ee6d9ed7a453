"""The Content-Security-Policy in a real browser: the app's pages and the Django admin work
under it without a single violation (inline script, inline style, eval)."""

import pytest
from playwright.sync_api import Page, expect

from tests.fulfillment.factories import AssignmentFactory, PackageItemFactory
from tests.planning.factories import (
    EventFactory,
    FinishedGoodComponentFactory,
    ProductionTargetFactory,
)

pytestmark = pytest.mark.django_db(transaction=True)


def _collect_violations(page: Page) -> list[str]:
    violations: list[str] = []
    page.on(
        "console",
        lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    return violations


def test_app_pages_and_htmx_work_without_csp_violations(page: Page, live_server, make_user, login):
    event = EventFactory(name="Christmas 2030")
    target = ProductionTargetFactory(event=event, target_batches=4)
    component = FinishedGoodComponentFactory(recipe=target.recipe)
    item = PackageItemFactory(finished_good=component.finished_good)
    AssignmentFactory(event=event, package=item.package)
    violations = _collect_violations(page)
    login(page, make_user("cora", role="Coordinators"))

    for path in ["/", f"/events/{event.pk}/", "/recipes/", "/finished-goods/", "/events/new/"]:
        response = page.goto(f"{live_server.url}{path}")
        assert "default-src 'self'" in response.headers["content-security-policy"]
    page.goto(f"{live_server.url}/events/{event.pk}/")
    # An htmx swap (inline edit of a target row) under the policy.
    page.get_by_role("link", name=f"Edit the target for {target.recipe.name}").click()
    expect(page.locator("tr.editing").get_by_label("Batches")).to_have_value("4")
    page.locator("tr.editing").get_by_label("Batches").fill("5")
    page.locator("tr.editing").get_by_role("button", name="Save").click()
    expect(page.locator(f"#production-row-{target.recipe_id}")).to_contain_text("0/5 batches")
    assert violations == []


def test_admin_works_without_csp_violations(page: Page, live_server, make_user, login):
    event = EventFactory()
    assignment = AssignmentFactory(event=event)
    violations = _collect_violations(page)
    login(page, make_user("root", role=None, is_staff=True, is_superuser=True))

    for path in [
        "/admin/",
        "/admin/planning/event/",
        f"/admin/planning/event/{event.pk}/change/",
        "/admin/planning/finishedgood/add/",
        "/admin/fulfillment/eventrecipientpackage/",
        f"/admin/fulfillment/eventrecipientpackage/{assignment.pk}/change/",
    ]:
        page.goto(f"{live_server.url}{path}")
        expect(page.locator("#content")).to_be_visible()
    # Scripted widgets: the autocomplete (select2) and "add another" inline rows.
    page.goto(f"{live_server.url}/admin/planning/finishedgood/add/")
    page.locator(".select2-selection").first.click()
    expect(page.locator(".select2-search__field")).to_be_visible()
    page.keyboard.press("Escape")
    page.locator(".add-row a").first.click()
    expect(page.locator(".dynamic-components")).to_have_count(2)
    page.goto(f"{live_server.url}/admin/fulfillment/eventrecipientpackage/")
    page.locator("input.action-select").first.check()
    expect(page.locator(".action-counter")).to_contain_text("1 of 1 selected")
    assert violations == []


def test_control_an_inline_script_or_style_is_blocked_and_reported(
    page: Page, live_server, make_user, login
):
    violations = _collect_violations(page)
    login(page, make_user("cora", role="Coordinators"))
    page.evaluate(
        """() => {
            const script = document.createElement("script");
            script.textContent = "window.__inlineRan = true";
            document.body.append(script);
            const div = document.createElement("div");
            div.innerHTML = '<p style="color: red">styled</p>';
            document.body.append(div);
        }"""
    )
    page.wait_for_timeout(200)
    assert page.evaluate("window.__inlineRan === undefined")
    assert any("inline script" in text for text in violations), violations
    assert any("inline style" in text for text in violations), violations
