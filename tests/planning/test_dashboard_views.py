import json
import re

import pytest
from django.test import Client
from django.urls import reverse

from planning.models import AssemblyRun, EventAssemblyTarget, EventProductionTarget, ProductionRun
from tests.fulfillment.factories import AssignmentFactory, PackageItemFactory
from tests.planning import factories
from tests.responses import fragment

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def url(name, *args):
    return reverse(f"planning:{name}", args=args)


def test_dashboard_shows_progress_exceeded_and_package_links(planner_client):
    event = factories.EventFactory()
    half = factories.ProductionTargetFactory(event=event, target_batches=4, recipe__name="Stollen")
    factories.ProductionRunFactory(event=event, recipe=half.recipe, num_batches=2)
    over = factories.ProductionTargetFactory(event=event, target_batches=4, recipe__name="Biscotti")
    factories.ProductionRunFactory(event=event, recipe=over.recipe, num_batches=5)
    AssignmentFactory(event=event, ready=True)

    page = planner_client.get(url("event_detail", event.pk)).content.decode()

    assert "2/4 batches (50%)" in page
    assert "5/4 batches (125%)" in page
    assert "Exceeded" in page
    assert f"/events/{event.pk}/fulfillment/?status=ready" in page
    assert "1 ready" in page
    assert "1 of 2" in page


def test_dashboard_without_targets_says_no_targets_set(planner_client):
    event = factories.EventFactory()
    page = planner_client.get(url("event_detail", event.pk)).content.decode()
    assert "No targets set" in page
    assert "Complete" not in page.replace("targets complete", "")


@pytest.mark.parametrize("n_targets", [3, 200])
def test_dashboard_query_count_is_constant(
    planner_client, django_assert_max_num_queries, n_targets
):
    event = factories.EventFactory()
    for target in factories.ProductionTargetFactory.create_batch(n_targets, event=event):
        factories.ProductionRunFactory(event=event, recipe=target.recipe, num_batches=1)
        factories.FinishedGoodComponentFactory(recipe=target.recipe)
    for target in factories.AssemblyTargetFactory.create_batch(n_targets, event=event):
        PackageItemFactory(finished_good=target.finished_good)
    for item in PackageItemFactory._meta.model.objects.all()[:20]:
        AssignmentFactory(event=event, package=item.package)
    with django_assert_max_num_queries(18):
        response = planner_client.get(url("event_detail", event.pk))
    assert response.content.decode().count('id="production-row-') == min(n_targets, 25)


def test_add_production_target_htmx_returns_the_section(planner_client):
    event, recipe = factories.EventFactory(), factories.RecipeFactory(name="Gingerbread")
    response = planner_client.post(
        url("production_target_add", event.pk),
        {"recipe": recipe.pk, "target_batches": "4", "notes": ""},
        **HTMX,
    )
    body = fragment(response)
    assert 'id="production"' in body
    assert "0/4 batches (0%)" in body
    assert 'id="summary"' in body
    assert 'aria-label="Overall progress" hx-swap-oob="true"' in body
    assert "Added Gingerbread: 4 batches." in body
    assert EventProductionTarget.objects.get().target_batches == 4


def test_add_target_choices_leave_out_targeted_items(planner_client):
    event = factories.EventFactory()
    factories.ProductionTargetFactory(event=event, recipe__name="Already targeted")
    factories.RecipeFactory(name="Still free")
    page = planner_client.get(url("event_detail", event.pk)).content.decode()
    action = f'action="{url("production_target_add", event.pk)}"'
    add_form = page.split(action)[1].split("</form>")[0]
    assert "Still free" in add_form
    assert "Already targeted" not in add_form


def test_add_target_without_htmx_redirects(planner_client):
    event, recipe = factories.EventFactory(), factories.RecipeFactory()
    response = planner_client.post(
        url("production_target_add", event.pk), {"recipe": recipe.pk, "target_batches": "2"}
    )
    assert response.status_code == 302
    assert response["Location"] == f"{url('event_detail', event.pk)}#production-row-{recipe.pk}"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "Enter a whole number of 1 or more."),
        ("-3", "Enter a whole number of 1 or more."),
        ("2.5", "Enter a whole number, like 4."),
        ("many", "Enter a whole number, like 4."),
        ("", "Enter a whole number, like 4."),
    ],
)
def test_add_target_validation_errors_rerender_with_200(planner_client, value, message):
    event, recipe = factories.EventFactory(), factories.RecipeFactory()
    response = planner_client.post(
        url("production_target_add", event.pk),
        {"recipe": recipe.pk, "target_batches": value},
        **HTMX,
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not EventProductionTarget.objects.exists()


def test_duplicate_target_becomes_an_edit_with_a_message(planner_client):
    target = factories.ProductionTargetFactory(target_batches=2, recipe__name="Stollen")
    response = planner_client.post(
        url("production_target_add", target.event_id),
        {"recipe": target.recipe_id, "target_batches": "7"},
        **HTMX,
    )
    assert "Stollen already had a target, so it was updated to 7 batches." in (
        response.content.decode()
    )
    assert EventProductionTarget.objects.get().target_batches == 7


def test_add_assembly_target(planner_client):
    event, good = factories.EventFactory(), factories.FinishedGoodFactory(name="Cookie box")
    response = planner_client.post(
        url("assembly_target_add", event.pk),
        {"finished_good": good.pk, "target_quantity": "12"},
        **HTMX,
    )
    assert "0/12 assembled (0%)" in response.content.decode()
    assert EventAssemblyTarget.objects.get().target_quantity == 12
    bad = planner_client.post(
        url("assembly_target_add", event.pk), {"finished_good": good.pk, "target_quantity": "0"}
    )
    assert bad.status_code == 200
    assert "Enter a whole number of 1 or more." in bad.content.decode()


def test_packer_cannot_change_targets_or_record_runs(packer_client):
    target = factories.ProductionTargetFactory()
    event = target.event
    posts = [
        (url("production_target_add", event.pk), {"recipe": target.recipe_id, "target_batches": 9}),
        (url("target_edit", event.pk, "production", target.recipe_id), {"target_batches": 9}),
        (url("target_delete", event.pk, "production", target.recipe_id), {}),
        (url("production_run_add", event.pk), {"recipe": target.recipe_id, "num_batches": 1}),
        (url("needs_apply", event.pk), {}),
    ]
    for post_url, data in posts:
        assert packer_client.post(post_url, data, **HTMX).status_code == 403, post_url
    target.refresh_from_db()
    assert target.target_batches == 4
    assert not ProductionRun.objects.exists()


def test_inline_edit_get_returns_the_row_form(planner_client):
    target = factories.ProductionTargetFactory(target_batches=3, notes="ribbon")
    response = planner_client.get(
        url("target_edit", target.event_id, "production", target.recipe_id), **HTMX
    )
    body = response.content.decode()
    assert body.lstrip().startswith(f'<tr id="production-row-{target.recipe_id}" class="editing"')
    assert 'value="3"' in body
    assert 'value="ribbon"' in body


def test_inline_edit_without_htmx_is_a_page(planner_client):
    target = factories.ProductionTargetFactory(target_batches=3)
    page = planner_client.get(url("target_edit", target.event_id, "production", target.recipe_id))
    assert "<html" in page.content.decode()


def test_inline_edit_post_returns_row_and_refreshes_summary(planner_client):
    target = factories.ProductionTargetFactory(target_batches=3)
    factories.ProductionRunFactory(event=target.event, recipe=target.recipe, num_batches=1)
    response = planner_client.post(
        url("target_edit", target.event_id, "production", target.recipe_id),
        {"target_batches": "2", "notes": "half"},
        **HTMX,
    )
    body = response.content.decode()
    assert "1/2 batches (50%)" in body
    assert 'hx-swap-oob="true"' in body
    target.refresh_from_db()
    assert (target.target_batches, target.notes) == (2, "half")


def test_inline_edit_with_zero_shows_error_and_keeps_target(planner_client):
    target = factories.ProductionTargetFactory(target_batches=3)
    response = planner_client.post(
        url("target_edit", target.event_id, "production", target.recipe_id),
        {"target_batches": "0"},
        **HTMX,
    )
    assert response.status_code == 200
    assert "Enter a whole number of 1 or more." in response.content.decode()
    target.refresh_from_db()
    assert target.target_batches == 3


def test_target_urls_404_for_unknown_targets(planner_client):
    event = factories.EventFactory()
    other = factories.ProductionTargetFactory()  # a target of another event
    assert planner_client.get(url("target_edit", event.pk, "production", 999)).status_code == 404
    assert (
        planner_client.post(
            url("target_edit", event.pk, "production", other.recipe_id), {"target_batches": 5}
        ).status_code
        == 404
    )
    assert planner_client.post(url("target_delete", event.pk, "assembly", 5)).status_code == 404
    assert (
        planner_client.get(url("target_row", event.pk, "production", 5), **HTMX).status_code == 404
    )


def test_delete_target_htmx_and_confirmation_page(planner_client):
    target = factories.AssemblyTargetFactory(finished_good__name="Sweet tin")
    delete_url = url("target_delete", target.event_id, "assembly", target.finished_good_id)
    confirm = planner_client.get(delete_url).content.decode()
    assert "Remove the target for Sweet tin?" in confirm
    assert EventAssemblyTarget.objects.exists()
    response = planner_client.post(delete_url, **HTMX)
    assert "Removed the target for Sweet tin." in response.content.decode()
    assert not EventAssemblyTarget.objects.exists()


def test_record_production_run_updates_progress_in_place(planner_client, role_user):
    target = factories.ProductionTargetFactory(target_batches=4, recipe__yield_per_batch=10)
    response = planner_client.post(
        url("production_run_add", target.event_id),
        {"recipe": target.recipe_id, "num_batches": "2", "actual_yield": "", "notes": ""},
        **HTMX,
    )
    body = response.content.decode()
    assert 'id="production-run-form"' in body
    assert "2/4 batches (50%)" in body  # the production section, out of band
    assert 'id="summary"' in body
    run = ProductionRun.objects.get()
    assert (run.num_batches, run.actual_yield, run.event_id) == (2, 20, target.event_id)
    assert run.recorded_by.username == "planners"


def test_record_production_run_errors(planner_client):
    event, recipe = factories.EventFactory(), factories.RecipeFactory()
    response = planner_client.post(
        url("production_run_add", event.pk),
        {"recipe": recipe.pk, "num_batches": "0", "actual_yield": "-1"},
        **HTMX,
    )
    body = response.content.decode()
    assert "Enter a whole number of 1 or more." in body
    assert "Enter 0 or more." in body
    assert not ProductionRun.objects.exists()


def test_record_assembly_run(planner_client):
    target = factories.AssemblyTargetFactory(target_quantity=4)
    response = planner_client.post(
        url("assembly_run_add", target.event_id),
        {"finished_good": target.finished_good_id, "quantity": "3"},
    )
    assert response.status_code == 302
    assert AssemblyRun.objects.get().quantity == 3
    page = planner_client.get(url("event_detail", target.event_id)).content.decode()
    assert "3/4 assembled (75%)" in page


def _event_giving_stollen_in_gift_boxes(*, packages: int):
    """An event with one assignment of `packages` packages of three gift boxes, each box of
    one Stollen loaf (four to a batch); returns the event, the recipe and the box."""
    event = factories.EventFactory()
    stollen = factories.RecipeFactory(name="Stollen", yield_per_batch=4)
    box = factories.FinishedGoodFactory(name="Gift box")
    factories.FinishedGoodComponentFactory(finished_good=box, recipe=stollen, quantity=1)
    item = PackageItemFactory(finished_good=box, quantity=3)
    AssignmentFactory(event=event, package=item.package, quantity=packages)
    return event, stollen, box


def test_needs_are_shown_and_applied_after_review(planner_client):
    event, stollen, _ = _event_giving_stollen_in_gift_boxes(packages=2)  # 6 boxes, 6 loaves

    # Worked out when asked for: the dashboard links to them, without JavaScript a page of
    # its own, with htmx the section alone.
    page = planner_client.get(url("event_detail", event.pk)).content.decode()
    assert "Create target of" not in page
    assert f'href="{url("event_needs", event.pk)}"' in page
    for response in (
        planner_client.get(url("event_needs", event.pk)),
        planner_client.get(url("event_needs", event.pk), **HTMX),
    ):
        assert "Create target of 2" in response.content.decode()  # ceil(6 / 4) batches
        assert "Create target of 6" in response.content.decode()
    assert "<html" in planner_client.get(url("event_needs", event.pk)).content.decode()
    fragment = planner_client.get(url("event_needs", event.pk), **HTMX).content.decode()
    assert fragment.lstrip().startswith('<section id="needs"')

    response = planner_client.post(
        url("needs_apply", event.pk), {"recipe_ids": [stollen.pk]}, **HTMX
    )
    assert "1 target created, 0 raised" in response.content.decode()
    assert EventProductionTarget.objects.get().target_batches == 2
    assert not EventAssemblyTarget.objects.exists()

    empty = planner_client.post(url("needs_apply", event.pk), {}, **HTMX)
    assert "Tick at least one suggested target to apply." in empty.content.decode()


def test_take_back_a_run_recorded_by_mistake(planner_client):
    target = factories.ProductionTargetFactory(target_batches=4, recipe__name="Stollen")
    mistake = factories.ProductionRunFactory(
        event=target.event, recipe=target.recipe, num_batches=10
    )
    factories.ProductionRunFactory(event=target.event, recipe=target.recipe, num_batches=1)
    page = planner_client.get(url("event_detail", target.event_id)).content.decode()
    assert "10 batches" in page
    assert "11/4 batches (275%)" in page

    response = planner_client.post(
        url("run_delete", target.event_id, "production", mistake.pk), **HTMX
    )
    body = response.content.decode()
    assert "Took back the run of 10 batches of Stollen." in body
    assert "1/4 batches (25%)" in body  # the production table, out of band
    assert list(ProductionRun.objects.values_list("num_batches", flat=True)) == [1]


def test_take_back_refuses_runs_of_other_events_and_packers(planner_client, client, role_user):
    event = factories.EventFactory()
    other_run = factories.ProductionRunFactory()  # another event's run
    response = planner_client.post(url("run_delete", event.pk, "production", other_run.pk))
    assert response.status_code == 404
    assembly_run = AssemblyRun.objects.create(
        finished_good=factories.FinishedGoodFactory(), event=event, quantity=2
    )
    client.force_login(role_user("Packers", "packer2"))
    assert client.post(url("run_delete", event.pk, "assembly", assembly_run.pk)).status_code == 403
    assert ProductionRun.objects.count() == 1
    assert AssemblyRun.objects.count() == 1


def test_target_changes_tell_a_shown_needs_section_to_reload(planner_client):
    event = factories.EventFactory()
    stollen = factories.RecipeFactory(name="Stollen")
    shown = planner_client.get(url("event_needs", event.pk), **HTMX).content.decode()
    assert 'hx-trigger="targets-changed from:body"' in shown

    added = planner_client.post(
        url("production_target_add", event.pk),
        {"recipe": stollen.pk, "target_batches": "3"},
        **HTMX,
    )
    assert "targets-changed" in json.loads(added["HX-Trigger"])
    edited = planner_client.post(
        url("target_edit", event.pk, "production", stollen.pk), {"target_batches": "4"}, **HTMX
    )
    assert "targets-changed" in json.loads(edited["HX-Trigger"])
    removed = planner_client.post(url("target_delete", event.pk, "production", stollen.pk), **HTMX)
    assert "targets-changed" in json.loads(removed["HX-Trigger"])
    # A run changes progress, not targets: the needs stay as they are.
    run = planner_client.post(
        url("production_run_add", event.pk), {"recipe": stollen.pk, "num_batches": "1"}, **HTMX
    )
    assert run.status_code == 200
    assert "HX-Trigger" not in run
    assert not EventProductionTarget.objects.exists()


def test_needs_page_of_unknown_event_is_404_and_needs_a_login(planner_client):
    assert planner_client.get(url("event_needs", 999999)).status_code == 404
    event = factories.EventFactory()
    assert Client().get(url("event_needs", event.pk)).status_code == 302


def test_needs_error_keeps_the_planners_ticks(planner_client):
    event, stollen, box = _event_giving_stollen_in_gift_boxes(packages=1)
    response = planner_client.post(url("needs_apply", event.pk), {"recipe_ids": ["999999"]}, **HTMX)
    body = response.content.decode()
    assert f'id="need-recipe-{stollen.pk}" checked' not in body
    assert f'id="need-good-{box.pk}" checked' not in body
    assert "The suggestions changed since the page was loaded" in body


def test_signed_out_htmx_request_sends_the_browser_to_login(client):
    event = factories.EventFactory()
    response = client.post(
        url("production_run_add", event.pk),
        {"num_batches": "1"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_CURRENT_URL=f"http://testserver/events/{event.pk}/",
    )
    assert response.status_code == 200
    assert response["HX-Redirect"] == f"/login/?next=%2Fevents%2F{event.pk}%2F"
    assert b"Sign in" not in response.content


def _season_with_targets(n):
    """An event with `n` production targets named so that their order is known: Recipe 01..."""
    event = factories.EventFactory()
    targets = [
        factories.ProductionTargetFactory(
            event=event, recipe__name=f"Recipe {i:02d}", target_batches=4
        )
        for i in range(1, n + 1)
    ]
    return event, targets


def _rows(body):
    return re.findall(r'<th scope="row" data-label="Recipe">(Recipe \w+)</th>', body)


def test_target_tables_are_shown_a_page_at_a_time(planner_client):
    event, _ = _season_with_targets(30)
    first = planner_client.get(url("event_detail", event.pk)).content.decode()
    assert _rows(first) == [f"Recipe {i:02d}" for i in range(1, 26)]
    assert "Targets 1–25 of 30" in first
    next_url = f"{url('event_detail', event.pk)}?production_page=2"
    assert f'href="{next_url}#production"' in first
    assert 'rel="prev"' not in first
    assert 'name="production_page" value="1"' in first

    second = planner_client.get(next_url).content.decode()
    assert _rows(second) == [f"Recipe {i:02d}" for i in range(26, 31)]
    assert "Targets 26–30 of 30" in second
    assert 'name="production_page" value="2"' in second

    # Previous/Next with htmx: the table alone, for the same URL.
    fragment = planner_client.get(next_url, HTTP_HX_TARGET="production", **HTMX)
    body = fragment.content.decode()
    assert body.lstrip().startswith('<section id="production"')
    assert _rows(body) == [f"Recipe {i:02d}" for i in range(26, 31)]
    assert "HX-Target" in fragment["Vary"]


@pytest.mark.parametrize(
    ("page", "shown"),
    [("0", 25), ("-1", 25), ("abc", 25), ("2.5", 25), ("", 25), ("²", 25)]
    + [("3", 5), ("999999999", 5), ("9" * 5000, 5)],
)
def test_a_page_number_that_is_not_a_page_shows_the_first_or_the_last(planner_client, page, shown):
    event, _ = _season_with_targets(30)
    response = planner_client.get(url("event_detail", event.pk), {"production_page": page})
    assert response.status_code == 200
    assert len(_rows(response.content.decode())) == shown


def test_a_small_event_has_no_pages(planner_client):
    event, _ = _season_with_targets(3)
    body = planner_client.get(url("event_detail", event.pk)).content.decode()
    assert len(_rows(body)) == 3
    assert "Pages of production targets" not in body
    assert 'id="production-page"' not in body


def test_an_added_target_is_shown_on_its_page(planner_client):
    event, _ = _season_with_targets(30)
    late = factories.RecipeFactory(name="Recipe 27b")
    response = planner_client.post(
        url("production_target_add", event.pk), {"recipe": late.pk, "target_batches": "2"}, **HTMX
    )
    body = response.content.decode()
    assert "Recipe 27b" in _rows(body)
    assert "Targets 26–31 of 31" in body


def test_changes_elsewhere_keep_the_page_the_planner_is_on(planner_client):
    event, targets = _season_with_targets(30)
    on_page_two = targets[27].recipe
    run = planner_client.post(
        url("production_run_add", event.pk),
        {"recipe": on_page_two.pk, "num_batches": "1", "production_page": "2"},
        **HTMX,
    )
    body = run.content.decode()
    assert _rows(body) == [f"Recipe {i:02d}" for i in range(26, 31)]
    assert "1/4 batches (25%)" in body

    removed = planner_client.post(
        url("target_delete", event.pk, "production", targets[0].recipe_id),
        {"production_page": "2"},
        **HTMX,
    )
    assert _rows(removed.content.decode()) == [f"Recipe {i:02d}" for i in range(27, 31)]


def test_paging_one_table_keeps_the_other_tables_page(planner_client):
    event, _ = _season_with_targets(30)
    for i in range(1, 31):
        factories.AssemblyTargetFactory(event=event, finished_good__name=f"Good {i:02d}")
    base = url("event_detail", event.pk)
    # htmx: the link asks for its own table's page; the other's comes from its pager.
    response = planner_client.get(
        base,
        {"assembly_page": "2", "production_page": "2"},
        HTTP_HX_TARGET="assembly",
        **HTMX,
    )
    assert response["HX-Push-Url"] == f"{base}?assembly_page=2&production_page=2"
    body = response.content.decode()
    assert f'href="{base}?assembly_page=1&amp;production_page=2#assembly"' not in body
    assert f'href="{base}?production_page=2#assembly"' in body  # Previous: page 1 left out
    assert f'hx-get="{base}?assembly_page=1"' in body
    assert 'hx-include="#production-page"' in body


def test_without_javascript_changes_come_back_to_the_same_pages(planner_client):
    event, targets = _season_with_targets(30)
    page = planner_client.get(url("event_detail", event.pk), {"production_page": "2"})
    body = page.content.decode()
    action = f"{url('production_run_add', event.pk)}?production_page=2"
    assert f'action="{action}"' in body
    run = planner_client.post(action, {"recipe": targets[27].recipe_id, "num_batches": "1"})
    assert run["Location"] == f"{url('event_detail', event.pk)}?production_page=2"

    late = factories.RecipeFactory(name="Recipe 27b")
    added = planner_client.post(
        url("production_target_add", event.pk), {"recipe": late.pk, "target_batches": "2"}
    )
    assert added["Location"] == (
        f"{url('event_detail', event.pk)}?production_page=2#production-row-{late.pk}"
    )

    confirm = planner_client.get(
        f"{url('target_delete', event.pk, 'production', targets[0].recipe_id)}?production_page=2"
    )
    assert f'href="{url("event_detail", event.pk)}?production_page=2#production"' in (
        confirm.content.decode()
    )


def test_a_zero_yield_run_counts_as_a_batch_and_shows_as_one_batch_of_nothing(planner_client):
    event = factories.EventFactory()
    target = factories.ProductionTargetFactory(
        event=event,
        target_batches=4,
        recipe__name="Stollen",
        recipe__yield_per_batch=12,
        recipe__yield_unit="loaves",
    )
    for made in (12, 0):
        factories.ProductionRunFactory(event=event, recipe=target.recipe, actual_yield=made)

    page = planner_client.get(url("event_detail", event.pk)).content.decode()

    # DOMAIN.md: produced batches are the runs' batches; produced yield is their yield.
    assert "2/4 batches (50%)" in page
    assert "12 loaves" in page
    assert "1 batch</strong>, 0 loaves · Stollen" in page
    assert "1 batch</strong>, 12 loaves · Stollen" in page
    assert page.count("nothing usable") == 1
