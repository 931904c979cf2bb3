"""One tap to act: acknowledge and take from the lists and the notifications, the acknowledge
page that links in pages and emails open (a GET never changes anything), the checklist ticked
by the page's script (JSON), and paging people or adding responders from the incident."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from incidents import services
from incidents.choices import ChangeSource, EventType, IncidentStatus
from incidents.models import (
    ChecklistEntry,
    Incident,
    IncidentEvent,
    IncidentResponder,
    Rotation,
    RotationMember,
    Schedule,
)
from incidents.oncall.paging import incident_add_responders, incident_page
from itsm.choices import NotificationChannel
from itsm.models import Notification
from itsm.roles import Role
from tests.conftest import api_error
from tests.factories import TeamFactory
from tests.incidents.test_portal import LIST_QUERIES

PASSWORD = "pw-for-tests-only"  # tests.factories.UserFactory's


def ack_url(incident) -> str:
    return reverse("incidents:acknowledge", args=[incident.number])


def take_url(incident) -> str:
    return reverse("incidents:take", args=[incident.number])


def fresh(incident) -> Incident:
    return Incident.objects.select_related("assignee").get(pk=incident.pk)


def written(incident) -> tuple:
    """What a refused or read-only request must leave as it was."""
    incident = fresh(incident)
    return (
        incident.status,
        incident.assignee_id,
        IncidentEvent.objects.filter(incident=incident).count(),
        ChecklistEntry.objects.filter(incident=incident).count(),
        IncidentResponder.objects.count(),
        Notification.objects.count(),
    )


def shown_messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


@pytest.fixture
def bob(make_user):
    return make_user("bob", roles=[Role.RESPONDER], first_name="Bob", last_name="Baker")


# --- one tap on the lists -------------------------------------------------------------------


@pytest.mark.parametrize("page", ["incidents:dashboard", "incidents:list"])
def test_a_new_incident_offers_acknowledge_on_its_row(signed_in, responder, incident, page):
    html = signed_in(responder).get(reverse(page)).content.decode()

    assert f'action="{ack_url(incident)}"' in html
    assert f'Acknowledge<span class="visually-hidden"> {incident.number}' in html


def test_stakeholders_see_no_buttons_on_the_rows(signed_in, stakeholder, incident):
    html = signed_in(stakeholder).get(reverse("incidents:dashboard")).content.decode()

    assert incident.number in html
    assert 'class="row-action"' not in html


def test_acknowledge_from_a_row_returns_to_the_page_with_a_message(signed_in, responder, incident):
    back = reverse("incidents:list") + "?status=new"

    response = signed_in(responder).post(ack_url(incident), {"next": back}, follow=True)

    assert response.redirect_chain == [(back, 302)]
    assert f"{incident.number} acknowledged: it is yours now." in shown_messages(response)
    incident = fresh(incident)
    assert incident.status == IncidentStatus.ACKNOWLEDGED
    assert incident.assignee == responder


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "javascript:x"])
def test_a_next_address_off_the_site_is_ignored(signed_in, responder, incident, target):
    response = signed_in(responder).post(ack_url(incident), {"next": target})

    assert response["Location"] == incident.get_absolute_url()


def test_acknowledging_twice_from_a_row_says_so(signed_in, responder, incident, manager):
    services.incident_acknowledge(incident=incident, actor=manager, source=ChangeSource.PORTAL)
    before = written(incident)

    response = signed_in(responder).post(ack_url(incident), {"next": "/"}, follow=True)

    assert response.status_code == 200
    assert any("Cannot acknowledge" in message for message in shown_messages(response))
    assert written(incident) == before


def test_an_acknowledged_incident_of_someone_else_offers_take(
    signed_in, responder, manager, incident
):
    services.incident_acknowledge(incident=incident, actor=manager, source=ChangeSource.PORTAL)

    html = signed_in(responder).get(reverse("incidents:list")).content.decode()

    assert f'action="{take_url(incident)}"' in html
    assert f'action="{ack_url(incident)}"' not in html


def test_take_makes_me_the_assignee_and_says_so_on_the_timeline(
    signed_in, responder, manager, incident
):
    services.incident_acknowledge(incident=incident, actor=manager, source=ChangeSource.PORTAL)

    response = signed_in(responder).post(take_url(incident), {"next": "/"}, follow=True)

    assert f"{incident.number} is yours now." in shown_messages(response)
    assert fresh(incident).assignee == responder
    event = incident.events.latest("id")
    assert event.summary == "Taken by rita from mona"
    assert event.data == {"changes": {"assignee": ["mona", "rita"]}}


def test_taking_my_own_incident_changes_nothing(signed_in, responder, incident):
    services.incident_acknowledge(incident=incident, actor=responder, source=ChangeSource.PORTAL)
    before = written(incident)

    response = signed_in(responder).post(take_url(incident), {"next": "/"}, follow=True)

    assert f"{incident.number} is already yours." in shown_messages(response)
    assert written(incident) == before


def test_a_get_on_take_only_shows_the_incident(signed_in, responder, incident):
    before = written(incident)

    response = signed_in(responder).get(take_url(incident))

    assert response["Location"] == incident.get_absolute_url()
    assert written(incident) == before


@pytest.mark.parametrize("url", [ack_url, take_url])
def test_stakeholders_get_403_and_anonymous_visitors_the_login(client, stakeholder, incident, url):
    before = written(incident)

    anonymous = client.post(url(incident))
    client.force_login(stakeholder)
    refused = client.post(url(incident))

    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith(reverse("login"))
    assert refused.status_code == 403
    assert written(incident) == before


def test_the_list_costs_no_more_queries_for_its_buttons(
    signed_in, responder, manager, incident, django_assert_num_queries
):
    services.incident_acknowledge(incident=incident, actor=manager, source=ChangeSource.PORTAL)
    client = signed_in(responder)

    with django_assert_num_queries(LIST_QUERIES):
        html = client.get(reverse("incidents:list"), {"status": "acknowledged"}).content.decode()

    assert f'action="{take_url(incident)}"' in html


# --- the acknowledge page (the link in pages, emails and chat) -------------------------------


def test_the_link_opens_one_button_and_the_get_changes_nothing(signed_in, responder, incident):
    before = written(incident)

    response = signed_in(responder).get(ack_url(incident))

    html = response.content.decode()
    assert response.status_code == 200
    assert html.count('method="post"') == 2  # the button's form, and the top bar's log-out
    assert (
        f'<button type="submit" class="btn btn-primary btn-block">Acknowledge {incident.number}'
        in html
    )
    assert written(incident) == before


def test_the_link_asks_for_the_login_first_then_opens_the_page(client, responder, incident):
    response = client.get(ack_url(incident))
    assert response["Location"] == f"{reverse('login')}?next={ack_url(incident)}"

    signed = client.post(
        reverse("login"),
        {"username": "rita", "password": PASSWORD, "next": ack_url(incident)},
        follow=True,
    )

    assert signed.redirect_chain[-1] == (ack_url(incident), 302)
    assert f"Acknowledge {incident.number}</button>" in signed.content.decode()
    assert fresh(incident).status == IncidentStatus.NEW


def test_the_button_acknowledges_and_opens_the_incident(signed_in, responder, incident):
    response = signed_in(responder).post(ack_url(incident))

    assert response["Location"] == incident.get_absolute_url()
    assert fresh(incident).status == IncidentStatus.ACKNOWLEDGED


def test_an_acknowledged_incident_says_by_whom_and_links_to_it(
    signed_in, responder, manager, incident
):
    manager.first_name, manager.last_name = "Mona", "Lisa"
    manager.save()
    services.incident_acknowledge(incident=incident, actor=manager, source=ChangeSource.PORTAL)

    html = signed_in(responder).get(ack_url(incident)).content.decode()

    assert 'Already acknowledged by <span class="person" title="mona">Mona Lisa</span>' in html
    assert f'href="{incident.get_absolute_url()}">Open {incident.number}</a>' in html
    assert '<button type="submit" class="btn btn-primary btn-block">' not in html


def test_pressing_the_button_twice_says_it_is_acknowledged_without_a_500(
    client, responder, bob, incident
):
    client.force_login(responder)
    client.post(ack_url(incident))
    client.force_login(bob)
    before = written(incident)

    response = client.post(ack_url(incident))

    html = response.content.decode()
    assert response.status_code == 409
    assert "Already acknowledged by" in html and 'title="rita"' in html
    assert written(incident) == before


def test_stakeholders_may_not_open_the_acknowledge_page(signed_in, stakeholder, incident):
    assert signed_in(stakeholder).get(ack_url(incident)).status_code == 403


def test_the_notification_list_offers_acknowledge_for_a_page(signed_in, responder, incident):
    incident_page(incident=incident, actor=responder, source="portal", users=[responder])
    client = signed_in(responder)

    html = client.get(reverse("notifications")).content.decode()
    response = client.post(ack_url(incident), {"next": reverse("notifications")})

    assert f'<form method="post" action="{ack_url(incident)}">' in html
    assert response["Location"] == reverse("notifications")
    assert fresh(incident).status == IncidentStatus.ACKNOWLEDGED


def test_the_notification_list_costs_no_more_queries_for_its_buttons(
    signed_in, responder, incident, django_assert_num_queries
):
    for n in range(30):
        Notification.objects.create(
            recipient=responder,
            channel=NotificationChannel.IN_APP,
            subject=f"Page {n}",
            link=ack_url(incident),
            context={"incident": incident.number},
            dedupe_key=f"test:{n}",
        )
    client = signed_in(responder)

    # as tests/itsm/test_notifications_portal.py counts it: the page is 25 notifications.
    with django_assert_num_queries(8):
        html = client.get(reverse("notifications")).content.decode()

    assert html.count(f'<form method="post" action="{ack_url(incident)}">') == 25


# --- the checklist, ticked by the page's script ------------------------------------------------

JSON = {"HTTP_ACCEPT": "application/json"}


def checklist_url(incident) -> str:
    return reverse("incidents:checklist", args=[incident.number])


def test_a_tick_answers_the_item_as_json(signed_in, responder, incident):
    response = signed_in(responder).post(
        checklist_url(incident), {"item": "kb_updated", "done": "true"}, **JSON
    )

    body = response.json()
    assert response.status_code == 200
    assert body["item"] == "kb_updated" and body["done"] is True
    assert body["ticked_by"] == "rita"
    assert body["ticked_at"].startswith(str(timezone.now().year))
    assert 'data-item="kb_updated"' in body["html"]
    assert (
        'aria-pressed="true"' in body["html"]
        and 'ticked by <span class="person" title="rita">rita</span>' in body["html"]
    )
    assert ChecklistEntry.objects.filter(incident=incident, item="kb_updated").exists()


def test_a_tick_refused_answers_the_error_as_json(signed_in, responder, incident):
    client = signed_in(responder)
    client.post(checklist_url(incident), {"item": "kb_updated", "done": "true"}, **JSON)
    before = written(incident)

    again = client.post(checklist_url(incident), {"item": "kb_updated", "done": "true"}, **JSON)
    unknown = client.post(checklist_url(incident), {"item": "coffee", "done": "true"}, **JSON)

    assert api_error(again, 409, "invalid_transition") == {}
    assert "already ticked" in again.json()["error"]["message"]
    assert "item" in api_error(unknown, 400, "invalid")
    assert written(incident) == before


def test_a_form_post_still_gets_the_page(signed_in, responder, incident):
    response = signed_in(responder).post(
        checklist_url(incident), {"item": "kb_updated", "done": "true"}
    )

    assert response["Location"] == incident.get_absolute_url()
    assert ChecklistEntry.objects.filter(incident=incident).count() == 1


def test_stakeholders_may_not_tick_by_script_either(signed_in, stakeholder, incident):
    before = written(incident)

    response = signed_in(stakeholder).post(
        checklist_url(incident), {"item": "kb_updated", "done": "true"}, **JSON
    )

    assert response.status_code == 403
    assert written(incident) == before


def test_the_incident_page_loads_the_script_and_marks_the_list(signed_in, responder, incident):
    html = signed_in(responder).get(incident.get_absolute_url()).content.decode()

    assert '<script type="module" src="/static/js/incident-actions.js">' in html
    assert '<ul class="checklist" data-checklist>' in html
    assert '<p class="form-errors checklist-error" role="alert" hidden></p>' in html


# --- paging and responders ---------------------------------------------------------------------


@pytest.fixture
def primary(bob):
    """A schedule with bob on call now."""
    schedule = Schedule.objects.create(slug="primary", name="Primary")
    rotation = Rotation.objects.create(
        schedule=schedule,
        name="Daily",
        handoff_at=timezone.now() - timedelta(hours=1),
        shift_length=timedelta(days=1),
    )
    RotationMember.objects.create(rotation=rotation, user=bob, position=1)
    return schedule


def page_url(incident) -> str:
    return reverse("incidents:page", args=[incident.number])


def responders_url(incident) -> str:
    return reverse("incidents:responders", args=[incident.number])


def notifications_of(user) -> list[tuple]:
    return sorted((n.channel, n.link) for n in Notification.objects.filter(recipient=user))


@pytest.mark.parametrize("target", ["user:bob", "team:payments", "schedule:primary"])
def test_paging_someone_sends_the_page_and_records_it(
    signed_in, responder, bob, team, primary, incident, target
):
    team.members.add(bob)

    response = signed_in(responder).post(
        page_url(incident), {"page-target": target, "page-message": "DB is on fire"}
    )

    assert response["Location"] == responders_url(incident)
    event = incident.events.get(type=EventType.PAGE)
    assert event.summary == "Paged Bob Baker: DB is on fire"
    assert event.actor == responder and event.data["paged"] == ["bob"]
    assert notifications_of(bob) == [
        (NotificationChannel.EMAIL, ack_url(incident)),
        (NotificationChannel.IN_APP, ack_url(incident)),
    ]
    inbox = Notification.objects.get(recipient=bob, channel=NotificationChannel.IN_APP)
    assert (
        inbox.subject == f"[{incident.priority}] {incident.number} paged by rita: {incident.title}"
    )
    assert "rita says: DB is on fire" in inbox.body


def test_a_page_about_an_acknowledged_incident_links_to_it(signed_in, responder, bob, incident):
    services.incident_acknowledge(incident=incident, actor=responder, source=ChangeSource.PORTAL)

    signed_in(responder).post(page_url(incident), {"page-target": "user:bob"})

    assert {link for _, link in notifications_of(bob)} == {incident.get_absolute_url()}


@pytest.mark.parametrize(
    ("data", "status", "says"),
    [
        ({}, 400, "This field is required."),
        ({"page-target": "user:nobody-here"}, 400, "Select a valid choice."),
        ({"page-target": "schedule:empty"}, 400, "Nobody to page"),
    ],
)
def test_a_page_to_nobody_is_refused_and_sends_nothing(
    signed_in, responder, incident, data, status, says
):
    Schedule.objects.create(slug="empty", name="Empty")
    before = written(incident)

    response = signed_in(responder).post(page_url(incident), data)

    assert response.status_code == status
    assert says in response.content.decode()
    assert written(incident) == before


def test_nobody_is_paged_about_a_closed_incident(signed_in, responder, bob, incident, drive):
    drive(incident, responder, "acknowledge", "start", "resolve", "close")
    before = written(incident)

    response = signed_in(responder).post(page_url(incident), {"page-target": "user:bob"})

    assert response.status_code == 409
    assert written(incident) == before


def test_adding_responders_keeps_who_added_them_pages_them_and_lists_them(
    signed_in, responder, bob, primary, incident
):
    client = signed_in(responder)

    response = client.post(responders_url(incident), {"add-target": "schedule:primary"})
    again = client.post(responders_url(incident), {"add-target": "user:bob"})

    assert response["Location"] == responders_url(incident)
    (row,) = IncidentResponder.objects.all()
    assert (row.incident, row.user, row.added_by) == (incident, bob, responder)
    assert row.history.get().history_user == responder
    assert incident.events.get(type=EventType.RESPONDERS).summary == (
        "Added Bob Baker as responders"
    )
    assert len(notifications_of(bob)) == 2
    assert again.status_code == 400
    assert "Already responding: Bob Baker." in again.content.decode()
    detail = client.get(incident.get_absolute_url()).content.decode()
    assert (
        '<span class="person" title="bob">Bob Baker</span> <small class="muted">added by' in detail
    )
    listed = client.get(responders_url(incident)).content.decode()
    assert '<span class="person" title="bob">Bob Baker</span>' in listed


def test_adding_yourself_does_not_page_you(signed_in, responder, incident):
    signed_in(responder).post(responders_url(incident), {"add-target": "user:rita"})

    assert IncidentResponder.objects.get().user == responder
    assert not Notification.objects.exists()


@pytest.mark.parametrize("url", [page_url, responders_url])
def test_stakeholders_may_not_page_and_anonymous_visitors_log_in(
    client, stakeholder, bob, incident, url
):
    before = written(incident)

    anonymous = client.post(url(incident), {"page-target": "user:bob", "add-target": "user:bob"})
    client.force_login(stakeholder)
    refused = client.post(url(incident), {"page-target": "user:bob", "add-target": "user:bob"})

    assert anonymous["Location"].startswith(reverse("login"))
    assert refused.status_code == 403
    assert written(incident) == before


def test_a_get_on_page_opens_the_responders_page(signed_in, responder, incident):
    response = signed_in(responder).get(page_url(incident))

    assert response["Location"] == responders_url(incident)


@pytest.mark.parametrize("added", [1, 6])
def test_the_incident_page_with_responders_stays_at_20_queries(
    signed_in, responder, make_user, incident, django_assert_num_queries, added
):
    for n in range(added):
        person = make_user(f"helper{n}", roles=[Role.RESPONDER])
        incident_add_responders(incident=incident, actor=responder, source="portal", users=[person])
    services.incident_acknowledge(incident=incident, actor=responder, source=ChangeSource.PORTAL)
    client = signed_in(responder)

    # as tests/incidents/test_portal.py counts it; the responders in one query of their own.
    with django_assert_num_queries(20):
        html = client.get(incident.get_absolute_url()).content.decode()

    assert html.count('<span class="person" title="helper') == added


@pytest.mark.parametrize("schedules", [1, 5])
def test_the_responders_page_costs_the_same_for_more_schedules(
    signed_in, responder, bob, incident, django_assert_num_queries, schedules
):
    for n in range(schedules):
        TeamFactory(slug=f"team-{n}")
        schedule = Schedule.objects.create(slug=f"s-{n}", name=f"S {n}")
        rotation = Rotation.objects.create(
            schedule=schedule, name="R", handoff_at=timezone.now() - timedelta(hours=1)
        )
        RotationMember.objects.create(rotation=rotation, user=bob, position=1)
    client = signed_in(responder)
    client.get(responders_url(incident))  # notes the session's activity

    # session, user, permissions (user + group), roles, the bell; the incident; schedules,
    # people, teams; the schedules' rotations, members and overrides; the responders.
    with django_assert_num_queries(14):
        html = client.get(responders_url(incident)).content.decode()

    assert html.count('">Bob Baker</option>') == 2  # in both forms
    assert html.count(": Bob Baker</option>") == 2 * schedules  # on call now


# --- the API -----------------------------------------------------------------------------------


def test_the_api_pages_and_adds_responders(api, responder, bob, team, incident):
    team.members.add(bob)
    client = api.as_user(responder)
    base = f"/api/incidents/{incident.number}"

    paged = client.post(f"{base}/page/", {"teams": ["payments"], "message": "join"}, format="json")
    added = client.post(f"{base}/responders/", {"users": ["bob"]}, format="json")
    listed = client.get(f"{base}/responders/")

    assert paged.status_code == 201
    assert (paged.json()["type"], paged.json()["summary"]) == ("page", "Paged Bob Baker: join")
    assert added.status_code == 201
    assert [(r["user"], r["name"], r["added_by"]) for r in added.json()] == [
        ("bob", "Bob Baker", "rita")
    ]
    assert [r["user"] for r in listed.json()] == ["bob"]
    assert incident.events.get(type=EventType.RESPONDERS).source == ChangeSource.API


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "targets"),
        ({"users": ["ghost"]}, "users"),
        ({"teams": "payments"}, "teams"),
        ({"schedules": ["nope"]}, "schedules"),
        ({"users": ["bob"], "message": "x" * 2001}, "message"),
    ],
)
def test_the_api_refuses_bad_targets_naming_the_field(api, responder, bob, incident, body, field):
    before = written(incident)

    response = api.as_user(responder).post(
        f"/api/incidents/{incident.number}/page/", body, format="json"
    )

    assert field in api_error(response, 400, "invalid")
    assert written(incident) == before


def test_the_api_take(api, responder, manager, incident):
    services.incident_acknowledge(incident=incident, actor=manager, source=ChangeSource.API)

    response = api.as_user(responder).post(f"/api/incidents/{incident.number}/take/")
    again = api.as_user(responder).post(f"/api/incidents/{incident.number}/take/")

    assert response.status_code == 200 and response.json()["assignee"] == "rita"
    api_error(again, 409, "conflict")


def test_the_schema_describes_the_new_endpoints(api, responder):
    schema = api.as_user(responder).get("/api/schema/", {"format": "json"}).json()

    paths = schema["paths"]
    page = paths["/api/incidents/{number}/page/"]["post"]
    assert re.search("PageRequest|Page", str(page["requestBody"]))
    assert set(paths["/api/incidents/{number}/responders/"]) >= {"get", "post"}
    assert "post" in paths["/api/incidents/{number}/take/"]


def test_acknowledging_an_incident_assigned_to_someone_else_says_who_has_it(
    signed_in, responder, manager, bob
):
    incident = services.incident_create(
        actor=manager, source=ChangeSource.CLI, title="Disk full", priority="P3", assignee=bob
    )

    response = signed_in(responder).post(ack_url(incident), follow=True)

    assert f"{incident.number} acknowledged: Bob Baker has it." in shown_messages(response)
    assert fresh(incident).assignee == bob
