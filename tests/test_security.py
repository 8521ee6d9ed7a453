"""Security: sign-in required everywhere, permissions per role and action, CSRF on htmx
posts, markup in names shown escaped on every page and in the admin."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from dataclasses import dataclass

import pytest
from django.apps import apps
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils.regex_helper import normalize

from fulfillment.models import EventRecipientPackage, Package, Recipient
from planning.models import Event, FinishedGood, Recipe
from tests.reliability import (
    ADMIN_WRITE_CASES,
    FULFILLMENT_WRITE_CASES,
    HTMX,
    PLANNING_WRITE_CASES,
    changed_tables,
    db_state,
    make_world,
)

pytestmark = pytest.mark.django_db

# ---------------------------------------------------------------------------------------
# The URL configuration, walked
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    name: str  # "namespace:name", or the pattern when unnamed
    path: str


def _walk(patterns, prefix="", namespace=""):
    for pattern in patterns:
        regex = prefix + pattern.pattern.regex.pattern.lstrip("^")
        if isinstance(pattern, URLResolver):
            ns = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from _walk(pattern.url_patterns, regex, ns)
        elif isinstance(pattern, URLPattern):
            yield (f"{namespace}{pattern.name}" if pattern.name else regex), regex


# URL parameters whose value does not depend on the path: a word, or the id of a row of the
# world by its name there.
FIXED_VALUES = {"kind": "production", "app_label": "planning", "url": "no-such-page/"}
WORLD_IDS = {
    "item_id": "targeted_recipe",
    "assignment_id": "ready",  # of world.event, with history: every part is shown
    "recipient_id": "recipient",
    "package_id": "package",
}


def _value(param: str, fmt: str, world) -> str:
    """An existing object's id (or a valid word) for each URL parameter."""
    if param in FIXED_VALUES:
        return FIXED_VALUES[param]
    if param in WORLD_IDS:
        return str(world.ids[WORLD_IDS[param]])
    if param == "content_type_id":
        return str(ContentType.objects.get_for_model(Event).pk)
    if param in ("object_id", "id", "pk"):
        return _object_id(fmt, world)
    return str(world.event.pk)


def _object_id(fmt: str, world) -> str:
    if fmt.startswith("admin/r/"):
        return str(world.event.pk)
    segments = fmt.split("/")
    if fmt.startswith("admin/"):
        model = apps.get_model(segments[1], segments[2])
        first = model._default_manager.order_by("pk").values_list("pk", flat=True).first()
        return str(first or 1)
    if fmt.startswith("recipes/"):
        return str(world.ids["targeted_recipe"])
    if fmt.startswith("finished-goods/"):
        return str(world.ids["spare_good"])
    return str(world.event.pk)


def all_routes(world) -> list[Route]:
    routes = []
    for name, regex in _walk(get_resolver().url_patterns):
        fmt, params = normalize(regex)[0]
        values = {param: _value(param, fmt, world) for param in params}
        routes.append(Route(name, "/" + fmt % values))
    return routes


@pytest.fixture
def world():
    return make_world()


# healthz, readyz: the load balancer's liveness and readiness checks; they show no data.
PUBLIC = {"login", "logout", "admin:login", "admin:logout", "healthz", "readyz"}


def _to_login(response, login_path: str) -> bool:
    return response.status_code == 302 and response["Location"].startswith(login_path + "?next=")


def test_the_walk_covers_every_route(world):
    names = {route.name for route in all_routes(world)}
    planning = {f"planning:{p.name}" for p in get_resolver("planning.urls").url_patterns}
    assert planning <= names
    fulfillment = {f"fulfillment:{p.name}" for p in get_resolver("fulfillment.urls").url_patterns}
    assert fulfillment <= names
    assert {"admin:index", "admin:planning_event_change", "admin:view_on_site"} <= names
    assert len(names) > 80  # every admin model's pages are in it


# Posting an empty form to these shows the form's error; they have no page to GET.
POST_ONLY = {
    "fulfillment:bulk_status",
    "fulfillment:assignment_status",
    "fulfillment:assignment_take_back",
}


def test_the_walk_fills_the_fulfillment_urls_with_real_rows(world, admin_client):
    """Every fulfillment page of the walk is really rendered (200), not a 404 for an id of
    the wrong kind, so the escaping check below sees its content."""
    codes = {}
    for route in all_routes(world):
        if route.name.startswith("fulfillment:"):
            method = admin_client.post if route.name in POST_ONLY else admin_client.get
            codes[route.name] = method(route.path, {}, **HTMX).status_code
    assert codes.pop("fulfillment:assignment_remove") == 405  # POST only, and it removes
    assert len(codes) > 20
    assert set(codes.values()) == {200}, codes


# A live page's poll answers a signed-out user 401, not a redirect: the page stops polling
# and says so, instead of swapping the sign-in page in or leaving what the user typed.
LIVE_POLLS = {"planning:events_live", "planning:dashboard_live", "fulfillment:live"}


def test_every_url_except_sign_in_and_out_redirects_anonymous_users_to_login(client, world):
    before = db_state()
    problems = []
    for route in all_routes(world):
        if route.name in PUBLIC:
            continue
        if route.name in LIVE_POLLS:
            codes = (client.get(route.path).status_code, client.post(route.path).status_code)
            if codes != (401, 405):
                problems.append((route.name, route.path, codes))
            continue
        login = reverse("admin:login") if route.path.startswith("/admin/") else reverse("login")
        responses = {"GET": client.get(route.path), "POST": client.post(route.path, {})}
        redirected = [m for m, r in responses.items() if _to_login(r, login)]
        other = {
            m: r.status_code
            for m, r in responses.items()
            if not _to_login(r, login) and r.status_code != 405  # 405: method not offered
        }
        if not redirected or other:
            codes = {m: r.status_code for m, r in responses.items()}
            problems.append((route.name, route.path, codes))
    assert problems == []
    assert changed_tables(before, db_state()) == []


def test_sign_in_pages_and_static_files_are_public(client):
    assert client.get(reverse("login")).status_code == 200
    assert client.get(reverse("admin:login")).status_code == 200
    assert client.get("/static/css/app.css").status_code == 200
    assert client.get("/static/js/app.js").status_code == 200


# ---------------------------------------------------------------------------------------
# Permissions: every role x every write
# ---------------------------------------------------------------------------------------

# Which kinds of write (WriteCase.perm_kind) each role may do; None: signed in, no role.
ALLOWED = {
    "Planners": {"plan"},
    "Packers": {"status", "admin"},
    "Coordinators": {"plan", "status", "undo", "admin", "admin_undo"},
    None: set(),
}
ROLE_CASES = PLANNING_WRITE_CASES + ADMIN_WRITE_CASES + FULFILLMENT_WRITE_CASES


@pytest.mark.parametrize("role", list(ALLOWED), ids=lambda role: role or "no-role")
@pytest.mark.parametrize("case", ROLE_CASES, ids=lambda case: case.name)
def test_each_role_may_do_exactly_its_writes(case, role, world, django_user_model):
    # Staff, so the admin actions are judged by the permission, not by admin access.
    user = django_user_model.objects.create_user("someone", password="pw-1", is_staff=True)
    if role:
        user.groups.add(Group.objects.get(name=role))
    client = Client()
    client.force_login(user)
    before = db_state()

    response = case.send(client, world)

    changed = changed_tables(before, db_state())
    if case.perm_kind in ALLOWED[role]:
        assert response.status_code in (200, 302)
        assert changed, f"{role} should be able to {case.name}"
    else:
        assert changed == [], f"{role} changed {changed} through {case.name}"
        if not case.perm_kind.startswith("admin"):  # the admin answers with a page or redirect
            assert response.status_code == 403


# ---------------------------------------------------------------------------------------
# CSRF
# ---------------------------------------------------------------------------------------


@pytest.fixture
def csrf_client(role_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(role_user("Coordinators"))
    return client


def test_htmx_post_with_the_token_from_the_page_works_and_without_it_is_refused(csrf_client, world):
    page = csrf_client.get(reverse("planning:event_detail", args=[world.event.pk]))
    headers = re.search(r"hx-headers='([^']+)'", page.content.decode()).group(1)
    token = json.loads(html.unescape(headers))["X-CSRFToken"]
    url = reverse("planning:production_target_add", args=[world.event.pk])
    data = {"recipe": world.ids["free_recipe"], "target_batches": 3}
    before = db_state()

    refused = csrf_client.post(url, data, **HTMX)
    assert refused.status_code == 403
    assert "This form has expired" in refused.content.decode()
    assert changed_tables(before, db_state()) == []

    accepted = csrf_client.post(url, data, HTTP_X_CSRFTOKEN=token, **HTMX)
    assert accepted.status_code == 200
    assert changed_tables(before, db_state()) == ["planning.EventProductionTarget"]


@pytest.mark.parametrize("case", ROLE_CASES, ids=lambda case: case.name)
def test_every_write_without_a_csrf_token_is_refused(case, world, django_user_model):
    client = Client(enforce_csrf_checks=True)
    client.force_login(django_user_model.objects.create_superuser("root", "r@x.org", "pw-1"))
    before = db_state()
    assert case.send(client, world).status_code == 403
    assert changed_tables(before, db_state()) == []


# ---------------------------------------------------------------------------------------
# Markup in names
# ---------------------------------------------------------------------------------------

PAYLOADS = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>']
RAW_MARKERS = ["<script>alert(1)", "<img src=x onerror"]


def _make_names_hostile() -> None:
    for model, fields in [
        (Event, ["name", "notes"]),
        (Recipe, ["name", "category", "yield_unit", "notes"]),
        (FinishedGood, ["name", "description"]),
        (Recipient, ["name", "household", "address", "notes"]),
        (Package, ["name", "description"]),
        (EventRecipientPackage, ["notes"]),
    ]:
        for i, obj in enumerate(model.objects.order_by("pk")):
            for field in fields:
                limit = model._meta.get_field(field).max_length or 1000
                value = f"{PAYLOADS[i % 2]} {i}"
                setattr(obj, field, value[:limit] if len(value) > limit else value)
            obj.save()


def test_names_with_markup_are_escaped_on_every_page_and_in_the_admin(world, admin_client):
    _make_names_hostile()
    shown = 0
    problems = []
    for route in all_routes(world):
        if route.name in ("logout", "admin:logout"):
            continue
        for extra in ({}, HTMX):
            response = admin_client.get(route.path, **extra)
            assert response.status_code < 500, route
            if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
                continue
            body = response.content.decode()
            problems += [(route.path, m) for m in RAW_MARKERS if m in body]
            shown += "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert problems == []
    assert shown > 20  # the names really were on the pages


def test_control_the_escaping_check_catches_unescaped_output(world, admin_client):
    from django.template import engines

    rendered = engines["django"].from_string("{{ name|safe }}").render({"name": PAYLOADS[0]})
    assert any(marker in rendered for marker in RAW_MARKERS)


ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


def _hostile_fulfillment_requests(world) -> list[tuple[str, str, dict, dict]]:
    """(method, url, data, headers) for the fulfillment pages and fragments the URL walk
    does not reach: filtered and searched lists, search fragments, and the fragments that
    answer status changes, refusals and duplicates (all of them show names)."""
    event, ids = world.event.pk, world.ids

    def url(name, *args):
        return reverse(f"fulfillment:{name}", args=args)

    return [
        ("get", url("event_fulfillment", event), {"q": PAYLOADS[0]}, {}),
        ("get", url("event_fulfillment", event), {"status": "ready", "q": "script"}, HTMX),
        ("get", url("packing_list", event), {}, {}),
        ("get", url("packing_list", event), {"status": "pending"}, {}),
        ("get", url("packing_list", event), {"status": "ready"}, {}),
        ("get", url("delivery_checklist", event), {}, {}),
        ("get", url("assignment_history", event, ids["ready"]), {}, HTMX),
        ("get", url("assignment_undo", event, ids["ready"]), {}, HTMX),
        ("get", url("assignment_edit", event, ids["ready"]), {}, HTMX),
        ("get", url("recipient_list"), {"q": PAYLOADS[0]}, HTMX),
        ("get", url("package_list"), {"q": PAYLOADS[0]}, {}),
        (
            "get",
            url("assignment_new", event),
            {"recipient_q": "script"},
            {**HTMX, "HTTP_HX_TRIGGER_NAME": "recipient_q"},
        ),
        (
            "get",
            url("assignment_new", event),
            {"package_q": "script"},
            {**HTMX, "HTTP_HX_TRIGGER_NAME": "package_q"},
        ),
        (
            "post",
            url("assignment_status", event, ids["pending_1"]),
            {"new_status": "ready", "expected_status": "pending"},
            HTMX,
        ),
        (
            "post",
            url("assignment_status", event, ids["ready"]),
            {"view": "checklist", "new_status": "delivered", "expected_status": "ready"},
            HTMX,
        ),
        (  # refused: pending_2 cannot skip ready; the refusal lists it by name
            "post",
            url("bulk_status", event),
            {"ids": [ids["pending_2"], ids["pending_1"]], "new_status": "delivered"},
            HTMX,
        ),
        (  # a duplicate: the message names the recipient and the package
            "post",
            url("assignment_new", event),
            {"recipient": ids["recipient"], "package": ids["package"], "quantity": 1},
            HTMX,
        ),
        (
            "post",
            url("assignment_undo", event, ids["pending_2"]),
            {"reason": PAYLOADS[1], "expected_status": "pending"},
            HTMX,
        ),
    ]


def test_markup_in_names_is_escaped_in_fulfillment_lists_searches_and_answers(world, admin_client):
    _make_names_hostile()
    problems, silent = [], []
    for method, url, data, headers in _hostile_fulfillment_requests(world):
        response = getattr(admin_client, method)(url, data, **headers)
        assert response.status_code == 200, (url, data, response.status_code)
        body = response.content.decode()
        problems += [(url, data, m) for m in RAW_MARKERS if m in body]
        if ESCAPED not in body:
            silent.append((url, data))
    assert problems == []
    assert silent == []  # every one of them really showed a hostile name


def test_csv_export_writes_formulas_as_text_and_markup_as_it_is(world, admin_client):
    recipient = Recipient.objects.get(pk=world.ids["recipient"])
    recipient.name = '=HYPERLINK("http://x","y")'
    recipient.household = PAYLOADS[0]
    recipient.address = "+1 555 0100"
    recipient.save()
    Package.objects.filter(pk=world.ids["package"]).update(name="@SUM(A1:A9)")
    url = reverse("fulfillment:export_csv", args=[world.event.pk])

    for query in ({}, {"status": "pending", "q": "HYPERLINK"}):
        response = admin_client.get(url, query)
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/csv")
        assert response["X-Content-Type-Options"] == "nosniff"
        rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
        mine = [row for row in rows if "HYPERLINK" in row["Recipient"]]
        assert len(mine) == 1, rows
        assert mine[0]["Recipient"] == '\'=HYPERLINK("http://x","y")'
        assert mine[0]["Household"] == PAYLOADS[0]  # literal text: a CSV is not HTML
        assert mine[0]["Address"] == "'+1 555 0100"
        assert mine[0]["Package"] == "'@SUM(A1:A9)"
        for row in rows:
            assert not any(value.startswith(("=", "+", "-", "@")) for value in row.values())


@pytest.mark.parametrize(
    "name",
    ["＝1+1", "＋SUM(A1)", "－2", "＠SUM(A1)", "﹦1", "−1", "  =1+1", "\u00a0@x", "\u3000＝1"],
)
def test_csv_export_neutralises_fullwidth_and_other_formula_leading_characters(name):
    from fulfillment.views.exports import csv_safe

    assert csv_safe(name) == "'" + name


@pytest.mark.parametrize("name", ["Aunt Mary", "100% butter", "1+1", "a=b", "O'Brien"])
def test_csv_export_leaves_ordinary_text_as_it_is(name):
    from fulfillment.views.exports import csv_safe

    assert csv_safe(name) == name
