"""The action-item API: roles, bodies, filters, and what a list costs."""

from datetime import date

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from incidents.choices import EventType
from postmortems.action_items import action_item_update
from postmortems.models import ActionItem
from tests.conftest import api_error
from tests.factories import make_incident

LIST = "/api/action-items/"
TODAY = date(2026, 3, 12)
AUTH = 1  # the token with its user; the permissions are cached (itsm/permission_cache.py)
LIST_QUERIES = AUTH + 2  # the count; the page, each item with its incident, team and people
DETAIL_QUERIES = AUTH + 1  # the item with its incident, team and people


def _detail(item) -> str:
    return f"{LIST}{item.pk}/"


def _body(for_incident, **fields) -> dict:
    return {
        "incident": for_incident.number,
        "title": "Add a canary stage",
        "owner": "rita",
        "due_date": "2026-04-01",
        **fields,
    }


@pytest.mark.django_db
def test_create_answers_the_item(api, manager, incident, team):
    body = _body(
        incident,
        description="Deploys go to 5 % first.",
        priority="P0",
        type="prevent",
        tracker_url="https://jira.example.org/browse/OPS-7",
        tracker_key="OPS-7",
    )
    response = api.as_user(manager).post(LIST, body, format="json")

    assert response.status_code == 201, response.content
    data = response.json()
    item = ActionItem.objects.get()
    assert data["id"] == item.pk and data["incident"] == incident.number
    assert data["owner"] == {"username": "rita", "name": "rita"}
    assert (data["priority"], data["type"], data["status"]) == ("P0", "prevent", "open")
    assert (data["tracker_key"], data["due_date"]) == ("OPS-7", "2026-04-01")
    assert data["created_by"]["username"] == "mona" and data["completed_at"] is None
    assert incident.events.filter(type=EventType.ACTION_ITEM).count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["responder", "manager", "super_admin"])
def test_staff_write(api, request, incident, role):
    user = request.getfixturevalue(role)
    created = api.as_user(user).post(LIST, _body(incident), format="json")
    assert created.status_code == 201, created.content
    changed = api.patch(f"{LIST}{created.json()['id']}/", {"status": "done"}, format="json")
    assert changed.status_code == 200, changed.content
    assert changed.json()["status"] == "done" and changed.json()["completed_at"]


@pytest.mark.django_db
def test_stakeholders_read_and_may_not_write(api, stakeholder, make_item, incident):
    item = make_item()
    client = api.as_user(stakeholder)

    assert client.get(LIST).json()["results"][0]["id"] == item.pk
    assert client.get(_detail(item)).json()["title"] == item.title
    api_error(client.post(LIST, _body(incident), format="json"), 403, "permission_denied")
    api_error(
        client.patch(_detail(item), {"status": "done"}, format="json"), 403, "permission_denied"
    )
    assert ActionItem.objects.count() == 1
    item.refresh_from_db()
    assert item.status == "open"


@pytest.mark.django_db
def test_no_role_no_access_and_signed_out_401(api, nobody, make_item, incident):
    item = make_item()
    client = api.as_user(nobody)
    for response in (
        client.get(LIST),
        client.get(_detail(item)),
        client.post(LIST, _body(incident), format="json"),
        client.patch(_detail(item), {"title": "x"}, format="json"),
    ):
        api_error(response, 403, "permission_denied")
    api.credentials()
    assert api.get(LIST).status_code == 401


@pytest.mark.django_db
def test_unknown_item_is_404_and_delete_put_are_405(api, manager, make_item):
    item = make_item()
    client = api.as_user(manager)
    api_error(client.get(f"{LIST}99999999/"), 404, "not_found")
    api_error(client.get(f"{LIST}99999999999999999999999/"), 404, "not_found")
    assert client.delete(_detail(item)).status_code == 405
    assert client.put(_detail(item), _body(item.incident), format="json").status_code == 405


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"incident": "INC9999999"}, "incident"),
        ({"incident": 7}, "incident"),
        ({"owner": "nobody-here"}, "owner"),
        ({"owner": "stella"}, "owner"),
        ({"due_date": "next week"}, "due_date"),
        ({"priority": "P3"}, "priority"),
        ({"type": "blame"}, "type"),
        ({"title": ""}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"tracker_url": "ftp://tracker"}, "tracker_url"),
        ({"status": "done"}, "status"),
        ({"assignee": "rita"}, "assignee"),
    ],
)
def test_bad_create_is_400_naming_the_field_and_writes_nothing(
    api, manager, incident, stakeholder, change, field
):
    response = api.as_user(manager).post(LIST, _body(incident, **change), format="json")
    assert field in api_error(response, 400, "invalid")
    assert not ActionItem.objects.exists()
    assert not incident.events.filter(type=EventType.ACTION_ITEM).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"status": "wont_do"}, "wont_do_reason"),
        ({"status": "closed"}, "status"),
        ({"owner": None}, "owner"),
        ({"due_date": None}, "due_date"),
        ({"incident": "INC0000001"}, "incident"),
        ({"completed_at": "2026-01-01T00:00:00Z"}, "completed_at"),
        ({"title": "ok", "priority": "P9"}, "priority"),
    ],
)
def test_bad_patch_is_400_and_changes_nothing(api, responder, make_item, change, field):
    item = make_item()
    response = api.as_user(responder).patch(_detail(item), change, format="json")
    assert field in api_error(response, 400, "invalid")
    assert item.history.count() == 1
    item.refresh_from_db()
    assert (item.status, item.title, item.priority) == (
        "open",
        "Alert on checkout error rate",
        "P1",
    )


@pytest.mark.django_db
def test_wont_do_with_reason(api, responder, make_item):
    item = make_item()
    response = api.as_user(responder).patch(
        _detail(item), {"status": "wont_do", "wont_do_reason": "Replaced by OPS-9"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["wont_do_reason"] == "Replaced by OPS-9"


@pytest.fixture
def listed(make_item, make_user, manager, responder, team):
    """Items: rita's overdue one, her done one, mona's overdue one on the payments team's
    incident, and mona's future one."""
    other = make_incident(actor=responder, team=team, title="Payments down")
    items = {
        "rita_overdue": make_item(due_date=date(2026, 3, 1)),
        "rita_done": make_item(due_date=date(2026, 3, 1)),
        "mona_overdue": make_item(incident=other, owner=manager, due_date=date(2026, 3, 11)),
        "mona_later": make_item(incident=other, owner=manager, due_date=date(2026, 3, 12)),
    }
    action_item_update(item=items["rita_done"], actor=responder, source="cli", status="done")
    return items


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("owner=rita", ["rita_overdue", "rita_done"]),
        ("owner=me", ["mona_overdue", "mona_later"]),
        ("status=done", ["rita_done"]),
        ("status=open&status=in_progress", ["rita_overdue", "mona_overdue", "mona_later"]),
        ("overdue=true", ["rita_overdue", "mona_overdue"]),
        ("overdue=false", ["rita_done", "mona_later"]),
        ("team=payments", ["mona_overdue", "mona_later"]),
        ("team=payments&overdue=true", ["mona_overdue"]),
    ],
)
def test_list_filters(api, manager, listed, query, expected):
    with time_machine.travel(TODAY, tick=False):
        response = api.as_user(manager).get(f"{LIST}?{query}")
    assert response.status_code == 200, response.content
    ids = [row["id"] for row in response.json()["results"]]
    assert sorted(ids) == sorted(listed[name].pk for name in expected)


@pytest.mark.django_db
def test_incident_filter_and_overdue_flag(api, manager, listed):
    number = listed["mona_overdue"].incident.number
    with time_machine.travel(TODAY, tick=False):
        rows = api.as_user(manager).get(f"{LIST}?incident={number}").json()["results"]
    assert {row["id"]: row["overdue"] for row in rows} == {
        listed["mona_overdue"].pk: True,
        listed["mona_later"].pk: False,
    }
    assert {row["team"] for row in rows} == {"payments"}


@pytest.mark.django_db
def test_a_bad_filter_is_400(api, manager, listed):
    response = api.as_user(manager).get(f"{LIST}?status=closed")
    assert "status" in api_error(response, 400, "invalid")


@pytest.mark.django_db
def test_the_list_costs_the_same_for_many_items(api, manager, listed, make_item):
    client = api.as_user(manager)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(LIST).status_code == 200
        return len(captured)

    queries()  # the token's first use of the day is recorded once
    few = queries()
    for _ in range(5):
        make_item()
    assert queries() == few == LIST_QUERIES


@pytest.mark.django_db
def test_one_item_costs_one_query(api, manager, make_item):
    item = make_item()
    client = api.as_user(manager)
    client.get(_detail(item))  # the token's first use of the day is recorded once
    with CaptureQueriesContext(connection) as captured:
        assert client.get(_detail(item)).status_code == 200
    assert len(captured) == DETAIL_QUERIES
