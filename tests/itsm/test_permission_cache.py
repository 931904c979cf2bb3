"""An API request reads its user's permission set from the cache (itsm/permission_cache.py),
and any change of who holds which permission is seen by the next request."""

import pytest
from django.contrib.auth.models import Group, Permission

from itsm.roles import Role
from itsm.services import user_roles_set

INCIDENTS = "/api/incidents/"


@pytest.fixture
def client(api, responder):
    client = api.as_user(responder)
    client.get(INCIDENTS)  # the token's first use recorded, the permissions cached
    return client


def test_a_second_request_reads_no_permissions(client, django_assert_num_queries):
    with django_assert_num_queries(2):  # the token; the count (an empty page reads no more)
        response = client.get(INCIDENTS + "?status=new")

    assert response.status_code == 200


def test_a_role_taken_away_is_seen_by_the_next_request(client, responder):
    user_roles_set(user=responder, roles=set())

    assert client.get(INCIDENTS).status_code == 403


def test_a_role_given_is_seen_by_the_next_request(api, make_user):
    nobody = make_user("nobody")
    client = api.as_user(nobody)
    assert client.get(INCIDENTS).status_code == 403

    nobody.groups.add(Group.objects.get(name=Role.STAKEHOLDER))

    assert client.get(INCIDENTS).status_code == 200


def test_a_permission_taken_from_the_group_is_seen_by_the_next_request(client):
    view = Permission.objects.get(codename="view_incident")
    Group.objects.get(name=Role.RESPONDER).permissions.remove(view)

    assert client.get(INCIDENTS).status_code == 403


def test_a_group_cleared_of_its_members_is_seen_by_the_next_request(client):
    Group.objects.get(name=Role.RESPONDER).user_set.clear()

    assert client.get(INCIDENTS).status_code == 403


def test_a_deactivated_user_is_refused(client, responder):
    responder.is_active = False
    responder.save()

    assert client.get(INCIDENTS).status_code == 401
