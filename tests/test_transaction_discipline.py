"""The service contract: caller-owned transactions on the caller's connection."""

import ast
import inspect
from pathlib import Path

import pytest
from django.db import connection, connections, transaction
from django.db.transaction import TransactionManagementError
from django.test.utils import CaptureQueriesContext

from fulfillment import services as fulfillment_services
from fulfillment.models import EventRecipientPackage, FulfillmentStatusChange, Package, Recipient
from planning import services as planning_services
from planning.models import Event, EventProductionTarget, FinishedGood, ProductionRun, Recipe

SERVICE_MODULES = [planning_services, fulfillment_services]


def _public_service_params():
    for module in SERVICE_MODULES:
        for name, func in inspect.getmembers(module, inspect.isfunction):
            if func.__module__ == module.__name__ and not name.startswith("_"):
                yield pytest.param(func, id=f"{module.__name__}.{name}")


SERVICES = list(_public_service_params())


@pytest.mark.parametrize("func", SERVICES)
def test_every_service_takes_connection_as_required_keyword_only(func):
    parameter = inspect.signature(func).parameters["connection"]
    assert parameter.kind is inspect.Parameter.KEYWORD_ONLY
    assert parameter.default is inspect.Parameter.empty


def _dummy_call(func, conn):
    kwargs = {"connection": conn}
    args = []
    for param in inspect.signature(func).parameters.values():
        if param.name == "connection" or param.default is not inspect.Parameter.empty:
            continue
        if param.kind is inspect.Parameter.KEYWORD_ONLY:
            kwargs[param.name] = "a reason"
        else:
            args.append([1] if "ids" in param.name else 1)
    return func(*args, **kwargs)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("func", SERVICES)
def test_every_service_refuses_to_run_outside_an_atomic_block(func):
    assert not connection.in_atomic_block
    with (
        CaptureQueriesContext(connection) as queries,
        pytest.raises(TransactionManagementError) as excinfo,
    ):
        _dummy_call(func, connection)
    assert "transaction.atomic()" in str(excinfo.value)
    assert len(queries) == 0


FORBIDDEN_CALLS = {
    "atomic",
    "commit",
    "rollback",
    "savepoint",
    "savepoint_commit",
    "savepoint_rollback",
    "set_autocommit",
    "set_rollback",
    "on_commit_rollback",
}


@pytest.mark.parametrize("module", SERVICE_MODULES, ids=lambda m: m.__name__)
def test_services_never_handle_transactions_themselves(module):
    tree = ast.parse(Path(module.__file__).read_text())
    offenders = []
    for node in ast.walk(tree):
        name = None
        if isinstance(node, ast.Attribute):
            name = node.attr
        elif isinstance(node, ast.Name):
            name = node.id
        elif isinstance(node, ast.ImportFrom) and node.module == "django.db":
            offenders += [a.name for a in node.names if a.name == "transaction"]
        if name in FORBIDDEN_CALLS:
            offenders.append(f"{name} (line {node.lineno})")
    assert offenders == []


@pytest.mark.django_db(databases=["default", "other"])
def test_services_query_only_the_connection_they_are_given():
    other = connections["other"]
    event = Event.objects.using("other").create(name="Other season", event_date="2026-12-24")
    recipe = Recipe.objects.using("other").create(name="Spritz", yield_per_batch=10)
    good = FinishedGood.objects.using("other").create(name="Cookie box")
    recipient = Recipient.objects.using("other").create(name="Aunt Mary")
    package = Package.objects.using("other").create(name="Big box")

    with CaptureQueriesContext(connection) as default_queries, transaction.atomic(using="other"):
        planning_services.set_production_target(event.pk, recipe.pk, 4, "n", connection=other)
        planning_services.set_assembly_target(event.pk, good.pk, 2, connection=other)
        planning_services.record_production_run(recipe.pk, 2, event_id=event.pk, connection=other)
        planning_services.record_assembly_run(good.pk, 1, event_id=event.pk, connection=other)
        planning_services.get_production_targets(event.pk, connection=other)
        planning_services.get_production_progress(event.pk, connection=other)
        planning_services.get_event_overall_progress(event.pk, connection=other)
        planning_services.get_events_with_progress(connection=other, when="all")
        assignment = fulfillment_services.assign_package(
            event.pk, recipient.pk, package.pk, connection=other
        )
        fulfillment_services.update_fulfillment_status(assignment.pk, "ready", connection=other)
        fulfillment_services.bulk_update_fulfillment_status(
            [assignment.pk], "delivered", connection=other
        )
        fulfillment_services.undo_fulfillment_status(assignment.pk, reason="test", connection=other)
        fulfillment_services.get_packages_by_status(event.pk, connection=other)
        fulfillment_services.get_recipient_history(recipient.pk, connection=other)
        fulfillment_services.get_status_history(assignment.pk, connection=other)

    assert len(default_queries) == 0
    assert EventProductionTarget.objects.using("other").count() == 1
    assert FulfillmentStatusChange.objects.using("other").count() == 3
    assert not EventProductionTarget.objects.exists()
    assert not ProductionRun.objects.exists()


@pytest.mark.django_db(databases=["default", "other"])
def test_permission_check_runs_on_the_given_connection():
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission

    other = connections["other"]
    user = get_user_model().objects.db_manager("other").create_user("packer-other", password="x")
    user.user_permissions.add(
        Permission.objects.using("other").get(codename="change_fulfillment_status")
    )
    event = Event.objects.using("other").create(name="E", event_date="2026-12-24")
    assignment = EventRecipientPackage.objects.using("other").create(
        event=event,
        recipient=Recipient.objects.using("other").create(name="R"),
        package=Package.objects.using("other").create(name="P"),
    )
    with CaptureQueriesContext(connection) as default_queries, transaction.atomic(using="other"):
        fulfillment_services.update_fulfillment_status(
            assignment.pk, "ready", changed_by=user, connection=other
        )
    assert len(default_queries) == 0


class Boom(Exception):
    pass


@pytest.mark.django_db(transaction=True)
def test_an_error_after_service_calls_leaves_nothing_behind():
    event = Event.objects.create(name="Christmas", event_date="2026-12-24")
    recipe = Recipe.objects.create(name="Stollen")
    assignment = EventRecipientPackage.objects.create(
        event=event,
        recipient=Recipient.objects.create(name="Aunt Mary"),
        package=Package.objects.create(name="Box"),
    )

    def write_then_fail():
        with transaction.atomic():
            planning_services.set_production_target(event.pk, recipe.pk, 3, connection=connection)
            planning_services.record_production_run(
                recipe.pk, 1, event_id=event.pk, connection=connection
            )
            fulfillment_services.update_fulfillment_status(
                assignment.pk, "ready", connection=connection
            )
            raise Boom

    with pytest.raises(Boom):
        write_then_fail()

    assert not EventProductionTarget.objects.exists()
    assert not ProductionRun.objects.exists()
    assert not FulfillmentStatusChange.objects.exists()
    assignment.refresh_from_db()
    assert assignment.fulfillment_status == "pending"
