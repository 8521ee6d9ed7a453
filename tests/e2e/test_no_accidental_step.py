"""A press changes exactly the row and step it was meant for, and a packer can take back
their own mistake, in a real browser at desktop and phone widths.

Each protection has a control that removes it (CSS restoring the old pushing layout, the
guard script not loaded, the author check switched off) and shows the bad outcome then
happens: the tests can see what they guard against."""

import re

import pytest
from django.db import transaction
from playwright.sync_api import expect

from fulfillment import services, workflow
from fulfillment.models import EventRecipientPackage, FulfillmentStatusChange
from tests.e2e.conftest import DESKTOP, PHONE, wait_for_htmx
from tests.fulfillment.factories import AssignmentFactory, PackageFactory, RecipientFactory
from tests.planning.factories import EventFactory

pytestmark = pytest.mark.django_db(transaction=True)

WIDTHS = pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280", "375"])

# What the page looked like before: the status line appears and pushes the table down, a
# row's message is a block of its own under the badge, a phone row has no line reserved.
OLD_PUSHING_LAYOUT = """
.live-status:empty { display: none !important; }
.live-status { height: auto !important; min-height: 0 !important; white-space: normal !important; }
.assignments-table td.status-cell::after { display: none !important; }
.status-cell .take-back, .status-cell .take-back p, .status-cell .row-message {
  display: block !important; padding: .6rem .8rem !important; margin: .35rem 0 0 !important;
}
"""


@pytest.fixture
def rows():
    event = EventFactory(name="Christmas 2026")
    box = PackageFactory(name="Neighbor Box")
    return [
        AssignmentFactory(
            event=event, package=box, recipient=RecipientFactory(name=name, household=house)
        )
        for name, house in [
            ("Aunt Mary", "Garcia family"),
            ("Grandpa Joe", "Miller family"),
            ("Hannah", "Friends"),
            ("Ingrid", "Friends"),
        ]
    ]


def status_of(assignment):
    return EventRecipientPackage.objects.get(pk=assignment.pk).fulfillment_status


def history_of(assignment):
    return list(FulfillmentStatusChange.objects.filter(assignment=assignment))


def open_pending(page, live_server, login, user, rows, viewport, query="?status=pending"):
    page.set_viewport_size(viewport)
    login(page, user)
    event = rows[0].event
    page.goto(f"{live_server.url}/events/{event.pk}/fulfillment/{query}")
    first = page.locator(f"#assignment-{rows[0].pk}")
    first.evaluate("row => row.scrollIntoView({block: 'start'})")


def step_button(page, assignment):
    return page.locator(f"#assignment-{assignment.pk} button.next-action")


def centre(locator):
    box = locator.bounding_box()
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def two_clicks_a_second_apart(page, rows):
    """Click row 1's "Mark ready", then a second later click where row 2's button was."""
    first, second = centre(step_button(page, rows[0])), centre(step_button(page, rows[1]))
    page.mouse.click(*first)
    page.wait_for_timeout(1000)
    page.mouse.click(*second)
    page.wait_for_timeout(300)
    wait_for_htmx(page)


@WIDTHS
def test_a_second_click_where_the_next_rows_button_was_steps_that_row(
    page, live_server, make_user, login, rows, viewport, screenshot
):
    open_pending(page, live_server, login, make_user("packer", role="Packers"), rows, viewport)

    two_clicks_a_second_apart(page, rows)

    assert [status_of(rows[0]), status_of(rows[1])] == ["ready", "ready"]
    assert len(history_of(rows[0])) == 1
    screenshot(page, f"no-accidental-step-two-clicks-{viewport['width']}")


@WIDTHS
def test_control_with_the_old_pushing_layout_the_second_click_misses_its_row(
    page, live_server, make_user, login, rows, viewport
):
    # Appended to the stylesheet as served: the Content-Security-Policy blocks inline styles.
    def with_old_layout(route):
        served = route.fetch()
        route.fulfill(response=served, body=served.text() + OLD_PUSHING_LAYOUT)

    page.route(re.compile(r"/static/css/app[.\w]*\.css"), with_old_layout)
    open_pending(page, live_server, login, make_user("packer", role="Packers"), rows, viewport)

    two_clicks_a_second_apart(page, rows)

    assert status_of(rows[1]) == "pending"  # the click meant for row 2 landed elsewhere
    if viewport is DESKTOP:
        assert status_of(rows[0]) == "delivered"  # on row 1's new "Mark delivered"


def enter_twice(page, assignment, gap_ms):
    """Enter, then Enter again `gap_ms` later, or ("at-swap") the moment the row shows its
    new status, the worst case: whatever the server's speed, the second press meets the
    row's new next step."""
    step_button(page, assignment).focus()
    page.keyboard.press("Enter")
    if gap_ms == "at-swap":
        badge = page.locator(f"#assignment-{assignment.pk} .badge")
        badge.locator("text=Ready").wait_for(timeout=10_000)
    else:
        page.wait_for_timeout(gap_ms)
    page.keyboard.press("Enter")
    page.wait_for_timeout(900)
    wait_for_htmx(page)


@WIDTHS
@pytest.mark.parametrize("gap_ms", [50, 200, 500, "at-swap"])
def test_enter_pressed_twice_moves_the_row_one_step(
    page, live_server, make_user, login, rows, viewport, gap_ms
):
    open_pending(page, live_server, login, make_user("packer", role="Packers"), rows, viewport)

    enter_twice(page, rows[0], gap_ms)

    assert status_of(rows[0]) == "ready"
    assert len(history_of(rows[0])) == 1
    # The focus stayed on the row's next step, which takes an intended press a moment later.
    held = step_button(page, rows[0])
    expect(held).to_be_focused()
    expect(held).not_to_have_attribute("aria-disabled", "true")
    page.keyboard.press("Enter")
    expect(page.locator(f"#assignment-{rows[0].pk} .badge")).to_have_text("Delivered")


@WIDTHS
def test_control_without_the_guard_script_enter_twice_moves_two_steps(
    page, live_server, make_user, login, rows, viewport
):
    page.route(re.compile(r"/static/js/steps[.\w]*\.js"), lambda route: route.fulfill(body=""))
    open_pending(page, live_server, login, make_user("packer", role="Packers"), rows, viewport)

    enter_twice(page, rows[0], "at-swap")

    assert status_of(rows[0]) == "delivered"
    assert len(history_of(rows[0])) == 2


def test_the_held_button_is_shown_and_announced(page, live_server, make_user, login, rows):
    open_pending(page, live_server, login, make_user("packer", role="Packers"), rows, DESKTOP)

    step_button(page, rows[0]).click()

    held = page.locator(f"#assignment-{rows[0].pk} button.next-action.is-held")
    expect(held).to_have_attribute("aria-disabled", "true")
    expect(page.locator("#step-guard-status")).to_have_text(re.compile("next step"))
    expect(held).to_have_count(0)  # released after the stated moment


def take_back(page, assignment):
    button = page.locator(f"#assignment-{assignment.pk} .take-back-button")
    expect(button).not_to_have_attribute("aria-disabled", "true")
    button.click()
    wait_for_htmx(page)


@WIDTHS
def test_a_packer_takes_back_their_own_step_from_the_rows_message(
    page, live_server, make_user, login, rows, viewport, screenshot
):
    open_pending(page, live_server, login, make_user("packer", role="Packers"), rows, viewport)
    row = page.locator(f"#assignment-{rows[0].pk}")
    step_button(page, rows[0]).click()
    expect(row.locator(".take-back")).to_contain_text("Marked ready.")
    screenshot(page, f"take-back-offer-{viewport['width']}")

    take_back(page, rows[0])

    expect(row.locator(".badge")).to_have_text("Pending")
    assert status_of(rows[0]) == "pending"
    assert [h.source for h in history_of(rows[0])] == ["page", "take_back"]
    row.locator(".row-menu > summary").click()
    row.get_by_role("link", name="History").click()
    expect(row.locator(".history")).to_contain_text("taken back by packer")


def _colleague_marked_ready(assignment, colleague):
    with transaction.atomic():
        services.update_fulfillment_status(
            assignment.pk, "ready", changed_by=colleague, connection=transaction.get_connection()
        )


def _forged_take_back(page, assignment):
    """Post the take-back form of the row from the page, as a modified page would."""
    url = f"/events/{assignment.event_id}/fulfillment/{assignment.pk}/take-back/"
    return page.evaluate(
        """async (url) => {
          const token = JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRFToken"];
          const body = new URLSearchParams({expected_status: "ready"});
          const r = await fetch(url, {method: "POST", body,
            headers: {"X-CSRFToken": token, "HX-Request": "true"}});
          return await r.text();
        }""",
        url,
    )


@WIDTHS
def test_a_packer_cannot_take_back_a_colleagues_step(
    page, live_server, make_user, login, rows, viewport
):
    _colleague_marked_ready(rows[0], make_user("ben", role="Packers"))
    anna = make_user("anna", role="Packers")
    open_pending(page, live_server, login, anna, rows, viewport, query="")
    expect(page.locator(f"#assignment-{rows[0].pk} .take-back")).to_have_count(0)

    answer = _forged_take_back(page, rows[0])

    assert "Only ben can take back this step" in answer
    assert status_of(rows[0]) == "ready"
    assert len(history_of(rows[0])) == 1


def test_control_without_the_author_check_a_colleagues_step_is_taken_back(
    page, live_server, make_user, login, rows, monkeypatch
):
    monkeypatch.setattr(workflow, "_own_last_step", lambda *args: None)
    _colleague_marked_ready(rows[0], make_user("ben", role="Packers"))
    anna = make_user("anna", role="Packers")
    open_pending(page, live_server, login, anna, rows, DESKTOP, query="")

    _forged_take_back(page, rows[0])

    assert status_of(rows[0]) == "pending"


def open_checklist(page, live_server, login, user, rows, viewport=PHONE):
    """The delivery checklist with row 1 ready; its stop."""
    EventRecipientPackage.objects.filter(pk=rows[0].pk).update(fulfillment_status="ready")
    page.set_viewport_size(viewport)
    login(page, user)
    page.goto(f"{live_server.url}/events/{rows[0].event_id}/checklist/")
    return page.locator(f"#stop-{rows[0].pk}")


def test_on_the_checklist_a_delivery_is_taken_back_by_its_author(
    page, live_server, make_user, login, rows
):
    stop = open_checklist(page, live_server, login, make_user("packer", role="Packers"), rows)
    stop.get_by_role("button", name=re.compile("Mark delivered")).click()
    expect(stop.locator(".badge")).to_have_text("Delivered")

    button = stop.locator(".take-back-button")
    expect(button).not_to_have_attribute("aria-disabled", "true")
    button.click()

    expect(stop.get_by_role("button", name=re.compile("Mark delivered"))).to_be_visible()
    assert status_of(rows[0]) == "ready"


def test_the_showing_count_follows_rows_that_leave_the_filter_as_the_tabs_do(
    page, live_server, make_user, login, rows
):
    open_pending(page, live_server, login, make_user("packer", role="Packers"), rows, DESKTOP)
    showing = page.locator("#showing")
    expect(showing).to_have_text("Showing 1–4 of 4 matching.")

    step_button(page, rows[0]).click()

    expect(page.locator("#count-pending .count-number")).to_have_text("3")
    expect(showing).to_have_text("Showing 1–4; 3 matching now (1 left this list).")
    take_back(page, rows[0])
    expect(showing).to_have_text("Showing 1–4 of 4 matching.")


@WIDTHS
def test_on_the_checklist_enter_twice_delivers_once_and_takes_nothing_back(
    page, live_server, make_user, login, rows, viewport
):
    packer = make_user("packer", role="Packers")
    stop = open_checklist(page, live_server, login, packer, rows, viewport)

    stop.get_by_role("button", name=re.compile("Mark delivered")).focus()
    page.keyboard.press("Enter")
    stop.locator(".badge", has_text="Delivered").wait_for()
    page.keyboard.press("Enter")
    page.wait_for_timeout(900)
    wait_for_htmx(page)

    assert status_of(rows[0]) == "delivered"
    assert len(history_of(rows[0])) == 1
