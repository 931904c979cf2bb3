import hashlib
import re

import pytest
from django.db import connection
from django.forms import MultiWidget
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from incidents import services
from incidents.choices import ChangeSource, EventType, IncidentStatus
from incidents.models import Incident, IncidentEvent
from itsm.errors import ValidationFailed
from itsm.models import ApiToken
from itsm.services import token_create
from tests.conftest import tick_all
from tests.factories import ServiceFactory, TeamFactory, make_incident

CHANGELIST = reverse("admin:incidents_incident_changelist")
TRANSITION_LINK = re.compile(r'data-transition="(\w+)"')


def change_url(incident):
    return reverse("admin:incidents_incident_change", args=[incident.pk])


def transition_url(incident, name):
    return reverse("admin:incidents_incident_transition", args=[incident.pk, name])


def form_data(response):
    """What a browser would post back from an admin change page: the form's current values,
    the hidden initial values of fields with a callable default, and the inline formsets'
    management forms."""
    form = response.context["adminform"].form
    data = {}

    def put(name, widget, value):
        if isinstance(widget, MultiWidget):
            for index, part in enumerate(widget.decompress(value)):
                data[f"{name}_{index}"] = "" if part is None else part
        elif value is not None:
            data[name] = value

    for field in form:
        put(field.html_name, field.field.widget, field.value())
        if field.field.show_hidden_initial:
            put(field.html_initial_name, field.field.widget, field.initial)
    for inline in response.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        for name in management.fields:
            data[management.add_prefix(name)] = management[name].value()
    return data


def events(incident):
    return list(IncidentEvent.objects.filter(incident=incident).order_by("id"))


@pytest.fixture
def as_manager(client, manager):
    client.force_login(manager)
    return client


# --- the changelist ------------------------------------------------------------------------


def changelist_queries(client):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(CHANGELIST)
    assert response.status_code == 200
    return response, len(queries)


def make_incidents(count, *, actor, teams, cmdb):
    return [
        make_incident(
            actor=actor,
            title=f"Incident {n}",
            team=teams[n % len(teams)],
            assignee=actor if n % 2 else None,
            services=[s.slug for s in cmdb[: 1 + n % len(cmdb)]],
        )
        for n in range(count)
    ]


def test_changelist_costs_the_same_queries_for_5_and_50_incidents(as_manager, manager):
    teams = [TeamFactory(), TeamFactory()]
    cmdb = [ServiceFactory(), ServiceFactory(), ServiceFactory()]
    make_incidents(5, actor=manager, teams=teams, cmdb=cmdb)
    changelist_queries(as_manager)  # warm per-process caches (content types)
    response, with_five = changelist_queries(as_manager)
    assert len(response.context["cl"].result_list) == 5

    make_incidents(45, actor=manager, teams=teams, cmdb=cmdb)
    response, with_fifty = changelist_queries(as_manager)

    assert len(response.context["cl"].result_list) == 50
    assert with_fifty == with_five


def test_changelist_shows_the_columns_a_manager_scans(as_manager, manager, service, team):
    incident = make_incident(actor=manager, team=team, assignee=manager, services=[service.slug])

    page = as_manager.get(CHANGELIST).content.decode()

    for text in (incident.number, incident.title, "P3", "New", "Payments", "mona", "Checkout"):
        assert text in page


@pytest.mark.parametrize("term", ["{number}", "{digits}", "inc{digits}"])
def test_search_by_number_finds_that_incident(as_manager, manager, term):
    make_incident(actor=manager, title="Database slow")
    wanted = make_incident(actor=manager, title="VPN down")
    make_incident(actor=manager, title="Printer jam")
    query = term.format(number=wanted.number, digits=int(wanted.number[3:]))

    response = as_manager.get(CHANGELIST, {"q": query})

    assert list(response.context["cl"].result_list) == [wanted]


def test_search_by_title_words(as_manager, manager):
    make_incident(actor=manager, title="Database slow")
    wanted = make_incident(actor=manager, title="VPN down in Berlin")

    response = as_manager.get(CHANGELIST, {"q": "berlin"})

    assert list(response.context["cl"].result_list) == [wanted]


def test_filter_by_status(as_manager, manager, drive):
    new = make_incident(actor=manager)
    drive(make_incident(actor=manager), manager, "acknowledge")

    response = as_manager.get(CHANGELIST, {"status__exact": IncidentStatus.NEW})

    assert list(response.context["cl"].result_list) == [new]


# --- the change page and its transition buttons --------------------------------------------


@pytest.mark.parametrize(
    ("path", "buttons"),
    [
        ((), {"acknowledge", "cancel"}),
        (("acknowledge", "start"), {"hold", "mitigate", "resolve", "cancel"}),
        (("acknowledge", "hold"), {"resume"}),
        (("acknowledge", "start", "resolve"), {"reopen", "close"}),
        (("acknowledge", "cancel"), set()),
    ],
)
def test_change_page_shows_exactly_the_allowed_transitions(
    as_manager, manager, drive, path, buttons
):
    incident = drive(make_incident(actor=manager), manager, *path)

    response = as_manager.get(change_url(incident))

    assert response.status_code == 200
    assert set(TRANSITION_LINK.findall(response.content.decode())) == buttons


def change_page_queries(client, incident):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(change_url(incident))
    assert response.status_code == 200
    return response, len(queries)


def test_change_page_costs_the_same_queries_for_a_short_and_a_long_record(
    as_manager, manager, drive
):
    short = make_incident(actor=manager)
    long = drive(make_incident(actor=manager), manager, "acknowledge", "start", "resolve")
    tick_all(long, manager)
    change_page_queries(as_manager, short)  # warm per-process caches (content types)

    _, for_short = change_page_queries(as_manager, short)
    response, for_long = change_page_queries(as_manager, long)

    assert "Knowledge base updated" in response.content.decode()
    assert for_long == for_short


def test_status_and_number_are_not_editable(as_manager, incident):
    form = as_manager.get(change_url(incident)).context["adminform"].form

    assert "status" not in form.fields
    assert "number" not in form.fields
    assert "title" in form.fields


def test_staff_without_work_permission_sees_no_buttons_and_gets_403(client, make_user, incident):
    viewer = make_user("vera", roles=["stakeholder"], is_staff=True)
    client.force_login(viewer)

    page = client.get(change_url(incident))
    response = client.post(transition_url(incident, "acknowledge"), {"note": ""})

    assert page.status_code == 200
    assert TRANSITION_LINK.findall(page.content.decode()) == []
    assert response.status_code == 403
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.NEW


# --- running a transition ------------------------------------------------------------------


def test_transition_form_asks_for_the_guards_fields(as_manager, manager, drive):
    incident = drive(make_incident(actor=manager), manager, "acknowledge", "start")

    response = as_manager.get(transition_url(incident, "resolve"))

    assert response.status_code == 200
    form = response.context["adminform"].form
    assert set(form.fields) == {"resolution_code", "resolution_notes", "confirm"}
    # `confirm` matters only while alerts of the incident still fire (test_alerts_manual_resolve)
    assert [name for name, field in form.fields.items() if not field.required] == ["confirm"]


def test_running_a_transition_from_the_admin(as_manager, manager, drive):
    incident = drive(make_incident(actor=manager), manager, "acknowledge")
    before = len(events(incident))

    response = as_manager.post(
        transition_url(incident, "hold"), {"reason": "waiting on the vendor"}, follow=True
    )

    assert response.redirect_chain[-1][0] == change_url(incident)
    assert f"{incident.number} is now on hold." in response.content.decode()
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.ON_HOLD
    assert incident.hold_reason == "waiting on the vendor"
    new_events = events(incident)[before:]
    assert len(new_events) == 1
    assert new_events[0].type == EventType.TRANSITION
    assert new_events[0].source == ChangeSource.ADMIN == "admin"
    assert new_events[0].actor == manager
    assert incident.history.first().history_change_reason == "hold by mona (admin)"


def test_missing_guard_field_shows_the_error_and_changes_nothing(as_manager, manager, drive):
    incident = drive(make_incident(actor=manager), manager, "acknowledge", "start")
    before = len(events(incident))

    response = as_manager.post(transition_url(incident, "resolve"), {"resolution_code": "fixed"})

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "resolution_notes": ["This field is required."]
    }
    assert "Please correct the error below." in response.content.decode()
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.INVESTIGATING
    assert len(events(incident)) == before


def test_service_refusal_is_shown_with_its_field_errors_and_changes_nothing(
    as_manager, manager, drive
):
    incident = drive(make_incident(actor=manager), manager, "acknowledge", "start", "resolve")
    before = len(events(incident))

    response = as_manager.post(transition_url(incident, "close"), {"note": "all done"})

    assert response.status_code == 200
    page = response.content.decode()
    assert "Tick the 7 checklist items left: Service fully restored, " in page
    assert "Not ticked: Knowledge base updated" in page
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.RESOLVED
    assert len(events(incident)) == before


def test_unknown_duplicate_is_a_field_error(as_manager, manager):
    incident = make_incident(actor=manager)

    response = as_manager.post(
        transition_url(incident, "cancel"), {"reason": "duplicate", "duplicate_of": "INC9999999"}
    )

    assert response.context["adminform"].form.errors == {
        "duplicate_of": ["No incident INC9999999."]
    }
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.NEW


def test_transition_not_allowed_now_redirects_with_an_error(as_manager, manager):
    incident = make_incident(actor=manager)

    response = as_manager.post(transition_url(incident, "close"), {"note": ""}, follow=True)

    assert response.redirect_chain[-1][0] == change_url(incident)
    assert "“Close” is not possible now" in response.content.decode()
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.NEW


# --- who may reach the admin ---------------------------------------------------------------


def test_responder_cannot_reach_the_admin(client, responder, incident):
    client.force_login(responder)

    for url in (CHANGELIST, change_url(incident), transition_url(incident, "acknowledge")):
        response = client.get(url)
        assert response.status_code == 302
        assert response.url.startswith(reverse("admin:login"))
    client.post(transition_url(incident, "acknowledge"), {"note": ""})
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.NEW


# --- editing and adding through the services -----------------------------------------------


def test_editing_the_title_goes_through_the_service(as_manager, manager, incident):
    page = as_manager.get(change_url(incident))
    data = form_data(page) | {"title": "Checkout returns 502 for card payments"}

    response = as_manager.post(change_url(incident), data)

    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.title == "Checkout returns 502 for card payments"
    event = events(incident)[-1]
    assert event.type == EventType.FIELD_CHANGE
    assert event.source == ChangeSource.ADMIN
    assert event.data["changes"] == {
        "title": ["Checkout returns 500", "Checkout returns 502 for card payments"]
    }
    history = incident.history.first()
    assert history.history_change_reason == "edit title by mona (admin)"
    assert history.history_user == manager


def test_editing_services_and_impact_rederives_priority(as_manager, manager, incident, service):
    extra = ServiceFactory(slug="payments-api")
    page = as_manager.get(change_url(incident))
    data = form_data(page) | {"impact": 1, "urgency": 1, "services": [service.pk, extra.pk]}

    as_manager.post(change_url(incident), data)

    incident.refresh_from_db()
    assert incident.priority == "P1"
    assert set(incident.services.values_list("slug", flat=True)) == {"checkout", "payments-api"}
    event = events(incident)[-1]
    assert event.type == EventType.PRIORITY_CHANGE
    assert event.data["changes"]["services"] == [["checkout"], ["checkout", "payments-api"]]


def test_service_refusing_an_edit_shows_the_error_and_changes_nothing(
    as_manager, incident, monkeypatch
):
    def refuse(**kwargs):
        raise ValidationFailed.for_fields({"title": "Someone else changed it."})

    monkeypatch.setattr(services, "incident_update", refuse)
    data = form_data(as_manager.get(change_url(incident))) | {"title": "New title"}

    response = as_manager.post(change_url(incident), data, follow=True)

    assert "Invalid input: title." in response.content.decode()
    incident.refresh_from_db()
    assert incident.title == "Checkout returns 500"


def test_saving_unchanged_form_writes_nothing(as_manager, incident):
    before = (len(events(incident)), incident.history.count())

    as_manager.post(change_url(incident), form_data(as_manager.get(change_url(incident))))

    assert (len(events(incident)), incident.history.count()) == before


def test_adding_an_incident_goes_through_the_service(as_manager, manager, service, team):
    add_url = reverse("admin:incidents_incident_add")
    data = form_data(as_manager.get(add_url)) | {
        "title": "Email delivery delayed",
        "impact": 1,
        "urgency": 2,
        "services": [service.pk],
        "team": team.pk,
    }

    response = as_manager.post(add_url, data)

    assert response.status_code == 302
    incident = Incident.objects.get(title="Email delivery delayed")
    assert re.fullmatch(r"INC\d{7}", incident.number)
    assert incident.priority == "P2"
    assert incident.reporter == manager
    [event] = events(incident)
    assert event.type == EventType.CREATED
    assert event.source == ChangeSource.ADMIN


def test_history_page_lists_change_reasons(as_manager, manager, drive):
    incident = drive(make_incident(actor=manager), manager, "acknowledge")

    response = as_manager.get(reverse("admin:incidents_incident_history", args=[incident.pk]))

    page = response.content.decode()
    assert "create by mona (cli)" in page
    assert "acknowledge by mona (cli)" in page
    assert "Deleted user" not in page  # the assignee was empty before, not deleted


def test_history_cannot_revert_an_incident(as_manager, manager, drive):
    incident = drive(make_incident(actor=manager), manager, "acknowledge")
    oldest = incident.history.last()
    url = reverse("admin:incidents_incident_simple_history", args=[incident.pk, oldest.history_id])

    assert as_manager.get(url).status_code == 200
    assert as_manager.post(url, {"title": "reverted"}).status_code == 405
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.ACKNOWLEDGED


def test_incidents_cannot_be_deleted_in_the_admin(client, super_admin, incident):
    client.force_login(super_admin)

    response = client.get(reverse("admin:incidents_incident_delete", args=[incident.pk]))

    assert response.status_code == 403
    assert Incident.objects.filter(pk=incident.pk).exists()


def test_service_edit_names_the_edit_in_history(as_manager, service):
    url = reverse("admin:incidents_service_change", args=[service.pk])
    data = form_data(as_manager.get(url)) | {"user_count": 250}

    assert as_manager.post(url, data).status_code == 302

    service.refresh_from_db()
    assert service.user_count == 250
    assert service.history.first().history_change_reason == "edit user_count by mona (admin)"


def test_team_list_shows_member_counts(as_manager, manager, responder):
    TeamFactory(name="Payments").members.add(manager, responder)

    response = as_manager.get(reverse("admin:incidents_team_changelist"))

    [team] = response.context["cl"].result_list
    assert team.member_count == 2


def test_priority_matrix_is_editable_in_the_list(as_manager):
    response = as_manager.get(reverse("admin:incidents_prioritymatrixentry_changelist"))

    assert response.status_code == 200
    assert response.context["cl"].formset is not None
    assert len(response.context["cl"].result_list) == 9


# --- API tokens ----------------------------------------------------------------------------


def test_revoke_action_revokes_the_selected_tokens(client, super_admin, responder):
    first, _ = token_create(user=responder, name="ci")
    second, _ = token_create(user=responder, name="grafana")
    kept, _ = token_create(user=responder, name="laptop")
    client.force_login(super_admin)

    response = client.post(
        reverse("admin:itsm_apitoken_changelist"),
        {"action": "revoke_tokens", "_selected_action": [first.pk, second.pk]},
        follow=True,
    )

    assert "Revoked 2 tokens." in response.content.decode()
    assert ApiToken.objects.filter(revoked_at__isnull=False).count() == 2
    kept.refresh_from_db()
    assert kept.revoked_at is None


def test_adding_a_token_shows_the_raw_key_once(client, super_admin, responder):
    client.force_login(super_admin)

    response = client.post(
        reverse("admin:itsm_apitoken_add"), {"user": responder.pk, "name": "ci"}, follow=True
    )

    raw = re.search(r"(itsm_[\w-]{20,})", response.content.decode()).group(1)
    token = ApiToken.objects.get(user=responder, name="ci")
    assert token.key_hash == hashlib.sha256(raw.encode()).hexdigest()
    for url in (
        reverse("admin:itsm_apitoken_changelist"),
        reverse("admin:itsm_apitoken_change", args=[token.pk]),
    ):
        assert raw not in client.get(url).content.decode()


def test_managers_cannot_see_tokens(as_manager):
    assert as_manager.get(reverse("admin:itsm_apitoken_changelist")).status_code == 403


# --- the changelist's count on a big table ----------------------------------------------------


def _analyze_incidents():
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Incident._meta.db_table}")


def _counted(client, url=CHANGELIST):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    counts = [
        q["sql"] for q in queries if "COUNT(" in q["sql"] and "incidents_incident" in q["sql"]
    ]
    return response.context["cl"].result_count, counts


@pytest.mark.postgres
def test_changelist_of_a_big_table_shows_postgresqls_estimate(as_manager, manager, team, settings):
    """Past the threshold the whole list's count is the planner's estimate (as of the last
    ANALYZE), with no COUNT(*) of the table; a filtered or searched list counts exactly."""
    settings.ADMIN_ESTIMATED_COUNT_ABOVE = 2
    for n in range(3):
        make_incident(actor=manager, title=f"Disk full {n}", team=team)
    _analyze_incidents()
    make_incident(actor=manager, title="Written after ANALYZE", team=team)

    assert _counted(as_manager) == (3, [])
    for query in ("?q=Disk", f"?team__id__exact={team.pk}"):
        shown, counts = _counted(as_manager, CHANGELIST + query)
        assert shown == (3 if query == "?q=Disk" else 4)
        assert len(counts) == 1


@pytest.mark.postgres
def test_changelist_of_a_small_table_counts_exactly(as_manager, manager, settings):
    settings.ADMIN_ESTIMATED_COUNT_ABOVE = 3
    for n in range(3):
        make_incident(actor=manager, title=f"Disk full {n}")
    _analyze_incidents()
    make_incident(actor=manager, title="Written after ANALYZE")

    shown, counts = _counted(as_manager)
    assert shown == 4
    assert len(counts) == 1


def test_changelist_counts_exactly_without_postgresql_or_below_the_threshold(as_manager, manager):
    """On SQLite there is no estimate; on PostgreSQL a test table is far below 10,000."""
    for n in range(2):
        make_incident(actor=manager, title=f"Disk full {n}")

    assert _counted(as_manager)[0] == 2
