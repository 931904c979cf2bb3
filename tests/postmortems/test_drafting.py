"""The first draft, generated from the record: facts, the timeline of key events in order, and
the scratchpad's TODO / FIXME / ACTION lines as proposed action items."""

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from incidents import clock
from incidents import services as incident_services
from incidents.models import IncidentEvent
from itsm.roles import Role
from postmortems import drafting, services
from tests.factories import make_incident
from tests.postmortems.reviews import CLI, T0, at
from warroom import services as warroom_services
from warroom.choices import WarRoomRole


@pytest.fixture
def traveller(db):
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def scribe(make_user):
    return make_user("sid", roles=[Role.RESPONDER], first_name="Sid", last_name="Scribe")


@pytest.fixture
def fought(traveller, drive, responder, manager, scribe, service):
    """A P1 declared major, staffed, noted, acknowledged late (its acknowledge SLA breached),
    mitigated and resolved, each a few minutes apart."""
    incident = make_incident(
        actor=responder, priority="P1", services=[service.slug], affected_users=1200
    )
    traveller.move_to(at(minutes=5))
    major = warroom_services.major_incident_declare(
        incident=incident,
        actor=manager,
        source=CLI,
        manager=manager,
        initial_impact_statement="Checkout fails",
    )
    for minute, role, user in [
        (6, WarRoomRole.INCIDENT_COMMANDER, responder),
        (7, WarRoomRole.SCRIBE, scribe),
        (8, WarRoomRole.INCIDENT_COMMANDER, manager),
    ]:
        traveller.move_to(at(minutes=minute))
        warroom_services.role_assign(major=major, actor=manager, source=CLI, role=role, user=user)
    traveller.move_to(at(minutes=20))
    clock.tick()  # the acknowledge target (15 min) has passed
    incident_services.incident_update(
        incident=incident, actor=responder, source=CLI, assignee=responder
    )
    drive(incident, responder, "acknowledge", "start")
    traveller.move_to(at(minutes=25))
    key = warroom_services.note_add(major=major, actor=scribe, source=CLI, text="Rolled back v42")
    warroom_services.note_add(major=major, actor=scribe, source=CLI, text="still looking")
    incident_services.incident_event_pin(event=key, actor=scribe, pinned=True)
    traveller.move_to(at(minutes=30))
    drive(incident, responder, "mitigate")
    traveller.move_to(at(minutes=40))
    warroom_services.scratchpad_update(
        major=major,
        actor=scribe,
        base_version=0,
        text="\n".join(
            [
                "Notes",
                "TODO: add a canary stage",
                "- ACTION alert on 5xx rate",
                "TODO: add a canary stage",
            ]
        ),
    )
    return drive(incident, responder, "resolve")


def test_the_timeline_has_the_key_events_in_order(fought):
    review = services.review_ensure_for(incident_id=fought.pk)

    assert [(row["event"], row["owner"]) for row in review.timeline] == [
        ("Detected", "rita"),
        ("Major incident declared", "mona"),
        ("Role change", "mona"),  # rita takes command
        ("Role change", "mona"),  # the scribe
        ("Role change", "mona"),  # mona takes command over
        ("Acknowledged", "rita"),
        ("Key note", "Sid Scribe"),
        ("Mitigated", "rita"),
        ("Resolved", "rita"),
    ]
    times = [row["at"] for row in review.timeline]
    assert times == sorted(times) and times[0] == drafting.local_time(T0)
    assert review.timeline[6]["action"] == "Rolled back v42"
    assert "still looking" not in str(review.timeline)  # not pinned


def test_the_facts_come_from_the_record(fought):
    facts = services.review_ensure_for(incident_id=fought.pk).facts

    assert facts["number"] == fought.number and facts["priority"] == "P1"
    assert (facts["duration_seconds"], facts["duration"]) == (40 * 60, "40 min")
    assert (facts["commander"], facts["manager"]) == ("mona", "mona")
    assert {"role": "Incident commander", "people": ["rita", "mona"]} in facts["roles"]
    assert {"role": "Scribe", "people": ["Sid Scribe"]} in facts["roles"]
    assert facts["services"] == ["Checkout"] and facts["affected_users"] == 1200
    assert [(b["kind"], b["late"]) for b in facts["sla_breaches"]] == [("Acknowledge", "5 min")]


def test_the_sections_are_prefilled_with_the_facts(fought):
    review = services.review_ensure_for(incident_id=fought.pk)

    assert review.summary.startswith(f"**{fought.number}** (P1 major incident)")
    assert "- Duration: 40 min" in review.summary
    assert "About 1200 users affected." in review.impact
    assert "- Acknowledge: breached by 5 min" in review.impact
    assert "### Contributing factors" in review.root_cause
    assert "### Monitoring" in review.prevention


def test_scratchpad_action_lines_are_proposed_once(fought):
    review = services.review_ensure_for(incident_id=fought.pk)
    assert review.proposed_action_items == [
        {"text": "add a canary stage", "source": "scratchpad"},
        {"text": "alert on 5xx rate", "source": "scratchpad"},
    ]


def test_only_marked_lines_become_proposals():
    text = "\n".join(
        [
            "FIXME: flaky health check",
            "  * [ ] TODO - page the DBA sooner",
            "1. ACTION: write the runbook",
            "todo lowercase is prose",
            "TODOS are not markers",
            "We should TODO this",
            "ACTIONS taken: restart",
            "TODO:",
            "fixme: flaky health check",
            "FIXME   flaky   health check",
        ]
    )
    assert [item["text"] for item in drafting.proposed_action_items(text)] == [
        "flaky health check",
        "page the DBA sooner",
        "write the runbook",
    ]


def test_the_queries_do_not_grow_with_the_events(traveller, drive, responder):
    incidents = []
    for notes in (2, 20):
        incident = make_incident(actor=responder, priority="P1", assignee=responder)
        for i in range(notes):
            event = incident_services.incident_add_note(
                incident=incident, actor=responder, source=CLI, text=f"note {i}"
            )
            IncidentEvent.objects.filter(pk=event.pk).update(pinned=True)
        incidents.append(drive(incident, responder, "acknowledge", "start", "resolve"))

    counts = []
    for incident in incidents:
        with CaptureQueriesContext(connection) as queries:
            draft = drafting.generate(incident)
        counts.append(len(queries))
    assert len(draft["timeline"]) == 20 + 3
    assert counts[0] == counts[1] <= 8, counts
