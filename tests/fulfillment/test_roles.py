import pytest
from django.contrib.auth.models import Group

from tests.planning.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("role", "perm", "allowed"),
    [
        ("Planners", "planning.add_event", True),
        ("Planners", "planning.change_eventproductiontarget", True),
        ("Planners", "planning.add_productionrun", True),
        ("Planners", "fulfillment.add_eventrecipientpackage", True),
        ("Planners", "fulfillment.change_fulfillment_status", False),
        ("Packers", "fulfillment.change_fulfillment_status", True),
        ("Packers", "fulfillment.undo_fulfillment_status", False),
        ("Packers", "planning.add_event", False),
        ("Packers", "planning.view_event", True),
        ("Coordinators", "fulfillment.undo_fulfillment_status", True),
        ("Coordinators", "fulfillment.change_fulfillment_status", True),
        ("Coordinators", "planning.delete_event", True),
    ],
)
def test_role_groups_created_by_migration_grant_what_the_role_needs(role, perm, allowed):
    user = UserFactory()
    user.groups.add(Group.objects.get(name=role))
    assert user.has_perm(perm) is allowed


@pytest.mark.django_db(transaction=True)
def test_roles_survive_a_flushed_database():
    # Transactional tests flush the database; the roles come back with the permissions.
    assert set(Group.objects.values_list("name", flat=True)) >= {
        "Planners",
        "Packers",
        "Coordinators",
    }
