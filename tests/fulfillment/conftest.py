import pytest
from django.contrib.auth.models import Group

from tests.planning.factories import UserFactory


@pytest.fixture
def role_user(db):
    """A user in one of the role groups (Planners, Packers, Coordinators)."""

    def make(role: str, username: str | None = None):
        user = UserFactory(username=username or role.lower())
        user.groups.add(Group.objects.get(name=role))
        return user

    return make


@pytest.fixture
def client_as(client, role_user):
    """The test client signed in as a fresh user of the given role."""

    def sign_in(role: str, username: str | None = None):
        user = role_user(role, username)
        client.force_login(user)
        client.user = user
        return client

    return sign_in


HTMX = {"HTTP_HX_REQUEST": "true"}
