import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command

from fulfillment.models import EventRecipientPackage, FulfillmentStatusChange, Recipient
from planning.management.commands.seed_demo import DEMO_PASSWORD, DEMO_USERNAME
from planning.models import Event, ProductionRun, Recipe

pytestmark = pytest.mark.django_db


def test_seed_demo_builds_a_season_and_is_safe_to_run_twice():
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    counts = (
        Event.objects.count(),
        EventRecipientPackage.objects.count(),
        FulfillmentStatusChange.objects.count(),
    )
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115

    assert (
        Event.objects.count(),
        EventRecipientPackage.objects.count(),
        FulfillmentStatusChange.objects.count(),
    ) == counts
    assert Recipe.objects.count() >= 12
    assert Recipient.objects.count() >= 30
    assert ProductionRun.objects.filter(event__isnull=True).exists()
    assert ProductionRun.objects.filter(event__isnull=False).exists()
    upcoming = Event.objects.order_by("-event_date").exclude(name__startswith="New Year").first()
    statuses = set(upcoming.assignments.values_list("fulfillment_status", flat=True))
    assert statuses == {"pending", "ready", "delivered"}
    assert authenticate(username=DEMO_USERNAME, password=DEMO_PASSWORD) is not None


def test_seed_demo_creates_one_login_per_role():
    from planning.management.commands.seed_demo import ROLE_USERS

    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    for username, role in ROLE_USERS.items():
        user = authenticate(username=username, password=DEMO_PASSWORD)
        assert user is not None
        assert list(user.groups.values_list("name", flat=True)) == [role]
