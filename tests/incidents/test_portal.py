"""The staff portal: pages per role, the forms that call the services, errors, query counts."""

import pytest
from django.urls import reverse

from incidents.choices import (
    ChangeSource,
    ChecklistItem,
    EventType,
    IncidentSource,
    IncidentStatus,
    Transition,
)
from incidents.models import ChecklistEntry, Incident
from tests.conftest import tick_all
from tests.factories import ServiceFactory, TeamFactory, make_incident

S = IncidentStatus
XSS = "<script>alert(1)</script>"

# Lifecycle paths from `new` to each state, for the drive fixture.
PATH_TO = {
    S.NEW: (),
    S.ACKNOWLEDGED: ("acknowledge",),
    S.INVESTIGATING: ("acknowledge", "start"),
    S.ON_HOLD: ("acknowledge", "hold"),
    S.MITIGATED: ("acknowledge", "start", "mitigate"),
    S.RESOLVED: ("acknowledge", "start", "resolve"),
}

# Valid guard input for each transition, as the portal's forms post it.
GUARD_INPUT = {
    "acknowledge": {"note": ""},
    "start": {"note": "looking at the logs"},
    "hold": {"reason": "waiting on the vendor"},
    "resume": {"note": ""},
    "mitigate": {"note": "failed over to the standby"},
    "resolve": {"resolution_code": "fixed", "resolution_notes": "patched the pool size"},
    "reopen": {"reason": "errors are back"},
    "close": {"note": ""},
    "cancel": {"reason": "false positive", "duplicate_of": ""},
}

# (transition, state it starts from, the required field left out)
MISSING_GUARD_FIELDS = [
    ("hold", S.ACKNOWLEDGED, "reason"),
    ("mitigate", S.INVESTIGATING, "note"),
    ("resolve", S.INVESTIGATING, "resolution_code"),
    ("resolve", S.MITIGATED, "resolution_notes"),
    ("reopen", S.RESOLVED, "reason"),
    ("cancel", S.NEW, "reason"),
]


def detail_url(incident):
    return reverse("incidents:detail", args=[incident.number])


def transition_url(incident, name):
    return reverse("incidents:transition", args=[incident.number, name])


def snapshot(incident) -> tuple:
    """What a user could see change: status, priority, fields, timeline, history, checklist."""
    fresh = Incident.objects.get(pk=incident.pk)
    return (
        fresh.status,
        fresh.priority,
        fresh.title,
        fresh.assignee_id,
        fresh.events.count(),
        fresh.history.count(),
        ChecklistEntry.objects.filter(incident=fresh).count(),
    )


@pytest.fixture
def page_urls(incident):
    return {
        "dashboard": reverse("incidents:dashboard"),
        "list": reverse("incidents:list"),
        "detail": detail_url(incident),
        "create": reverse("incidents:create"),
    }


@pytest.fixture
def post_urls(incident):
    number = incident.number
    return {
        "create": (reverse("incidents:create"), {"title": "x", "impact": 2, "urgency": 2}),
        "transition": (transition_url(incident, "acknowledge"), {}),
        "note": (reverse("incidents:note", args=[number]), {"text": "hello"}),
        "checklist": (
            reverse("incidents:checklist", args=[number]),
            {"item": ChecklistItem.USERS_NOTIFIED, "done": "true"},
        ),
        "priority": (
            reverse("incidents:priority", args=[number]),
            {"priority": "P1", "reason": "CEO is affected"},
        ),
        "edit": (reverse("incidents:edit", args=[number]), {"title": "Renamed"}),
    }


# --- who may see what -----------------------------------------------------------------------


@pytest.mark.parametrize("page", ["dashboard", "list", "detail", "create"])
def test_anonymous_visitors_are_sent_to_the_login_page(client, page_urls, page):
    response = client.get(page_urls[page])

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login") + "?next=")


@pytest.mark.parametrize(
    "action", ["create", "transition", "note", "checklist", "priority", "edit"]
)
def test_anonymous_posts_are_sent_to_the_login_page_and_change_nothing(
    client, incident, post_urls, action
):
    before = snapshot(incident)
    url, data = post_urls[action]

    response = client.post(url, data)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert snapshot(incident) == before
    assert Incident.objects.count() == 1


@pytest.mark.parametrize("page", ["dashboard", "list", "detail", "create"])
def test_a_user_without_a_role_gets_403_everywhere(signed_in, nobody, page_urls, page):
    assert signed_in(nobody).get(page_urls[page]).status_code == 403


@pytest.mark.parametrize("page", ["dashboard", "list", "detail"])
def test_stakeholders_can_read_the_pages(signed_in, stakeholder, page_urls, page):
    response = signed_in(stakeholder).get(page_urls[page])

    assert response.status_code == 200
    assert b"Checkout returns 500" in response.content


def test_stakeholders_see_no_forms_on_the_detail_page(signed_in, stakeholder, incident):
    content = signed_in(stakeholder).get(detail_url(incident)).content.decode()

    assert 'method="post"' in content  # only the log-out button
    assert content.count('method="post"') == 1
    assert transition_url(incident, "acknowledge") not in content
    assert "Add a note" not in content
    assert "Override priority" not in content
    assert "New incident" not in content


def test_stakeholders_cannot_open_the_create_form(signed_in, stakeholder, page_urls):
    assert signed_in(stakeholder).get(page_urls["create"]).status_code == 403


@pytest.mark.parametrize(
    "action", ["create", "transition", "note", "checklist", "priority", "edit"]
)
def test_stakeholder_posts_get_403_and_change_nothing(
    signed_in, stakeholder, incident, post_urls, action
):
    before = snapshot(incident)
    url, data = post_urls[action]

    response = signed_in(stakeholder).post(url, data)

    assert response.status_code == 403
    assert snapshot(incident) == before
    assert Incident.objects.count() == 1


@pytest.mark.parametrize("page", ["dashboard", "list", "detail", "create"])
@pytest.mark.parametrize("role", ["responder", "manager", "super_admin"])
def test_staff_roles_can_open_every_page(signed_in, request, page_urls, role, page):
    user = request.getfixturevalue(role)

    assert signed_in(user).get(page_urls[page]).status_code == 200


def test_responders_get_the_work_forms_but_not_the_priority_override(
    signed_in, responder, incident
):
    content = signed_in(responder).get(detail_url(incident)).content.decode()

    assert transition_url(incident, "acknowledge") in content
    assert transition_url(incident, "cancel") in content
    assert transition_url(incident, "resolve") not in content  # not allowed from `new`
    assert reverse("incidents:note", args=[incident.number]) in content
    assert reverse("incidents:checklist", args=[incident.number]) in content
    assert "Override priority" not in content


@pytest.mark.parametrize("role", ["manager", "super_admin"])
def test_managers_get_the_priority_override_form(signed_in, request, incident, role):
    content = signed_in(request.getfixturevalue(role)).get(detail_url(incident)).content.decode()

    assert "Override priority" in content
    assert reverse("incidents:priority", args=[incident.number]) in content


def test_the_top_bar_shows_navigation_and_a_logout_button(signed_in, manager):
    content = signed_in(manager).get(reverse("incidents:dashboard")).content.decode()

    for link in (reverse("incidents:list"), reverse("incidents:create"), "/api/docs/", "/admin/"):
        assert f'href="{link}"' in content
    assert f'action="{reverse("logout")}"' in content


def test_responders_see_no_admin_link(signed_in, responder):
    content = signed_in(responder).get(reverse("incidents:dashboard")).content.decode()

    assert 'href="/admin/"' not in content


def test_logout_signs_out_and_returns_to_the_login_page(signed_in, responder):
    client = signed_in(responder)

    response = client.post(reverse("logout"))

    assert response.status_code == 302
    assert response["Location"] == reverse("login")
    assert client.get(reverse("incidents:dashboard")).status_code == 302


def test_the_login_page_signs_a_user_in(client, responder):
    assert b"Sign in" in client.get(reverse("login")).content

    response = client.post(reverse("login"), {"username": "rita", "password": "pw-for-tests-only"})

    assert response.status_code == 302
    assert response["Location"] == reverse("incidents:dashboard")


def test_unknown_incidents_and_transitions_answer_404(signed_in, responder, incident):
    client = signed_in(responder)

    assert client.get("/incidents/INC9999999/").status_code == 404
    assert client.post(transition_url(incident, "explode"), {}).status_code == 404


# --- dashboard and list ----------------------------------------------------------------------


def test_the_dashboard_lists_mine_unacknowledged_and_recent(signed_in, responder, manager):
    mine = make_incident(actor=manager, title="Mine to work", assignee=responder)
    make_incident(actor=manager, title="Minor glitch", impact=3, urgency=3)
    make_incident(actor=manager, title="Site down", impact=1, urgency=1)

    content = signed_in(responder).get(reverse("incidents:dashboard")).content.decode()

    assigned, _, rest = content.partition("Unacknowledged")
    unacknowledged, _, recent = rest.partition(">Recent<")
    assert mine.number in assigned
    assert "Site down" not in assigned
    assert unacknowledged.index("Site down") < unacknowledged.index("Minor glitch")
    assert all(title in recent for title in ("Mine to work", "Minor glitch", "Site down"))


def test_the_list_filters_by_status_priority_service_team_assignee_and_search(
    signed_in, responder, manager, drive
):
    database = ServiceFactory(slug="database", name="Database")
    dba = TeamFactory(slug="dba", name="DBA")
    target = make_incident(
        actor=manager,
        title="Replica lag",
        impact=1,
        urgency=1,
        services=["database"],
        team=dba,
        assignee=responder,
    )
    drive(target, responder, "acknowledge")
    make_incident(actor=manager, title="Printer jam", impact=3, urgency=3)
    client = signed_in(responder)
    queries = [
        {"status": "acknowledged"},
        {"priority": "P1"},
        {"service": database.slug},
        {"team": dba.slug},
        {"assignee": "me"},
        {"q": "replica"},
        {"q": target.number},
    ]

    for query in queries:
        content = client.get(reverse("incidents:list"), query).content.decode()
        assert "Replica lag" in content, query
        assert "Printer jam" not in content, query


def test_the_list_rejects_an_unknown_filter_value_with_400(signed_in, responder, incident):
    response = signed_in(responder).get(reverse("incidents:list"), {"status": "exploded"})

    assert response.status_code == 400
    assert b"exploded" in response.content


def test_the_list_paginates_and_keeps_the_filters(signed_in, responder, settings):
    settings.PORTAL_PAGE_SIZE = 2
    for n in range(5):
        make_incident(actor=responder, title=f"Disk full {n}")
    client = signed_in(responder)

    first = client.get(reverse("incidents:list"), {"q": "disk"}).content.decode()
    last = client.get(reverse("incidents:list"), {"q": "disk", "page": 3}).content.decode()

    assert "Page 1 of 3" in first
    assert "?q=disk&amp;page=2" in first
    assert "Disk full 4" in first and "Disk full 0" not in first
    assert "Disk full 0" in last and "Disk full 4" not in last


def test_the_list_shows_priority_and_status_badges(signed_in, responder):
    make_incident(actor=responder, title="Outage", impact=1, urgency=1)

    content = signed_in(responder).get(reverse("incidents:list")).content.decode()

    assert 'class="badge prio-p1"' in content
    assert 'class="chip status-new">New<' in content


# --- create -----------------------------------------------------------------------------------


def test_responders_log_an_incident_through_the_form(signed_in, responder, service, team):
    response = signed_in(responder).post(
        reverse("incidents:create"),
        {
            "title": "Checkout is slow",
            "description": "p99 at 4 s",
            "impact": "1",
            "urgency": "2",
            "services": [service.slug],
            "team": team.slug,
            "assignee": responder.username,
            "affected_users": "120",
            "source": IncidentSource.CUSTOMER_REPORT,
        },
    )

    incident = Incident.objects.get(title="Checkout is slow")
    assert response.status_code == 302
    assert response["Location"] == detail_url(incident)
    assert incident.priority == "P2"
    assert [s.slug for s in incident.services.all()] == [service.slug]
    assert (incident.team, incident.assignee, incident.reporter) == (team, responder, responder)
    assert incident.affected_users == 120
    assert incident.source == IncidentSource.CUSTOMER_REPORT
    assert incident.events.get().source == ChangeSource.PORTAL


def test_an_invalid_create_form_answers_400_and_logs_nothing(signed_in, responder):
    response = signed_in(responder).post(
        reverse("incidents:create"),
        {"title": "  ", "impact": "9", "urgency": "2", "affected_users": "-1", "source": "portal"},
    )

    assert response.status_code == 400
    assert b"This field is required." in response.content
    assert not Incident.objects.exists()


def test_an_affected_user_count_beyond_any_database_column_answers_400(signed_in, responder):
    response = signed_in(responder).post(
        reverse("incidents:create"),
        {"title": "Big", "impact": "1", "urgency": "1", "affected_users": "9" * 12},
    )

    assert response.status_code == 400
    assert not Incident.objects.exists()


# --- transitions -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(GUARD_INPUT))
def test_each_transition_runs_through_the_portal(signed_in, responder, incident, drive, name):
    start = {"resume": S.ON_HOLD, "reopen": S.RESOLVED, "close": S.RESOLVED}.get(name)
    start = start or {"start": S.ACKNOWLEDGED, "hold": S.ACKNOWLEDGED}.get(name)
    start = start or {"mitigate": S.INVESTIGATING, "resolve": S.MITIGATED}.get(name, S.NEW)
    incident = drive(incident, responder, *PATH_TO[start])
    if name == "close":
        tick_all(incident, responder)
    client = signed_in(responder)

    response = client.post(transition_url(incident, name), GUARD_INPUT[name])

    incident.refresh_from_db()
    event = incident.events.last()
    assert response.status_code == 302
    assert (event.type, event.data["transition"], event.source) == (
        EventType.TRANSITION,
        name,
        ChangeSource.PORTAL,
    )
    page = client.get(response["Location"]).content.decode()
    assert f"is now {incident.get_status_display().lower()}" in page


@pytest.mark.parametrize(("name", "state", "missing"), MISSING_GUARD_FIELDS)
def test_a_missing_guard_field_answers_400_and_changes_nothing(
    signed_in, responder, incident, drive, name, state, missing
):
    incident = drive(incident, responder, *PATH_TO[state])
    before = snapshot(incident)
    data = {**GUARD_INPUT[name], missing: ""}

    response = signed_in(responder).post(transition_url(incident, name), data)

    assert response.status_code == 400
    assert snapshot(incident) == before
    content = response.content.decode()
    assert "This field is required." in content
    assert f'<details class="action action-{name}" open>' in content


@pytest.mark.parametrize(
    ("name", "state"),
    [("resolve", S.NEW), ("close", S.INVESTIGATING), ("reopen", S.ON_HOLD), ("start", S.NEW)],
)
def test_an_illegal_transition_answers_409_and_changes_nothing(
    signed_in, responder, incident, drive, name, state
):
    incident = drive(incident, responder, *PATH_TO[state])
    before = snapshot(incident)

    response = signed_in(responder).post(transition_url(incident, name), GUARD_INPUT[name])

    assert response.status_code == 409
    assert snapshot(incident) == before
    assert f"Cannot {name} {incident.number}" in response.content.decode()


def test_closing_with_an_incomplete_checklist_answers_409_naming_what_is_missing(
    signed_in, responder, incident, drive
):
    incident = drive(incident, responder, *PATH_TO[S.RESOLVED])
    before = snapshot(incident)

    response = signed_in(responder).post(transition_url(incident, "close"), {"note": ""})

    assert response.status_code == 409
    assert snapshot(incident) == before
    page = response.content.decode()
    assert "Tick the 7 checklist items left: Service fully restored, " in page
    assert "Follow-up actions created, Knowledge base updated." in page


def test_cancel_as_a_duplicate_of_an_unknown_incident_answers_400(signed_in, responder, incident):
    before = snapshot(incident)

    response = signed_in(responder).post(
        transition_url(incident, "cancel"), {"reason": "dupe", "duplicate_of": "INC0999999"}
    )

    assert response.status_code == 400
    assert snapshot(incident) == before
    assert "No incident INC0999999." in response.content.decode()


def test_the_detail_page_offers_only_the_transitions_allowed_now(
    signed_in, responder, incident, drive
):
    incident = drive(incident, responder, *PATH_TO[S.INVESTIGATING])

    content = signed_in(responder).get(detail_url(incident)).content.decode()

    offered = [name for name in Transition.values if transition_url(incident, name) in content]
    assert offered == ["hold", "mitigate", "resolve", "cancel"]


# --- notes, checklist, priority, edit -----------------------------------------------------------


def test_a_note_is_added_to_the_timeline_with_its_public_flag(signed_in, responder, incident):
    client = signed_in(responder)

    response = client.post(
        reverse("incidents:note", args=[incident.number]),
        {"text": "Rolled back 4.2.1", "public": "on"},
    )

    note = incident.events.get(type=EventType.NOTE)
    assert response.status_code == 302
    assert (note.data["text"], note.public, note.actor) == ("Rolled back 4.2.1", True, responder)
    assert "Rolled back 4.2.1" in client.get(detail_url(incident)).content.decode()


def test_an_empty_note_answers_400_and_adds_nothing(signed_in, responder, incident):
    before = snapshot(incident)

    response = signed_in(responder).post(
        reverse("incidents:note", args=[incident.number]), {"text": "   "}
    )

    assert response.status_code == 400
    assert snapshot(incident) == before


def test_ticking_the_checklist_records_who_and_when(signed_in, responder, incident):
    client = signed_in(responder)
    url = reverse("incidents:checklist", args=[incident.number])

    response = client.post(url, {"item": ChecklistItem.USERS_NOTIFIED, "done": "true"})

    entry = ChecklistEntry.objects.get(incident=incident)
    assert response.status_code == 302
    assert (entry.item, entry.ticked_by) == (ChecklistItem.USERS_NOTIFIED, responder)
    page = client.get(detail_url(incident)).content.decode()
    rita = '<span class="person" title="rita">rita</span>'
    assert f"ticked by {rita}, {entry.ticked_at:%-d %b %H:%M}" in page

    assert (
        client.post(url, {"item": ChecklistItem.USERS_NOTIFIED, "done": "false"}).status_code == 302
    )
    assert not ChecklistEntry.objects.filter(incident=incident).exists()


def test_ticking_an_already_ticked_item_answers_409(signed_in, responder, incident):
    client = signed_in(responder)
    url = reverse("incidents:checklist", args=[incident.number])
    client.post(url, {"item": ChecklistItem.KB_UPDATED, "done": "true"})
    before = snapshot(incident)

    response = client.post(url, {"item": ChecklistItem.KB_UPDATED, "done": "true"})

    assert response.status_code == 409
    assert snapshot(incident) == before


def test_responders_get_403_on_the_priority_override(signed_in, responder, incident):
    before = snapshot(incident)

    response = signed_in(responder).post(
        reverse("incidents:priority", args=[incident.number]),
        {"priority": "P1", "reason": "VIP affected"},
    )

    assert response.status_code == 403
    assert snapshot(incident) == before


def test_managers_override_the_priority_with_a_reason(signed_in, manager, incident):
    client = signed_in(manager)

    response = client.post(
        reverse("incidents:priority", args=[incident.number]),
        {"priority": "P1", "reason": "VIP affected"},
    )

    incident.refresh_from_db()
    assert response.status_code == 302
    assert (incident.priority, incident.priority_overridden) == ("P1", True)
    page = client.get(detail_url(incident)).content.decode()
    assert "Priority P3 → P1: VIP affected" in page
    assert "is now P1" in page


def test_a_priority_override_without_a_reason_answers_400(signed_in, manager, incident):
    before = snapshot(incident)

    response = signed_in(manager).post(
        reverse("incidents:priority", args=[incident.number]), {"priority": "P1", "reason": ""}
    )

    assert response.status_code == 400
    assert snapshot(incident) == before


def test_editing_fields_records_only_what_changed(signed_in, responder, incident, team):
    client = signed_in(responder)
    form = client.get(detail_url(incident)).context["edit_form"]
    data = {name: form[name].value() for name in form.fields}
    data = {key: value for key, value in data.items() if value is not None}

    unchanged = client.post(reverse("incidents:edit", args=[incident.number]), data)
    changed = client.post(
        reverse("incidents:edit", args=[incident.number]),
        {**data, "title": "Checkout returns 502", "team": team.slug},
    )

    incident.refresh_from_db()
    assert unchanged.status_code == changed.status_code == 302
    assert (incident.title, incident.team) == ("Checkout returns 502", team)
    edit = incident.events.get(type=EventType.FIELD_CHANGE)
    assert sorted(edit.data["changes"]) == ["team", "title"]
    history = client.get(detail_url(incident)).context["history"]
    assert {c["field"]: c["new"] for c in history[0]["changes"]} == {
        "team": "payments",
        "title": "Checkout returns 502",
    }


def test_editing_keeps_an_assignee_who_holds_no_staff_role(
    signed_in, responder, stakeholder, service
):
    incident = make_incident(actor=responder, assignee=stakeholder)
    client = signed_in(responder)
    form = client.get(detail_url(incident)).context["edit_form"]
    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}

    response = client.post(
        reverse("incidents:edit", args=[incident.number]), {**data, "title": "Renamed"}
    )

    incident.refresh_from_db()
    assert response.status_code == 302
    assert (incident.title, incident.assignee) == ("Renamed", stakeholder)


# --- escaping -----------------------------------------------------------------------------------


def test_user_text_is_escaped_on_every_page(signed_in, responder):
    incident = make_incident(actor=responder, title=XSS, description=f"line one\n{XSS}")
    client = signed_in(responder)
    client.post(reverse("incidents:note", args=[incident.number]), {"text": f"{XSS}\nsecond"})

    for url in (reverse("incidents:dashboard"), reverse("incidents:list"), detail_url(incident)):
        content = client.get(url).content.decode()
        assert XSS not in content, url
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in content, url
    detail = client.get(detail_url(incident)).content.decode()
    assert "line one<br>&lt;script&gt;" in detail
    assert "&lt;/script&gt;<br>second" in detail


# --- query counts ---------------------------------------------------------------------------------


def _make_incidents(count, *, actor, team):
    ServiceFactory(slug="api", name="API")
    for n in range(count):
        make_incident(
            actor=actor,
            title=f"Incident {n}",
            services=["checkout", "api"],
            team=team,
            assignee=actor,
        )


# session, user, permissions (user + group), roles, the bell's unread count, count, page,
# services and SLA timers of the page, and the filter choices (services, teams, assignees).
LIST_QUERIES = 13


@pytest.mark.parametrize("count", [5, 200])
def test_the_list_costs_the_same_queries_for_5_or_200_incidents(
    signed_in, responder, service, team, django_assert_num_queries, count
):
    _make_incidents(count, actor=responder, team=team)
    client = signed_in(responder)

    with django_assert_num_queries(LIST_QUERIES):
        response = client.get(reverse("incidents:list"), {"status": "new", "q": "incident"})

    assert response.status_code == 200
    assert f"{count} incidents" in response.content.decode()


def test_the_dashboard_costs_a_fixed_number_of_queries(
    signed_in, responder, service, team, django_assert_num_queries
):
    _make_incidents(15, actor=responder, team=team)
    client = signed_in(responder)

    # session, user, permissions (user + group), roles, the bell's unread count, then each of
    # the three lists with its services and SLA timers; breaching soon: the two counts, the
    # timers due and the timers overdue; the person's pending action items.
    with django_assert_num_queries(19):
        response = client.get(reverse("incidents:dashboard"))

    assert response.content.decode().count('class="row"') == 30


@pytest.mark.parametrize("notes", [1, 30])
def test_the_detail_page_costs_a_fixed_number_of_queries(
    signed_in, responder, incident, drive, django_assert_num_queries, notes
):
    incident = drive(incident, responder, "acknowledge", "start")
    tick_all(incident, responder)
    for n in range(notes):
        make_note = reverse("incidents:note", args=[incident.number])
        signed_in(responder).post(make_note, {"text": f"note {n}"})
    client = signed_in(responder)

    # session, user, permissions (user + group), roles, the bell's unread count; the incident
    # with its services, SLA timers and checklist (and who ticked); the timeline's latest events;
    # the responders it records; history; the people named in the history's diffs; the edit
    # form's choices (services, teams, assignees); the incident's post-incident review (for its
    # link); its communications (none yet); its alerts (none).
    with django_assert_num_queries(20):
        response = client.get(detail_url(incident))

    assert response.status_code == 200
    assert response.content.decode().count('class="event event-note"') == notes


def test_editing_a_start_into_the_future_is_refused(signed_in, responder, incident):
    client = signed_in(responder)
    form = client.get(detail_url(incident)).context["edit_form"]
    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
    before = snapshot(incident)

    response = client.post(
        reverse("incidents:edit", args=[incident.number]),
        {**data, "started_at": "9999-12-31T23:59:59"},
    )

    assert response.status_code == 400
    assert response.context["edit_form"].errors["started_at"] == ["Cannot be in the future."]
    assert snapshot(incident) == before
