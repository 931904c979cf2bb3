"""The communications API: drafts from the incident, edits, one send, the templates, and the
role rules of every route (stakeholders read, responders draft, the incident commander and
managers send)."""

import pytest

from tests.conftest import api_error
from warroom.models import Communication


def communications(incident) -> str:
    return f"/api/incidents/{incident.number}/communications/"


def one(incident, communication) -> str:
    return f"{communications(incident)}{communication['id']}/"


def test_a_draft_is_made_edited_and_sent(api, commanded, responder, it_leader):
    client = api.as_user(responder)
    created = client.post(communications(commanded), {"template": "initial"}, format="json")
    assert created.status_code == 201, created.content
    draft = created.json()
    assert draft["subject"] == f"INCIDENT ALERT - Checkout ({commanded.number})"
    assert "Impact: Checkout fails for every customer\n" in draft["body"]
    assert (draft["audience"], draft["status"]) == (
        "IT leadership and affected department heads",
        "draft",
    )
    edited = client.patch(one(commanded, draft), {"body": "Checkout is down."}, format="json")
    assert (edited.status_code, edited.json()["body"]) == (200, "Checkout is down.")
    sent = client.post(f"{one(commanded, draft)}send/")
    assert sent.status_code == 200, sent.content
    assert sent.json()["status"] == "sent"
    assert sent.json()["recipients"] == [{"kind": "person", "address": "stella@example.org"}]
    api_error(client.post(f"{one(commanded, draft)}send/"), 409, "conflict")
    api_error(client.patch(one(commanded, draft), {"body": "x"}, format="json"), 409, "conflict")
    listed = api.as_user(it_leader).get(communications(commanded))
    assert [row["id"] for row in listed.json()] == [draft["id"]]


def test_bad_input_is_a_400_naming_the_field_and_writes_nothing(api, commanded, responder):
    client = api.as_user(responder)
    url = communications(commanded)
    assert set(
        api_error(client.post(url, {"template": "gossip"}, format="json"), 400, "invalid")
    ) == {"template"}
    fields = api_error(
        client.post(url, {"template": "update", "x": 1}, format="json"), 400, "invalid"
    )
    assert set(fields) == {"x"}
    assert not Communication.objects.exists()
    draft = client.post(url, {"template": "update"}, format="json").json()
    fields = api_error(
        client.patch(one(commanded, draft), {"subject": ""}, format="json"), 400, "invalid"
    )
    assert set(fields) == {"subject"}
    fields = api_error(
        client.post(f"{one(commanded, draft)}send/", {"now": True}, format="json"), 400, "invalid"
    )
    assert set(fields) == {"now"}
    assert (
        api.as_user(responder).get("/api/incidents/INC9999999/communications/").status_code == 404
    )


def test_templates_are_listed_with_their_trigger_and_audience(api, stakeholder):
    response = api.as_user(stakeholder).get("/api/communication-templates/")
    assert response.status_code == 200
    rows = {
        row["kind"]: (row["trigger"], row["audience"], row["version"], row["auto_post"])
        for row in response.json()
    }
    assert rows["update"] == ("Every 30 min", "IT leadership", 1, False)
    assert rows["status_page"] == ("On state change", "All users (via status page)", 2, False)
    assert len(rows) == 5


@pytest.mark.parametrize(
    ("who", "reads", "drafts", "sends"),
    [
        ("manager", True, True, True),
        ("responder", True, True, True),  # the incident commander
        ("other_responder", True, True, False),
        ("stakeholder", True, False, False),
        ("nobody", False, False, False),
    ],
)
def test_the_role_rules_of_every_route(
    who, reads, drafts, sends, api, commanded, responder, request, make_user
):
    actor = (
        make_user("otto", roles=["responder"])
        if who == "other_responder"
        else request.getfixturevalue(who)
    )
    draft = (
        api.as_user(responder)
        .post(communications(commanded), {"template": "update"}, format="json")
        .json()
    )
    client = api.as_user(actor)
    expected = {True: (200, 201), False: (403,)}
    assert client.get(communications(commanded)).status_code in expected[reads]
    assert client.get("/api/communication-templates/").status_code in expected[reads]
    made = client.post(communications(commanded), {"template": "update"}, format="json")
    assert made.status_code in expected[drafts]
    edited = client.patch(one(commanded, draft), {"body": "Edited."}, format="json")
    assert edited.status_code in expected[drafts]
    assert client.post(f"{one(commanded, draft)}send/").status_code in expected[sends]
