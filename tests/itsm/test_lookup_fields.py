"""Every field of the API that looks an object up by text (a slug, a username) refuses text no
database can compare (a NUL, an unpaired surrogate) with a 400 naming the field: PostgreSQL
failed the lookup, a 500. The fields are found by walking the serializers, so a lookup field
added later is checked too."""

import json
from importlib import import_module

import pytest
from django.conf import settings
from rest_framework import serializers

from incidents.models import Incident, Schedule, Service, SlaPolicy, Team
from itsm.api.fields import TextLookupField
from itsm.validation import UNSTORABLE_MESSAGE
from tests.conftest import api_error

PROJECT = ("itsm.", "incidents.", "warroom.", "postmortems.")
UNSTORABLE = {"nul": "pay\x00ments", "surrogate": "pay\ud800ments"}


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def _is_abstract(cls) -> bool:
    """A model serializer base that names no model."""
    return issubclass(cls, serializers.ModelSerializer) and not hasattr(cls, "Meta")


def _project_serializers():
    import_module(settings.ROOT_URLCONF)  # imports every API module, so every serializer
    found = {
        cls
        for cls in _subclasses(serializers.Serializer)
        if cls.__module__.startswith(PROJECT) and not _is_abstract(cls)
    }
    return sorted(found, key=lambda cls: cls.__qualname__)


def _writable_lookups(field, path):
    """The writable related fields in `field`, and in the items of a list field. A nested
    serializer is walked as a serializer of its own."""
    if field.read_only:
        return
    if isinstance(field, serializers.ManyRelatedField):
        yield from _writable_lookups(field.child_relation, path)
    elif isinstance(field, serializers.RelatedField):
        yield path, field
    elif isinstance(field, serializers.ListField):
        yield from _writable_lookups(field.child, path)


def lookup_fields() -> dict:
    return {
        path: field
        for serializer in _project_serializers()
        for name, declared in serializer().fields.items()
        for path, field in _writable_lookups(declared, f"{serializer.__name__}.{name}")
    }


LOOKUP_FIELDS = lookup_fields()


def test_the_walk_finds_the_lookup_fields_of_every_app():
    assert {
        "IncidentCreateSerializer.team",
        "IncidentUpdateSerializer.assignee",
        "ServiceSerializer.owner_team",
        "ServiceSerializer.depends_on",
        "TeamSerializer.members",
        "SlaPolicySerializer.calendar",
        "ScheduleSerializer.team",
        "RotationSerializer.members",
        "OverrideSerializer.user",
        "EscalationLevelSerializer.target_schedules",
        "TaskCreateSerializer.assignee",
        "MajorIncidentUpdateSerializer.chat_webhooks",
    } <= set(LOOKUP_FIELDS)


@pytest.mark.parametrize("path", sorted(LOOKUP_FIELDS))
@pytest.mark.parametrize("value", UNSTORABLE.values(), ids=UNSTORABLE.keys())
def test_every_lookup_field_refuses_text_no_database_can_compare(db, path, value):
    field = LOOKUP_FIELDS[path]

    with pytest.raises(serializers.ValidationError) as refused:
        field.run_validation(value)

    assert isinstance(field, TextLookupField)
    assert refused.value.detail == [UNSTORABLE_MESSAGE]


@pytest.fixture
def as_manager(api, manager, team, service):
    Schedule.objects.create(slug="primary", name="Primary")
    return api.as_user(manager)


ROTATION = {"name": "Daily", "handoff_at": "2026-01-05T09:00:00Z", "shift_length": "1 00:00:00"}
OVERRIDE = {"starts_at": "2026-01-05T12:00:00Z", "ends_at": "2026-01-05T18:00:00Z"}

# Each lookup field the security review found failing, as the request that reaches it, and
# where the answer names it.
REQUESTS = {
    "incident team": ("post", "/api/incidents/", {"title": "Down", "priority": "P3"}, "team"),
    "incident assignee": ("patch", "/api/incidents/{number}/", {}, "assignee"),
    "service owner_team": ("post", "/api/services/", {"slug": "s", "name": "S"}, "owner_team"),
    "service depends_on": ("post", "/api/services/", {"slug": "s", "name": "S"}, "depends_on"),
    "team members": ("post", "/api/teams/", {"slug": "t", "name": "T"}, "members"),
    "sla calendar": ("post", "/api/sla-policies/", {"slug": "p", "name": "P"}, "calendar"),
    "schedule team": ("post", "/api/schedules/", {"slug": "s", "name": "S"}, "team"),
    "rotation members": ("post", "/api/schedules/", {"slug": "s", "name": "S"}, "rotations"),
    "override user": ("post", "/api/schedules/primary/overrides/", OVERRIDE, "user"),
}


def _with_bad(field: str, bad: str):
    """The bad value where `field` takes it, and the error the answer names it with."""
    if field == "rotations":
        return [{**ROTATION, "members": [bad]}], {"0": {"members": {"0": [UNSTORABLE_MESSAGE]}}}
    if field in ("depends_on", "members"):
        return [bad], [UNSTORABLE_MESSAGE]
    return bad, [UNSTORABLE_MESSAGE]


def _stored() -> dict:
    return {
        model.__name__: list(model.objects.order_by("pk").values())
        for model in (Incident, Service, Team, SlaPolicy, Schedule)
    }


@pytest.mark.parametrize("request_name", REQUESTS)
def test_a_nul_in_a_looked_up_name_is_a_400_naming_the_field(as_manager, incident, request_name):
    method, path, body, field = REQUESTS[request_name]
    value, error = _with_bad(field, UNSTORABLE["nul"])
    before = _stored()

    response = getattr(as_manager, method)(
        path.format(number=incident.number),
        json.dumps({**body, field: value}),
        content_type="application/json",
    )

    assert api_error(response, 400, "invalid") == {field: error}
    assert _stored() == before
