"""Bad input at the war room's entry points: each class of value that once reached a 500 (or
`server_error` on the websocket) is now answered like any bad input (400 naming the field, 404,
415, or the admin's own error page), and changes nothing."""

import json
from urllib.parse import urlencode

import pytest
from django.urls import reverse

from incidents.choices import ChangeSource
from incidents.models import IncidentEvent
from itsm.models import ChatWebhook
from itsm.validation import UNSTORABLE_MESSAGE
from tests.conftest import api_error
from tests.factories import make_incident
from tests.incidents.test_admin import form_data
from tests.warroom._ws import db, in_event_loop, opened
from warroom import services
from warroom.choices import WarRoomRole
from warroom.models import (
    DeclarationRule,
    MajorIncident,
    RoleAssignment,
    ScratchpadRevision,
    WarRoomTask,
)

CLI = ChangeSource.CLI
NUL = "mo\x00na"
SURROGATE = "\ud800"  # half of a UTF-16 pair: JSON can carry it, UTF-8 cannot
DEEP = "[" * 100_000 + "]" * 100_000


def state() -> dict:
    """Everything a war-room write could change."""
    return {
        "events": list(IncidentEvent.objects.order_by("pk").values_list("pk", "pinned")),
        "majors": list(MajorIncident.objects.values()),
        "major history": MajorIncident.history.count(),
        "chat channels": list(
            MajorIncident.chat_webhooks.through.objects.values_list("majorincident", "chatwebhook")
        ),
        "roles": list(RoleAssignment.objects.values()),
        "tasks": list(WarRoomTask.objects.values()),
        "revisions": ScratchpadRevision.objects.count(),
        "rules": list(DeclarationRule.objects.values()),
        "rule history": DeclarationRule.history.count(),
    }


@pytest.fixture
def room(major, manager, responder):
    """A live war room with a chat channel, a pinned event, a task and a scribe."""
    ops = ChatWebhook.objects.create(
        slug="ops", name="#ops", kind="slack", url_env="SLACK_WEBHOOK_OPS"
    )
    services.major_incident_set_chat_webhooks(
        major=major, actor=manager, source=CLI, webhooks=[ops]
    )
    first = IncidentEvent.objects.filter(incident=major.incident).earliest("pk")
    services.event_pin(major=major, actor=manager, event_id=first.pk, pinned=True)
    services.task_create(major=major, actor=manager, source=CLI, title="Fail over")
    services.role_assign(
        major=major, actor=manager, source=CLI, role=WarRoomRole.SCRIBE, user=responder
    )
    return major


# --- the API -----------------------------------------------------------------------------------


@pytest.fixture
def as_manager(api, manager):
    return api.as_user(manager)


@pytest.fixture
def endpoints(room, responder):
    """Each API write of the war room: its method, path and a valid body."""
    other = make_incident(actor=responder, impact=1, urgency=1)
    path = f"/api/major-incidents/{room.number}/"
    task = room.tasks.get().pk
    first = IncidentEvent.objects.filter(incident=room.incident).earliest("pk").pk
    return {
        "declare": (
            "post",
            "/api/major-incidents/",
            {
                "incident_id": other.number,
                "major_incident_manager": "mona",
                "initial_impact_statement": "Nobody can pay",
            },
        ),
        "edit": ("patch", path, {"bridge_link": "https://meet.example.com/new"}),
        "demote": ("post", path + "demote/", {"reason": "Not that bad"}),
        "scratchpad": ("put", path + "scratchpad/", {"base_version": 0, "text": "Failing over"}),
        "assign role": ("post", path + "roles/", {"role": "scribe", "username": "mona"}),
        "add task": ("post", path + "tasks/", {"title": "Page the DBA", "assignee": "rita"}),
        "edit task": ("patch", path + f"tasks/{task}/", {"title": "Fail over to eu-west"}),
        "pin": ("post", path + f"timeline/{first}/pin/", {"pinned": False}),
        "note": ("post", path + "notes/", {"text": "Failover started"}),
        "edit rule": ("patch", "/api/declaration-rules/unacknowledged/", {"threshold": 30}),
    }


def send(client, method: str, path: str, body: str, content_type="application/json"):
    """A raw body, as a client that is not DRF's would send it (DRF's test client cannot even
    encode an unpaired surrogate)."""
    return getattr(client, method)(path, body, content_type=content_type)


@pytest.mark.parametrize(
    ("endpoint", "field", "value"),
    [
        ("declare", "major_incident_manager", NUL),
        ("edit", "major_incident_manager", NUL),
        ("edit", "chat_webhooks", ["o\x00ps"]),
        ("assign role", "username", NUL),
        ("add task", "assignee", NUL),
        ("edit task", "assignee", NUL),
        ("edit rule", "manager", NUL),
    ],
)
def test_a_nul_in_a_username_or_a_slug_is_a_field_error(
    as_manager, endpoints, endpoint, field, value
):
    """PostgreSQL cannot compare text with a NUL: the lookup used to fail (a 500)."""
    method, path, body = endpoints[endpoint]
    before = state()

    response = send(as_manager, method, path, json.dumps({**body, field: value}))

    assert api_error(response, 400, "invalid") == {field: [UNSTORABLE_MESSAGE]}
    assert state() == before


@pytest.mark.parametrize(
    ("endpoint", "field"), [("assign role", "role"), ("edit rule", "priority")]
)
def test_an_unpaired_surrogate_in_a_choice_is_quoted_escaped(
    as_manager, endpoints, endpoint, field
):
    """The error quotes the wrong choice; quoted as is, it could not be encoded (a 500)."""
    method, path, body = endpoints[endpoint]
    before = state()

    response = send(as_manager, method, path, json.dumps({**body, field: f"P{SURROGATE}"}))

    assert api_error(response, 400, "invalid") == {field: ['"P\\ud800" is not a valid choice.']}
    assert state() == before


@pytest.mark.parametrize(
    "endpoint",
    [
        "declare",
        "edit",
        "demote",
        "scratchpad",
        "assign role",
        "add task",
        "edit task",
        "pin",
        "note",
        "edit rule",
    ],
)
def test_json_nested_too_deep_is_a_malformed_body(as_manager, endpoints, endpoint):
    """Python's JSON decoder gives up with a RecursionError (it was a 500)."""
    method, path, _ = endpoints[endpoint]
    before = state()

    response = send(as_manager, method, path, DEEP)

    assert api_error(response, 400, "invalid") == {}
    assert "nested too deeply" in response.json()["error"]["message"]
    assert state() == before


@pytest.mark.parametrize("endpoint", ["edit", "demote", "edit task", "pin", "note", "edit rule"])
def test_a_form_body_is_refused_for_json(as_manager, endpoints, endpoint):
    """A form makes every value text, and a missing boolean false."""
    method, path, body = endpoints[endpoint]
    before = state()

    response = send(as_manager, method, path, urlencode(body), "application/x-www-form-urlencoded")

    api_error(response, 415, "unsupported_media_type")
    assert state() == before


def test_an_empty_body_sent_as_a_form_has_no_fields(as_manager, endpoints):
    """DRF reads it as a form, in which `pinned` left out is false: it unpinned the event."""
    method, path, _ = endpoints["pin"]
    before = state()

    response = send(as_manager, method, path, "", "application/x-www-form-urlencoded")

    assert api_error(response, 400, "invalid") == {"pinned": ["This field is required."]}
    assert state() == before


@pytest.mark.parametrize("value", [{}, {"ops": True}])
def test_chat_channels_given_as_an_object_are_refused(as_manager, endpoints, value):
    """DRF read an object as the list of its keys: `{}` removed every channel."""
    method, path, _ = endpoints["edit"]
    before = state()

    response = send(as_manager, method, path, json.dumps({"chat_webhooks": value}))

    assert api_error(response, 400, "invalid") == {
        "chat_webhooks": ['Expected a list of items but got type "object".']
    }
    assert state() == before


# --- the websocket -----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.usefixtures("fresh_channel_layers")
@pytest.mark.parametrize(
    ("message", "field"),
    [
        ({"type": "note", "text": f"Failover {SURROGATE}"}, "text"),
        ({"type": "scratchpad", "base_version": 0, "text": SURROGATE}, "text"),
        ({"type": "role.assign", "role": "scribe", "username": SURROGATE}, "username"),
        ({"type": "task.create", "title": SURROGATE}, "title"),
        ({"type": "task.create", "title": "Page the DBA", "assignee": SURROGATE}, "assignee"),
        ({"type": "task.update", "title": SURROGATE}, "title"),
        ({"type": "task.update", "assignee": SURROGATE}, "assignee"),
    ],
)
@in_event_loop
async def test_an_unpaired_surrogate_in_a_message_is_a_field_error(room, manager, message, field):
    """No UTF-8 text, so no database, holds one: the write failed (`server_error`)."""
    if message["type"] == "task.update":
        message = {**message, "id": await db(lambda: room.tasks.get().pk)()}
    before = await db(state)()

    async with opened(manager, room.number) as page:
        error = await page.error(**message)
        assert error["code"] == "invalid"
        assert error["fields"] == {field: ["Surrogate characters are not allowed: U+D800."]}
        assert await db(state)() == before

        assert await page.ack(type="note", text="Still connected")


# --- the admin ---------------------------------------------------------------------------------

MAJOR_INCIDENTS = reverse("admin:warroom_majorincident_changelist")
RULES = reverse("admin:warroom_declarationrule_changelist")


@pytest.fixture
def admin_as_manager(signed_in, manager):
    return signed_in(manager)


@pytest.mark.parametrize(
    ("changelist", "query"),
    [
        (MAJOR_INCIDENTS, "state=%00"),
        (MAJOR_INCIDENTS, "trigger__exact=manual%00"),
        (MAJOR_INCIDENTS, "declared_at__year=99999999999999999999"),
        (MAJOR_INCIDENTS, "declared_at__year=2026&declared_at__month=99999999999999999999"),
        (RULES, "priority=P1%00"),
    ],
)
def test_a_list_query_django_cannot_run_gets_the_lists_error_page(
    admin_as_manager, room, changelist, query
):
    """A NUL PostgreSQL cannot compare, or a date Python cannot hold: both were a 500."""
    response = admin_as_manager.get(f"{changelist}?{query}")

    assert response.status_code == 302
    assert response["Location"] == f"{changelist}?e=1"


@pytest.mark.parametrize("changelist", [MAJOR_INCIDENTS, RULES])
@pytest.mark.parametrize("tail", ["%00/history/", "%00/history/1/", "{pk}/history/%00/"])
def test_a_history_page_of_an_id_that_is_not_a_number_is_not_found(
    admin_as_manager, room, changelist, tail
):
    """simple-history's pages looked such an id up as a number (a 500)."""
    pk = room.pk if changelist == MAJOR_INCIDENTS else DeclarationRule.objects.first().pk

    response = admin_as_manager.get(changelist + tail.format(pk=pk))

    assert response.status_code == 404


@pytest.mark.parametrize("pk", [str(2**63), str(-(2**63) - 1), str(10**30)])
def test_a_chat_channel_id_beyond_the_id_column_is_a_form_error(admin_as_manager, room, pk):
    """SQLite raised OverflowError for it (a 500); PostgreSQL found no such channel."""
    change = reverse("admin:warroom_majorincident_change", args=[room.pk])
    data = form_data(admin_as_manager.get(change))
    data["chat_webhooks"] = [pk]
    before = state()

    response = admin_as_manager.post(change, data)

    assert response.status_code == 200
    assert list(response.context["adminform"].form.errors) == ["chat_webhooks"]
    assert state() == before
