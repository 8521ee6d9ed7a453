import pytest
from django.contrib.auth.models import Group

from tests.planning.factories import UserFactory

pytestmark = pytest.mark.django_db


# What each role may and may not do, spot-checked.
GRANTED_AND_REFUSED = {
    "Planners": (
        [
            "planning.add_event",
            "planning.change_eventproductiontarget",
            "planning.add_productionrun",
            "fulfillment.add_eventrecipientpackage",
        ],
        ["fulfillment.change_fulfillment_status"],
    ),
    "Packers": (
        ["fulfillment.change_fulfillment_status", "planning.view_event"],
        ["fulfillment.undo_fulfillment_status", "planning.add_event"],
    ),
    "Coordinators": (
        [
            "fulfillment.undo_fulfillment_status",
            "fulfillment.change_fulfillment_status",
            "planning.delete_event",
        ],
        [],
    ),
}


@pytest.mark.parametrize(
    ("role", "perm", "allowed"),
    [
        (role, perm, allowed)
        for role, (granted, refused) in GRANTED_AND_REFUSED.items()
        for allowed, perms in ((True, granted), (False, refused))
        for perm in perms
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
