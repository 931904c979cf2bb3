"""Each role against each API action: who may, who gets 403 (and anonymous callers 401)."""

from types import SimpleNamespace

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.urls import get_resolver
from simple_history.utils import get_history_model_for_model

from incidents.models import Incident, IncidentEvent, Service, Team
from itsm.api.permissions import ActionPermission
from tests.conftest import api_error, tick_all

ROLES = ["responder", "manager", "super_admin", "stakeholder", "nobody"]
READERS = {"responder", "manager", "super_admin", "stakeholder"}
WORKERS = {"responder", "manager", "super_admin"}
MANAGERS = {"manager", "super_admin"}

HOLD = {"reason": "vendor"}
RESOLVE = {"resolution_code": "fixed", "resolution_notes": "patched"}


def _action(method, path, *, body=None, path_to=(), ok=200, who):
    return SimpleNamespace(method=method, path=path, body=body, path_to=path_to, ok=ok, who=who)


INC = "/api/incidents/{number}/"

# Each API action: the request, the states it runs from, what success answers, and who may.
ACTIONS = {
    "list": _action("get", "/api/incidents/", who=READERS),
    "retrieve": _action("get", INC, who=READERS),
    "create": _action(
        "post", "/api/incidents/", body={"title": "t", "priority": "P3"}, ok=201, who=WORKERS
    ),
    "partial_update": _action("patch", INC, body={"title": "renamed"}, who=WORKERS),
    "priority_override": _action(
        "patch", INC, body={"priority": "P1", "priority_reason": "exec"}, who=MANAGERS
    ),
    "acknowledge": _action("post", INC + "acknowledge/", who=WORKERS),
    "start": _action("post", INC + "start/", path_to=("acknowledge",), who=WORKERS),
    "hold": _action("post", INC + "hold/", body=HOLD, path_to=("acknowledge",), who=WORKERS),
    "resume": _action("post", INC + "resume/", path_to=("acknowledge", "hold"), who=WORKERS),
    "mitigate": _action(
        "post",
        INC + "mitigate/",
        body={"note": "failover"},
        path_to=("acknowledge", "start"),
        who=WORKERS,
    ),
    "resolve": _action(
        "post", INC + "resolve/", body=RESOLVE, path_to=("acknowledge", "start"), who=WORKERS
    ),
    "reopen": _action(
        "post",
        INC + "reopen/",
        body={"reason": "back"},
        path_to=("acknowledge", "start", "resolve"),
        who=WORKERS,
    ),
    "close": _action(
        "post", INC + "close/", path_to=("acknowledge", "start", "resolve"), who=WORKERS
    ),
    "cancel": _action("post", INC + "cancel/", body={"reason": "false positive"}, who=WORKERS),
    "notes": _action("post", INC + "notes/", body={"text": "looking"}, ok=201, who=WORKERS),
    "checklist": _action("post", INC + "checklist/", body={"item": "kb_updated"}, who=WORKERS),
    "take": _action("post", INC + "take/", who=WORKERS),
    "page": _action("post", INC + "page/", body={"users": ["rita"]}, ok=201, who=WORKERS),
    "responders": _action(
        "post", INC + "responders/", body={"users": ["rita"]}, ok=201, who=WORKERS
    ),
    "list_responders": _action("get", INC + "responders/", who=READERS),
    "timeline": _action("get", INC + "timeline/", who=READERS),
    "history": _action("get", INC + "history/", who=READERS),
    "alerts": _action("get", INC + "alerts/", who=READERS),
    "services_list": _action("get", "/api/services/", who=READERS),
    "services_retrieve": _action("get", "/api/services/checkout/", who=READERS),
    "services_create": _action(
        "post", "/api/services/", body={"slug": "vpn", "name": "VPN"}, ok=201, who=MANAGERS
    ),
    "teams_list": _action("get", "/api/teams/", who=READERS),
    "teams_create": _action(
        "post", "/api/teams/", body={"slug": "dba", "name": "DBA"}, ok=201, who=MANAGERS
    ),
}

CASES = [(role, name) for name in ACTIONS for role in ROLES]


def _written():
    history = get_history_model_for_model(Incident)
    return (
        list(Incident.objects.values_list("number", "title", "status", "priority")),
        IncidentEvent.objects.count(),
        history.objects.count(),
        Service.objects.count(),
        Team.objects.count(),
    )


@pytest.fixture
def prepared(incident, responder, drive):
    """The incident in the state the action runs from, with the checklist done for `close`."""

    def prepare(action):
        drive(incident, responder, *action.path_to)
        if action.path.endswith("close/"):
            tick_all(incident, responder)
        return action.path.format(number=incident.number)

    return prepare


def _call(client, action, path):
    if action.body is None:
        return getattr(client, action.method)(path)
    return getattr(client, action.method)(path, action.body, format="json")


@pytest.mark.parametrize(("role", "name"), CASES)
def test_role_against_action(request, api, prepared, role, name):
    action = ACTIONS[name]
    path = prepared(action)
    before = _written()

    response = _call(api.as_user(request.getfixturevalue(role)), action, path)

    if role in action.who:
        assert response.status_code == action.ok, response.content
    else:
        api_error(response, 403, "permission_denied")
        assert _written() == before


@pytest.mark.parametrize("name", ACTIONS)
def test_anonymous_caller_gets_401(api, prepared, name):
    action = ACTIONS[name]
    path = prepared(action)
    before = _written()

    response = _call(api, action, path)

    api_error(response, 401, "not_authenticated")
    assert _written() == before


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("responder", ["acknowledge", "cancel"]),
        ("manager", ["acknowledge", "cancel"]),
        ("stakeholder", []),
    ],
)
def test_detail_offers_only_the_transitions_the_role_may_run(request, api, incident, role, allowed):
    client = api.as_user(request.getfixturevalue(role))

    body = client.get(f"/api/incidents/{incident.number}/").json()

    assert body["allowed_transitions"] == allowed


def test_superuser_without_groups_holds_every_permission(api, make_user, incident):
    root = make_user("root", is_superuser=True)

    response = api.as_user(root).post(
        f"/api/incidents/{incident.number}/acknowledge/", {}, format="json"
    )

    assert response.status_code == 200


# --- the permission map ------------------------------------------------------------------


def _routed_viewsets(patterns):
    """(viewset class, {method: action}) for every viewset route in the project's URLs."""
    for pattern in patterns:
        if hasattr(pattern, "url_patterns"):
            yield from _routed_viewsets(pattern.url_patterns)
        elif getattr(pattern.callback, "actions", None):
            yield pattern.callback.cls, pattern.callback.actions


def test_every_routed_action_has_a_permission():
    routes = list(_routed_viewsets(get_resolver().url_patterns))
    assert routes, "no viewsets found"

    for cls, actions in routes:
        assert ActionPermission in cls.permission_classes, cls
        missing = set(actions.values()) - set(cls.action_permissions)
        assert not missing, f"{cls.__name__} has no permission for {sorted(missing)}"


def test_every_incident_action_is_listed_here():
    """This module tests each of IncidentViewSet's actions; a new action must join ACTIONS."""
    incident_actions = {
        action
        for cls, actions in _routed_viewsets(get_resolver().url_patterns)
        if cls.__name__ == "IncidentViewSet"
        for action in actions.values()
    }

    assert "partial_update" in incident_actions
    assert incident_actions <= set(ACTIONS)


def test_an_action_missing_from_the_map_fails_loudly(rf, responder):
    request = rf.get("/")
    request.user = responder
    view = SimpleNamespace(action="export", action_map={"get": "export"}, action_permissions={})

    with pytest.raises(ImproperlyConfigured, match="export"):
        ActionPermission().has_permission(request, view)
