"""The worker's half of alert intake (incidents/alerts/drain.py): what the web kept pending is
applied in order, repeats folded, a payload that raises kept `failed` without holding back the
others, and nothing lost when the wake cannot be queued."""

import pytest
import time_machine
from django.utils import timezone
from django_q.models import Schedule

from incidents.alerts import drain, ingest, intake, tasks
from incidents.alerts.drain import payloads_drain
from incidents.choices import AlertStatus, IncidentStatus, PayloadOutcome
from incidents.models import Alert, AlertGroup, Incident, ReceivedPayload
from tests.incidents.alert_payloads import payload, send

FIRING = payload("alertmanager_firing")
RESOLVED = payload("alertmanager_resolved")
START = "2026-12-03 10:00Z"


@pytest.fixture
def url(make_integration):
    return f"/api/alerts/alertmanager/{make_integration().key}/"


def _outcomes() -> list[str]:
    return list(ReceivedPayload.objects.order_by("pk").values_list("outcome", flat=True))


def test_what_the_web_accepts_waits_pending_until_the_worker_applies_it(client, url):
    response = send(client, url, FIRING)

    assert response.status_code == 202
    assert _outcomes() == [PayloadOutcome.PENDING]
    kept = ReceivedPayload.objects.get()
    assert kept.group_key == FIRING["groupKey"]
    assert not Incident.objects.exists()

    assert payloads_drain() == 1

    kept.refresh_from_db()
    assert kept.outcome == PayloadOutcome.ACCEPTED
    assert kept.group.incident == Incident.objects.get()


def test_a_backlog_of_repeats_is_applied_once_and_counted_as_repeats(client, url):
    with time_machine.travel(START, tick=False) as clock:
        for _ in range(5):
            send(client, url, FIRING)
            clock.shift(30)
        last_arrival = timezone.now() - timezone.timedelta(seconds=30)

        assert payloads_drain() == 5

    group = AlertGroup.objects.get()
    assert group.received_count == 5
    assert group.first_seen_at.isoformat() == "2026-12-03T10:00:00+00:00"
    assert group.last_seen_at == last_arrival  # when the last repeat came, not when applied
    assert {a.repeat_count for a in Alert.objects.all()} == {4}
    assert Incident.objects.get().events.count() == 1  # created; no line for the repeats
    assert _outcomes() == [PayloadOutcome.ACCEPTED] * 5


def test_a_group_s_firing_and_resolve_in_one_backlog_apply_in_order(client, url):
    for body in (FIRING, FIRING, RESOLVED, FIRING):
        send(client, url, body)

    payloads_drain()

    first, second = Incident.objects.order_by("pk")
    assert first.status == IncidentStatus.RESOLVED
    assert second.status == IncidentStatus.NEW  # fired again after the resolve
    assert AlertGroup.objects.filter(status=AlertStatus.FIRING).get().incident == second


def test_a_payload_that_raises_is_kept_failed_and_the_others_apply(
    client, make_integration, monkeypatch
):
    broken = make_integration(name="broken")
    working = make_integration(name="working")
    real = ingest.alerts_ingest

    def fails_for_broken(*, integration, **kwargs):
        if integration.pk == broken.pk:
            raise RuntimeError("a bug in the mapping")
        return real(integration=integration, **kwargs)

    monkeypatch.setattr(ingest, "alerts_ingest", fails_for_broken)
    send(client, f"/api/alerts/alertmanager/{broken.key}/", FIRING)
    send(client, f"/api/alerts/alertmanager/{working.key}/", FIRING)

    payloads_drain()

    failed = ReceivedPayload.objects.get(integration=broken)
    assert failed.outcome == PayloadOutcome.FAILED
    assert failed.error == "RuntimeError: a bug in the mapping"
    assert ReceivedPayload.objects.get(integration=working).outcome == PayloadOutcome.ACCEPTED
    assert Incident.objects.count() == 1


@pytest.mark.django_db
def test_the_migrations_schedule_a_drain_every_minute():
    schedule = Schedule.objects.get(func=intake.DRAIN_TASK)
    assert (schedule.schedule_type, schedule.minutes) == (Schedule.MINUTES, 1)


def test_a_wake_that_cannot_be_queued_loses_nothing(
    client, url, monkeypatch, django_capture_on_commit_callbacks
):
    def broker_down(*args):
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(intake, "async_task", broker_down)
    intake.drain_rearm()

    with django_capture_on_commit_callbacks(execute=True) as woken:
        response = send(client, url, FIRING)

    assert woken == [intake.drain_wake]

    assert response.status_code == 202  # kept: the sender must not resend it
    assert _outcomes() == [PayloadOutcome.PENDING]
    # The next wake is not held back by the one that failed...
    assert intake.cache.get(intake.WAKE_KEY) is None
    # ...and the drain django-q2 runs every minute applies what is pending.
    assert payloads_drain() == 1
    assert Incident.objects.count() == 1


def test_a_drain_out_of_time_leaves_the_rest_to_the_next_one_it_queues(
    client, url, monkeypatch, queued
):
    for _ in range(3):
        send(client, url, FIRING)
    monkeypatch.setattr(drain, "DRAIN_SECONDS", 0)

    assert payloads_drain() == 0
    assert queued == [(intake.DRAIN_TASK,)]
    assert _outcomes() == [PayloadOutcome.PENDING] * 3

    monkeypatch.setattr(drain, "DRAIN_SECONDS", 20)
    assert payloads_drain() == 3
    assert _outcomes() == [PayloadOutcome.ACCEPTED] * 3


def test_a_group_is_not_expired_while_its_payloads_wait_for_the_worker(client, make_integration):
    quiet = make_integration(name="Quiet", resolve_after_minutes=5)
    url = f"/api/alerts/alertmanager/{quiet.key}/"
    with time_machine.travel(START, tick=False) as clock:
        send(client, url, FIRING)
        payloads_drain()
        clock.shift(240)
        send(client, url, FIRING)  # a repeat the worker has not applied yet
        clock.shift(120)

        assert tasks.alert_groups_expire() == 0  # silent only to the worker, not to the sender

        payloads_drain()
        clock.shift(360)
        assert tasks.alert_groups_expire() == 1  # now silent for its 5 minutes
    assert Incident.objects.count() == 1


def test_a_drain_goes_on_with_redis_down(client, url, monkeypatch):
    send(client, url, FIRING)

    def redis_down(*args, **kwargs):
        raise ConnectionError("redis unreachable")

    monkeypatch.setattr(intake.cache, "delete", redis_down)

    assert payloads_drain() == 1  # the scheduled drain applies what is pending
    assert _outcomes() == [PayloadOutcome.ACCEPTED]
