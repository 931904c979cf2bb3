"""The create form: when impact started (the SLA clocks run from it) and the priority that
impact × urgency will give, shown before the form is sent."""

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from incidents.choices import SlaKind
from incidents.models import Incident, PriorityMatrixEntry
from incidents.sla.presets import load_preset

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
FORM = {"title": "Outage", "impact": "2", "urgency": "2", "affected_users": "0", "source": "portal"}


@pytest.fixture
def portal(signed_in, responder):
    with time_machine.travel(NOW, tick=False):
        yield signed_in(responder)


def matrix_of(html: str) -> dict:
    found = re.search(r'<script id="priority-matrix" type="application/json">(.*?)</script>', html)
    return json.loads(found.group(1))


def preview_of(html: str) -> str:
    found = re.search(r'<output id="priority-preview"[^>]*>(.*?)</output>', html, re.S)
    return re.sub(r"<[^>]+>", "", found.group(1)).strip()


def test_the_sla_clocks_run_from_when_impact_started(portal):
    load_preset("response-workflow")

    response = portal.post(reverse("incidents:create"), {**FORM, "started_at": "2026-03-02T09:20"})

    incident = Incident.objects.get()
    assert response.status_code == 302
    assert incident.started_at == NOW - timedelta(minutes=40)
    assert incident.detected_at == NOW
    ack = incident.sla_timers.get(kind=SlaKind.ACKNOWLEDGE)  # P3: 4 h from the start
    assert ack.target_at == NOW - timedelta(minutes=40) + timedelta(hours=4)


def test_without_a_start_impact_starts_now(portal):
    portal.post(reverse("incidents:create"), FORM)

    assert Incident.objects.get().started_at == NOW


def test_a_start_in_the_future_is_refused_and_nothing_is_logged(portal):
    response = portal.post(
        reverse("incidents:create"), {**FORM, "started_at": "2026-03-02T11:00:00"}
    )

    assert response.status_code == 400
    assert response.context["form"].errors["started_at"] == ["Cannot be in the future."]
    assert not Incident.objects.exists()


def test_the_form_carries_the_configured_matrix_and_previews_its_priority(portal):
    PriorityMatrixEntry.objects.update_or_create(
        impact=2, urgency=2, defaults={"priority": "P2"}
    )  # a stricter cell

    html = portal.get(reverse("incidents:create")).content.decode()

    matrix = matrix_of(html)
    assert matrix["2,2"] == "P2"  # configured
    assert (matrix["1,1"], matrix["1,2"], matrix["3,3"]) == ("P1", "P2", "P4")  # defaults
    assert len(matrix) == 9
    assert preview_of(html) == "This will be P2."  # the form's initial 2 × 2
    assert "Times are in UTC." in html  # the zone a typed start is read in
    assert 'src="/static/js/create-incident.js"' in html


def test_a_refused_form_previews_the_priority_of_what_was_sent(portal):
    response = portal.post(reverse("incidents:create"), {**FORM, "title": "", "impact": "1"})

    assert response.status_code == 400
    assert preview_of(response.content.decode()) == "This will be P2."  # 1 × 2


def test_the_create_page_costs_a_fixed_number_of_queries(portal, django_assert_num_queries):
    # session, user, permissions (user + group), roles, the bell's unread count; the matrix;
    # the choices of services, teams and assignees.
    with django_assert_num_queries(10):
        response = portal.get(reverse("incidents:create"))

    assert response.status_code == 200
