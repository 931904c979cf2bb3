import pytest
from django.conf import settings
from rest_framework.test import APIClient

from incidents import services
from incidents.choices import ChangeSource, ChecklistItem
from itsm.roles import Role
from itsm.services import token_create
from tests.factories import ServiceFactory, TeamFactory, UserFactory, make_incident


def pytest_collection_modifyitems(config, items):
    if settings.IS_POSTGRES:
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL (make test does in CI)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def make_user(db):
    def make(username=None, *, roles=(), **kwargs):
        if username:
            kwargs["username"] = username
        return UserFactory(roles=[str(r) for r in roles], **kwargs)

    return make


@pytest.fixture
def responder(make_user):
    return make_user("rita", roles=[Role.RESPONDER])


@pytest.fixture
def manager(make_user):
    return make_user("mona", roles=[Role.ITSM_MANAGER], is_staff=True)


@pytest.fixture
def super_admin(make_user):
    return make_user("sam", roles=[Role.SUPER_ADMIN], is_staff=True)


@pytest.fixture
def stakeholder(make_user):
    return make_user("stella", roles=[Role.STAKEHOLDER])


@pytest.fixture
def nobody(make_user):
    """Signed in, but holds no role."""
    return make_user("norole")


@pytest.fixture
def service(db):
    return ServiceFactory(slug="checkout", name="Checkout")


@pytest.fixture
def team(db):
    return TeamFactory(slug="payments", name="Payments")


@pytest.fixture
def incident(responder, service):
    return make_incident(actor=responder, services=[service.slug])


@pytest.fixture
def api(db):
    """An API client; `api.as_user(user)` signs it in with a fresh bearer token."""
    client = APIClient()

    def as_user(user):
        _, raw = token_create(user=user, name="test")
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        return client

    client.as_user = as_user
    return client


def api_error(response, status: int, code: str) -> dict:
    """Assert `response` is the API's one error shape with this status and code; return its
    `fields`."""
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"code", "message", "fields"}, error
    assert error["code"] == code, error
    assert isinstance(error["message"], str) and error["message"], error
    return error["fields"]


def tick_all(incident, actor):
    for item in ChecklistItem.values:
        services.incident_tick_checklist(
            incident=incident, actor=actor, source=ChangeSource.CLI, item=item
        )


@pytest.fixture
def drive():
    """Move an incident along the lifecycle: `drive(incident, actor, "acknowledge", "start")`."""
    fields = {
        "hold": {"reason": "waiting on vendor"},
        "mitigate": {"note": "failed over to the standby"},
        "resolve": {"resolution_code": "fixed", "resolution_notes": "patched"},
        "reopen": {"reason": "errors are back"},
        "cancel": {"reason": "false positive"},
    }

    def run(incident, actor, *names):
        for name in names:
            if name == "close":
                tick_all(incident, actor)
            incident = services.incident_transition(
                incident=incident,
                name=name,
                actor=actor,
                source=ChangeSource.CLI,
                **fields.get(name, {}),
            )
        return incident

    return run
