"""The war room in the Django admin: declaring, editing and demoting through the services, and
the declaration rules."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from incidents.choices import ChangeSource, EventType
from incidents.models import IncidentEvent
from itsm.models import ChatWebhook
from itsm.roles import Role
from tests.factories import make_incident
from tests.incidents.test_admin import form_data
from warroom import services
from warroom.models import DeclarationRule, MajorIncident

ADD = reverse("admin:warroom_majorincident_add")
CHANGELIST = reverse("admin:warroom_majorincident_changelist")
RULES = reverse("admin:warroom_declarationrule_changelist")


def change_url(major):
    return reverse("admin:warroom_majorincident_change", args=[major.pk])


def demote_url(major):
    return reverse("admin:warroom_majorincident_demote", args=[major.pk])


def rule_url(kind):
    rule = DeclarationRule.objects.get(kind=kind)
    return reverse("admin:warroom_declarationrule_change", args=[rule.pk])


def warroom_events(incident):
    return list(IncidentEvent.objects.filter(incident=incident, type=EventType.WARROOM))


def result_rows(page: str) -> list[dict[str, str]]:
    """The changelist's rows: each column's text by its field name."""
    rows = re.findall(r"<tr>(<th class=\"field-.*?)</tr>", page)
    cell = re.compile(r'<t[dh] class="field-(\w+)[^"]*">(.*?)</t[dh]>')
    return [
        {name: re.sub(r"<[^>]+>", "", text) for name, text in cell.findall(row)} for row in rows
    ]


@pytest.fixture
def as_manager(signed_in, manager):
    return signed_in(manager)


@pytest.fixture
def staff_responder(make_user):
    """A responder who may open the admin (is_staff) but not declare or demote."""
    return make_user("ria", roles=[Role.RESPONDER], is_staff=True)


def declaration(incident, manager, **fields):
    return {
        "incident": incident.pk,
        "manager": manager.pk if manager else "",
        "bridge_link": "https://meet.example.com/abc-defg-hij",
        "initial_impact_statement": "Checkout fails for every customer",
        **fields,
    }


# --- declaring -------------------------------------------------------------------------------


def test_declaring_from_the_add_form_goes_through_the_service(as_manager, manager, p1):
    response = as_manager.post(ADD, declaration(p1, manager))

    assert response.status_code == 302, response.context and response.context["errors"]
    major = MajorIncident.objects.get(incident=p1)
    assert major.manager == manager
    assert major.declared_by == manager
    assert major.history.get().history_change_reason == "declare by mona (admin)"
    [event] = warroom_events(p1)
    assert event.source == ChangeSource.ADMIN
    assert event.summary == "Declared a major incident. Impact: Checkout fails for every customer"


def test_the_add_form_offers_only_incidents_that_may_be_declared(
    as_manager, manager, responder, p1, major, drive, service
):
    waiting = make_incident(actor=responder, services=[service.slug], title="Waiting")
    gone = drive(make_incident(actor=responder, title="Gone"), responder, "cancel")

    choices = as_manager.get(ADD).context["adminform"].form.fields["incident"].queryset

    assert waiting in choices
    assert major.incident not in choices  # already major
    assert gone not in choices  # no longer open


def test_a_demoted_major_incident_can_be_declared_again(as_manager, manager, major):
    services.major_incident_demote(major=major, actor=manager, source=ChangeSource.CLI, reason="r")

    response = as_manager.post(ADD, declaration(major.incident, manager))

    assert response.status_code == 302
    major.refresh_from_db()
    assert major.state == "active"


@pytest.mark.parametrize(
    ("who", "fields", "wrong"),
    [
        ("stakeholder", {}, "manager"),
        (None, {}, "manager"),
        ("manager", {"bridge_link": "ftp://files.example.com/bridge"}, "bridge_link"),
        ("manager", {"bridge_link": "not a link"}, "bridge_link"),
        ("manager", {"initial_impact_statement": ""}, "initial_impact_statement"),
    ],
)
def test_the_add_form_refuses_bad_fields_and_declares_nothing(
    request, as_manager, p1, who, fields, wrong
):
    named = request.getfixturevalue(who) if who else None

    response = as_manager.post(ADD, declaration(p1, named, **fields))

    assert response.status_code == 200
    assert list(response.context["adminform"].form.errors) == [wrong]
    assert not MajorIncident.objects.exists()
    assert warroom_events(p1) == []


def test_staff_who_may_not_declare_get_no_add_form(client, staff_responder, p1):
    client.force_login(staff_responder)

    assert client.get(ADD).status_code == 403
    assert client.post(ADD, declaration(p1, staff_responder)).status_code == 403
    assert not MajorIncident.objects.exists()


# --- the change page ---------------------------------------------------------------------------


def test_changelist_shows_the_columns_a_manager_scans(as_manager, major):
    [row] = result_rows(as_manager.get(CHANGELIST).content.decode())

    assert {name: row.get(name) for name in ("number", "title", "state", "manager")} == {
        "number": major.number,
        "title": major.incident.title,
        "state": "Active",
        "manager": "mona",
    }
    assert row["declared_at"]


def test_changelist_costs_the_same_for_few_and_many(as_manager, declare, responder, service):
    def queries():
        with CaptureQueriesContext(connection) as captured:
            response = as_manager.get(CHANGELIST)
        assert response.status_code == 200
        return len(response.context["cl"].result_list), len(captured)

    for _ in range(3):
        declare(make_incident(actor=responder, services=[service.slug], priority="P2"))
    queries()  # warm per-process caches
    few = queries()
    for _ in range(12):
        declare(make_incident(actor=responder, services=[service.slug], priority="P2"))

    many = queries()

    assert (few[0], many[0]) == (3, 15)
    assert few[1] == many[1]


def test_editing_the_bridge_and_chat_channels_goes_through_the_services(as_manager, major):
    ops = ChatWebhook.objects.create(
        slug="ops", name="Ops", kind="slack", url_env="SLACK_WEBHOOK_OPS"
    )
    data = form_data(as_manager.get(change_url(major)))
    data["bridge_link"] = "https://meet.example.com/new"
    data["chat_webhooks"] = [ops.pk]

    response = as_manager.post(change_url(major), data)

    assert response.status_code == 302
    major.refresh_from_db()
    assert major.bridge_link == "https://meet.example.com/new"
    assert list(major.chat_webhooks.all()) == [ops]
    summaries = [e.summary for e in warroom_events(major.incident)]
    assert summaries[-2:] == [
        "Bridge is now https://meet.example.com/new",
        "Chat channels are now Ops",
    ]
    assert major.history.first().history_change_reason == "edit by mona (admin)"


def test_a_manager_may_change_the_manager_and_a_responder_may_not(
    client, as_manager, major, super_admin, staff_responder
):
    data = form_data(as_manager.get(change_url(major)))
    data["manager"] = super_admin.pk
    as_manager.post(change_url(major), data)
    major.refresh_from_db()
    assert major.manager == super_admin

    client.force_login(staff_responder)
    form = client.get(change_url(major)).context["adminform"].form
    assert "manager" not in form.fields
    assert "bridge_link" in form.fields


def test_a_manager_who_is_not_staff_is_refused_on_the_change_form(as_manager, major, stakeholder):
    data = form_data(as_manager.get(change_url(major)))
    data["manager"] = stakeholder.pk

    response = as_manager.post(change_url(major), data)

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["manager"] == ["stella is not active staff."]
    major.refresh_from_db()
    assert major.manager.username == "mona"


def test_saving_an_unchanged_form_writes_nothing(as_manager, major):
    before = len(warroom_events(major.incident))

    response = as_manager.post(change_url(major), form_data(as_manager.get(change_url(major))))

    assert response.status_code == 302  # saved, not refused
    assert len(warroom_events(major.incident)) == before
    assert major.history.count() == 1


def test_major_incidents_are_never_deleted(as_manager, major):
    url = reverse("admin:warroom_majorincident_delete", args=[major.pk])

    assert as_manager.post(url, {"post": "yes"}).status_code == 403
    assert MajorIncident.objects.filter(pk=major.pk).exists()


# --- demoting ------------------------------------------------------------------------------------


def test_the_change_page_offers_demote_to_managers_only(as_manager, client, major, staff_responder):
    assert demote_url(major) in as_manager.get(change_url(major)).content.decode()

    client.force_login(staff_responder)
    assert demote_url(major) not in client.get(change_url(major)).content.decode()
    assert client.post(demote_url(major), {"reason": "contained"}).status_code == 403
    major.refresh_from_db()
    assert major.state == "active"


def test_demoting_without_a_reason_is_refused(as_manager, major):
    for reason in ("", "   "):
        response = as_manager.post(demote_url(major), {"reason": reason})

        assert response.status_code == 200
        assert list(response.context["adminform"].form.errors) == ["reason"]
    major.refresh_from_db()
    assert major.state == "active"


def test_demoting_with_a_reason_runs_the_service(as_manager, major):
    assert as_manager.get(demote_url(major)).status_code == 200

    response = as_manager.post(demote_url(major), {"reason": "Only one office affected"})

    assert response.status_code == 302
    assert response.url == change_url(major)
    major.refresh_from_db()
    assert (major.state, major.demotion_reason) == ("demoted", "Only one office affected")
    event = warroom_events(major.incident)[-1]
    assert (event.summary, event.source) == ("Demoted: Only one office affected", "admin")


def test_a_demoted_major_incident_is_read_only_and_cannot_be_demoted_again(as_manager, major):
    as_manager.post(demote_url(major), {"reason": "contained"})

    page = as_manager.get(change_url(major))
    again = as_manager.post(demote_url(major), {"reason": "again"}, follow=True)

    assert demote_url(major) not in page.content.decode()
    assert page.context["has_change_permission"] is False
    assert "only an active major incident can be demoted" in again.content.decode()
    major.refresh_from_db()
    assert major.demotion_reason == "contained"


# --- declaration rules ------------------------------------------------------------------------


def test_both_rules_are_listed_and_none_added_or_deleted(as_manager):
    page = as_manager.get(RULES).content.decode()

    assert "P1 not acknowledged within 15 minutes" in page
    assert "P1 with more than 50 affected users" in page
    assert as_manager.get(reverse("admin:warroom_declarationrule_add")).status_code == 403
    rule = DeclarationRule.objects.get(kind="unacknowledged")
    delete = reverse("admin:warroom_declarationrule_delete", args=[rule.pk])
    assert as_manager.post(delete, {"post": "yes"}).status_code == 403


def test_a_manager_edits_a_rule_through_the_service(as_manager, manager):
    data = form_data(as_manager.get(rule_url("unacknowledged")))
    data.update(threshold=10, manager=manager.pk, enabled="")

    response = as_manager.post(rule_url("unacknowledged"), data)

    assert response.status_code == 302
    rule = DeclarationRule.objects.get(kind="unacknowledged")
    assert (rule.threshold, rule.manager, rule.enabled) == (10, manager, False)
    assert (
        rule.history.first().history_change_reason
        == "edit enabled, threshold, manager by mona (admin)"
    )


@pytest.mark.parametrize(
    ("kind", "field", "value"),
    [
        ("unacknowledged", "threshold", 0),
        ("unacknowledged", "threshold", 20000),
        ("affected_users", "manager", "stakeholder"),
    ],
)
def test_a_bad_rule_edit_is_refused(as_manager, stakeholder, kind, field, value):
    data = form_data(as_manager.get(rule_url(kind)))
    data[field] = stakeholder.pk if value == "stakeholder" else value
    before = DeclarationRule.history.count()

    response = as_manager.post(rule_url(kind), data)

    assert response.status_code == 200
    assert list(response.context["adminform"].form.errors) == [field]
    assert DeclarationRule.history.count() == before


def test_a_responder_cannot_change_rules(client, staff_responder):
    client.force_login(staff_responder)
    data = {"enabled": "", "priority": "P1", "threshold": "5"}

    response = client.post(rule_url("unacknowledged"), data)

    assert response.status_code == 403
    assert DeclarationRule.objects.get(kind="unacknowledged").threshold == 15
