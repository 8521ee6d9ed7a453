"""`user_has_perm` (eventplanner/domain.py) checks permissions with one SQL statement on the
services' connection; it must agree with Django's own `has_perm` in every case."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.db import connection

from eventplanner.domain import user_has_perm

pytestmark = pytest.mark.django_db

STATUS = "fulfillment.change_fulfillment_status"
UNDO = "fulfillment.undo_fulfillment_status"
CHECKED = (STATUS, UNDO, "planning.add_event", "fulfillment.add_event", "nosuch.perm")


def permission(perm):
    app_label, codename = perm.split(".")
    return Permission.objects.get(content_type__app_label=app_label, codename=codename)


@pytest.fixture
def make_user(django_user_model):
    def make(**fields):
        return django_user_model.objects.create_user(
            username=f"user{django_user_model.objects.count()}", **fields
        )

    return make


def agrees_with_django(user):
    fresh = type(user).objects.get(pk=user.pk)  # no permission cache left from before
    for perm in CHECKED:
        assert user_has_perm(user, perm, connection=connection) == fresh.has_perm(perm), perm


def test_a_user_without_permissions_has_none(make_user):
    user = make_user()
    agrees_with_django(user)
    assert not user_has_perm(user, STATUS, connection=connection)


def test_a_permission_given_to_the_user_counts(make_user):
    user = make_user()
    user.user_permissions.add(permission(STATUS))
    agrees_with_django(user)
    assert user_has_perm(user, STATUS, connection=connection)
    assert not user_has_perm(user, UNDO, connection=connection)


def test_a_permission_of_one_of_the_users_groups_counts(make_user):
    user = make_user()
    empty, packers = Group.objects.create(name="empty"), Group.objects.create(name="p")
    packers.permissions.add(permission(STATUS))
    user.groups.add(empty, packers)
    agrees_with_django(user)
    assert user_has_perm(user, STATUS, connection=connection)


def test_another_users_or_groups_permission_does_not_count(make_user):
    user, other = make_user(), make_user()
    other.user_permissions.add(permission(STATUS))
    group = Group.objects.create(name="others")
    group.permissions.add(permission(UNDO))
    other.groups.add(group)
    agrees_with_django(user)
    assert not user_has_perm(user, STATUS, connection=connection)
    assert not user_has_perm(user, UNDO, connection=connection)


def test_an_inactive_user_has_no_permission_and_a_superuser_has_all(make_user):
    inactive = make_user(is_active=False)
    inactive.user_permissions.add(permission(STATUS))
    agrees_with_django(inactive)
    assert not user_has_perm(inactive, STATUS, connection=connection)
    boss = make_user(is_superuser=True)
    agrees_with_django(boss)
    assert user_has_perm(None, STATUS, connection=connection) is False


def test_the_check_is_one_statement(make_user, django_assert_num_queries):
    user = make_user()
    with django_assert_num_queries(1):
        user_has_perm(user, STATUS, connection=connection)
