"""The admin's alert pages, as an ITSM manager uses them: integrations (the key and the URL to
paste, a "Regenerate key" action), and read-only received payloads, alert groups and alerts;
and the daily sweep of payloads older than 30 days."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse
from django_q.models import Schedule

from incidents.alerts import tasks
from incidents.choices import PayloadOutcome
from incidents.models import Alert, AlertGroup, Incident, Integration, ReceivedPayload
from tests.incidents.alert_payloads import payload, post
from tests.incidents.test_admin import form_data

MAPPING = {
    "title_path": "check.name",
    "dedup_key_path": "check.id",
    "severity_path": "",
    "resolve_when": 'state == "ok"',
}


def _url(name: str, *args) -> str:
    return reverse(f"admin:incidents_{name}", args=args)


@pytest.fixture
def as_manager(client, manager):
    client.force_login(manager)
    return client


@pytest.fixture
def fired(client, make_integration):
    """An Alertmanager integration whose firing payload opened an incident."""
    integration = make_integration()
    post(client, f"/api/alerts/alertmanager/{integration.key}/", payload("alertmanager_firing"))
    return integration


def _add_form(service, **changes) -> dict:
    return {
        "name": "Checks",
        "kind": "generic",
        "service": service.pk,
        "active": "on",
        "on_refire": "new_incident",
        "on_clear": "resolve",
        "rate_limit": "300",
        "signature_header": "",
        "signature_secret": "",
        **MAPPING,
        **changes,
    }


def test_a_manager_adds_a_generic_integration_and_sees_the_url_to_paste(as_manager, service):
    response = as_manager.post(_url("integration_add"), _add_form(service))

    assert response.status_code == 302, response.context["adminform"].form.errors
    integration = Integration.objects.get()
    assert integration.resolve_when == 'state == "ok"'
    page = as_manager.get(_url("integration_change", integration.pk)).content.decode()
    assert f"http://127.0.0.1:8000/api/alerts/generic/{integration.key}/" in page
    assert 'name="key"' not in page  # shown, not editable


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"resolve_when": "state = ok"}, "Not a condition"),
        ({"dedup_key_path": ""}, "needs this path"),
        ({"kind": "grafana", "signature_header": "X-Sig"}, "needs the secret"),
    ],
)
def test_a_bad_mapping_is_refused_with_the_reason(as_manager, service, changes, message):
    response = as_manager.post(_url("integration_add"), _add_form(service, **changes))

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Integration.objects.exists()


def test_a_manager_edits_the_settings(as_manager, fired):
    url = _url("integration_change", fired.pk)
    data = {**form_data(as_manager.get(url)), "rate_limit": "50", "on_clear": "mitigate"}

    assert as_manager.post(url, data).status_code == 302
    fired.refresh_from_db()
    assert (fired.rate_limit, fired.on_clear) == (50, "mitigate")


def test_regenerating_the_key_retires_the_old_one(as_manager, client, fired):
    old = fired.key
    response = as_manager.post(
        _url("integration_changelist"),
        {"action": "regenerate_keys", "_selected_action": [fired.pk]},
        follow=True,
    )

    assert "Regenerated 1 key" in response.content.decode()
    fired.refresh_from_db()
    assert fired.key != old and len(fired.key) == 32
    firing = payload("alertmanager_firing")
    assert post(client, f"/api/alerts/alertmanager/{old}/", firing).status_code == 404
    assert post(client, f"/api/alerts/alertmanager/{fired.key}/", firing).status_code == 202


def test_received_payloads_are_listed_and_shown_escaped_and_pretty(
    as_manager, client, fired, django_assert_max_num_queries
):
    url = f"/api/alerts/alertmanager/{fired.key}/"
    post(client, url, payload("alertmanager_firing", receiver="<script>x</script>"))
    post(client, url, payload("alertmanager_firing", alerts=[]))

    with django_assert_max_num_queries(12):
        listing = as_manager.get(_url("receivedpayload_changelist"))
    assert listing.status_code == 200
    assert listing.content.decode().count(fired.name) >= 3  # each row, and the filter
    rows = ReceivedPayload.objects.order_by("pk")
    assert [row.outcome for row in rows] == ["accepted", "accepted", PayloadOutcome.INVALID]

    page = as_manager.get(_url("receivedpayload_change", rows[1].pk)).content.decode()
    assert "&quot;receiver&quot;: &quot;&lt;script&gt;x&lt;/script&gt;&quot;" in page
    assert "<script>x</script>" not in page
    assert "\n  &quot;version&quot;: &quot;4&quot;" in page  # indented
    assert "Save" not in page and _url("receivedpayload_delete", rows[1].pk) not in page


def test_a_body_that_is_not_json_is_shown_as_it_came(as_manager, client, fired):
    post(client, f"/api/alerts/alertmanager/{fired.key}/", "<b>not json</b>")
    page = as_manager.get(_url("receivedpayload_change", ReceivedPayload.objects.latest("pk").pk))
    assert "<pre>&lt;b&gt;not json&lt;/b&gt;</pre>" in page.content.decode()


def test_alert_groups_and_alerts_are_read_only_and_link_their_incident(
    as_manager, fired, django_assert_max_num_queries
):
    incident = Incident.objects.get()
    link = f'href="{_url("incident_change", incident.pk)}"'
    group, alert = AlertGroup.objects.get(), Alert.objects.first()

    with django_assert_max_num_queries(12):
        listing = as_manager.get(_url("alertgroup_changelist"))
    assert link in listing.content.decode()
    assert link in as_manager.get(_url("alertgroup_change", group.pk)).content.decode()
    assert link in as_manager.get(_url("alert_changelist")).content.decode()
    assert link in as_manager.get(_url("alert_change", alert.pk)).content.decode()
    assert as_manager.get(_url("alertgroup_add")).status_code == 403
    assert as_manager.post(_url("alert_delete", alert.pk)).status_code == 403


def test_stakeholders_do_not_reach_the_admin(client, stakeholder):
    client.force_login(stakeholder)
    assert client.get(_url("receivedpayload_changelist")).status_code == 302


# --- retention --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_migrations_schedule_the_daily_sweep():
    schedule = Schedule.objects.get(func="incidents.alerts.tasks.received_payloads_sweep")
    assert schedule.schedule_type == Schedule.DAILY


def test_the_sweep_deletes_payloads_older_than_30_days(client, make_integration):
    integration = make_integration()
    url = f"/api/alerts/alertmanager/{integration.key}/"
    start = datetime(2026, 11, 1, 12, tzinfo=UTC)
    for days in (0, 1, 2):
        with time_machine.travel(start + timedelta(days=days), tick=False):
            post(client, url, payload("alertmanager_firing"))

    with time_machine.travel(start + timedelta(days=31, minutes=1), tick=False):
        assert tasks.received_payloads_sweep() == 2

    kept = ReceivedPayload.objects.get()
    assert kept.received_at == start + timedelta(days=2)
    assert AlertGroup.objects.get().received_count == 3  # the alerts stay
