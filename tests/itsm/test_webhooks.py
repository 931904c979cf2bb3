"""Outbound webhooks: a local receiver checks every request's signature with the
`standardwebhooks` library, as a subscriber would (docs/webhooks.md)."""

import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from types import SimpleNamespace

import pytest
import time_machine
from django.db import connection, transaction
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from incidents import clock
from incidents import services as incident_services
from incidents.choices import ChangeSource
from itsm import webhooks
from itsm.choices import WebhookDeliveryStatus, WebhookEvent
from itsm.models import WebhookDelivery, WebhookSubscription
from itsm.webhooks import webhook_delivery_send, webhook_subscription_enable, webhooks_send_due
from tests.concurrency import eventually
from tests.conftest import local_server, queued_sends
from tests.factories import make_incident

T0 = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
CLI = ChangeSource.CLI


class _Receiver(BaseHTTPRequestHandler):
    """Records each request's raw body and headers; answers `server.statuses` in turn, then
    200 (a 3xx with a Location), after `server.delay` seconds."""

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.server.requests.append(
            {
                "method": self.command,
                "path": self.path,
                "headers": dict(self.headers.items()),
                "body": self.rfile.read(length),
            }
        )
        status = self.server.statuses.pop(0) if self.server.statuses else 200
        time.sleep(self.server.delay)
        self.send_response(status)
        if 300 <= status < 400:
            self.send_header("Location", "/elsewhere")
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    with local_server(_Receiver) as server:
        yield server


@pytest.fixture(autouse=True)
def _private_addresses_allowed(settings):
    """The receiver listens on loopback, which only this setting lets webhooks reach."""
    settings.WEBHOOKS_ALLOW_PRIVATE = True


@pytest.fixture
def subscribe(db):
    def make(url, events=tuple(WebhookEvent.values), **fields):
        return WebhookSubscription.objects.create(
            name="Ops", url=url, event_types=list(events), **fields
        )

    return make


def due_delivery(hook, message_id: str) -> WebhookDelivery:
    """A pending delivery to `hook` whose moment has come."""
    return WebhookDelivery.objects.create(
        subscription=hook,
        message_id=message_id,
        event_type=WebhookEvent.INCIDENT_CREATED,
        payload={},
        next_attempt_at=timezone.now(),
    )


def verified(request, secret: str) -> dict:
    """The body of `request` as a receiver holding `secret` accepts it."""
    return Webhook(secret).verify(request["body"], request["headers"])


# --- sending -----------------------------------------------------------------------------------


def test_an_incident_created_through_the_api_is_posted_once_signed_to_its_subscriber(
    api, manager, service, receiver, subscribe, django_capture_on_commit_callbacks
):
    hook = subscribe(receiver.url + "/hook", [WebhookEvent.INCIDENT_CREATED])
    other = subscribe(receiver.url + "/other", [WebhookEvent.INCIDENT_TRANSITIONED])

    with django_capture_on_commit_callbacks(execute=True):
        response = api.as_user(manager).post(
            "/api/incidents/",
            {"title": "Checkout down", "impact": 1, "urgency": 1, "services": [service.slug]},
            format="json",
        )

    assert response.status_code == 201, response.content
    [request] = receiver.requests
    assert request["path"] == "/hook"
    body = verified(request, hook.secret)
    assert body["type"] == "incident.created"
    incident = body["data"]["incident"]
    assert (incident["number"], incident["title"], incident["priority"]) == (
        response.json()["number"],
        "Checkout down",
        "P1",
    )
    assert incident["services"] == [service.slug]
    assert body["data"]["actor"] == manager.username
    assert request["headers"]["webhook-id"].startswith("msg_")
    delivery = hook.deliveries.get()
    assert (delivery.status, delivery.attempts, delivery.last_response_code) == (
        WebhookDeliveryStatus.SUCCEEDED,
        1,
        200,
    )
    assert delivery.message_id == request["headers"]["webhook-id"]
    assert not other.deliveries.exists()


def test_a_change_rolled_back_sends_nothing(
    receiver, subscribe, responder, django_capture_on_commit_callbacks
):
    subscribe(receiver.url)

    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        make_incident(actor=responder)
        raise RuntimeError("the write fails after the event")

    assert receiver.requests == []
    assert not WebhookDelivery.objects.exists()


@time_machine.travel(T0, tick=False)
def test_a_failed_attempt_is_retried_after_its_back_off_with_the_same_webhook_id(
    receiver, subscribe, responder, committing
):
    hook = subscribe(receiver.url)
    receiver.statuses = [500]
    committing(make_incident, actor=responder)
    delivery = hook.deliveries.get()
    assert (delivery.status, delivery.attempts, delivery.last_response_code) == ("pending", 1, 500)
    assert delivery.next_attempt_at == T0 + timedelta(seconds=5)

    assert committing(clock.tick, now=T0 + timedelta(seconds=4))["webhooks"] == 0
    with time_machine.travel(T0 + timedelta(seconds=5), tick=False):
        assert committing(clock.tick)["webhooks"] == 1
        first, second = receiver.requests
        assert verified(second, hook.secret)["type"] == "incident.created"

    assert first["headers"]["webhook-id"] == second["headers"]["webhook-id"] == delivery.message_id
    stamps = [int(request["headers"]["webhook-timestamp"]) for request in (first, second)]
    assert stamps == [T0.timestamp(), T0.timestamp() + 5]
    assert first["body"] == second["body"]
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_response_code) == (
        "succeeded",
        2,
        200,
    )


@time_machine.travel(T0, tick=False)
def test_an_event_the_broker_did_not_take_is_sent_by_the_clock(
    receiver, subscribe, responder, committing, monkeypatch
):
    hook = subscribe(receiver.url)

    def broker_down(*args):
        raise ConnectionError("broker down")

    with monkeypatch.context() as patched:
        patched.setattr(webhooks, "async_task", broker_down)
        incident = committing(make_incident, actor=responder)

    assert receiver.requests == []
    assert committing(clock.tick, now=T0 + webhooks.LEASE)["webhooks"] == 1
    [request] = receiver.requests
    assert verified(request, hook.secret)["data"]["incident"]["number"] == incident.number


@pytest.mark.usefixtures("queued")
def test_a_backlog_longer_than_the_lease_is_queued_once(subscribe, responder, committing):
    """Deliveries waiting in the worker's queue are not queued again by the clock."""
    subscribe("https://hooks.example.test/a")
    subscribe("https://hooks.example.test/b")
    with time_machine.travel(T0, tick=False) as moment:
        committing(make_incident, actor=responder)
        waiting = queued_sends(webhooks.SEND_TASK)
        assert len(waiting) == 2
        for _ in range(3):
            moment.shift(webhooks.LEASE)
            assert committing(webhooks_send_due, now=timezone.now()) == 0

    assert queued_sends(webhooks.SEND_TASK) == waiting


@time_machine.travel(T0, tick=False)
def test_a_delivery_whose_worker_died_mid_request_is_sent_again_after_its_lease(
    receiver, subscribe, committing, monkeypatch
):
    delivery = due_delivery(subscribe(receiver.url), "msg_died")

    def die(*args):
        raise SystemExit("kill -9")

    with monkeypatch.context() as patched, pytest.raises(SystemExit):
        patched.setattr(webhooks, "_attempt", die)
        webhook_delivery_send(pk=delivery.pk, attempt=0)  # claimed, then the worker died

    before_lease_ends = T0 + webhooks.LEASE - timedelta(seconds=1)
    assert committing(webhooks_send_due, now=before_lease_ends) == 0
    assert committing(webhooks_send_due, now=T0 + webhooks.LEASE) == 1
    [request] = receiver.requests
    assert request["headers"]["webhook-id"] == "msg_died"
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("succeeded", 2)


def test_every_failure_is_retried_on_the_schedule_then_given_up(
    receiver, subscribe, responder, committing, settings
):
    settings.WEBHOOKS_RETRY_SCHEDULE = [5, 60]
    hook = subscribe(receiver.url)
    receiver.statuses = [503, 503, 503]
    with time_machine.travel(T0, tick=False) as traveller:
        committing(make_incident, actor=responder)
        for wait in (5, 60, 86400):
            traveller.shift(timedelta(seconds=wait))
            committing(webhooks_send_due, now=timezone.now())

    assert len(receiver.requests) == 3
    delivery = hook.deliveries.get()
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == ("gave_up", 3, None)


def test_410_gone_disables_the_subscription_and_stops_its_pending_deliveries(
    receiver, subscribe, responder, committing
):
    hook = subscribe(receiver.url)
    receiver.statuses = [410]

    def create_and_note():
        incident = make_incident(actor=responder)
        incident_services.incident_add_note(
            incident=incident, actor=responder, source=CLI, text="Looking"
        )
        return incident

    incident = committing(create_and_note)

    assert len(receiver.requests) == 1
    hook.refresh_from_db()
    assert not hook.active
    assert hook.disabled_at is not None
    assert "410" in hook.disabled_reason
    assert set(hook.deliveries.values_list("status", flat=True)) == {"failed"}
    committing(
        incident_services.incident_add_note,
        incident=incident,
        actor=responder,
        source=CLI,
        text="More",
    )
    assert hook.deliveries.count() == 2  # a disabled subscription gets no new events

    webhook_subscription_enable(subscription=hook)
    committing(
        incident_services.incident_add_note,
        incident=incident,
        actor=responder,
        source=CLI,
        text="Back",
    )
    hook.refresh_from_db()
    assert (hook.active, hook.disabled_at, hook.disabled_reason) == (True, None, "")
    assert hook.deliveries.latest("created_at").status == "succeeded"


def test_a_redirect_is_not_followed(receiver, subscribe, responder, committing):
    hook = subscribe(receiver.url + "/old")
    receiver.statuses = [302]

    committing(make_incident, actor=responder)

    assert [request["path"] for request in receiver.requests] == ["/old"]
    delivery = hook.deliveries.get()
    assert (delivery.status, delivery.last_response_code) == ("pending", 302)
    assert "redirects are not followed" in delivery.last_error


def test_an_address_that_became_private_is_not_posted_to(
    receiver, subscribe, responder, committing, settings
):
    hook = subscribe(receiver.url)
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    settings.DEBUG = True  # plain http is allowed: only the address stands in the way

    committing(make_incident, actor=responder)

    assert receiver.requests == []
    delivery = hook.deliveries.get()
    assert delivery.status == "pending"
    assert "connected to 127.0.0.1, which is not a public address" in delivery.last_error


def test_a_name_that_rebinds_to_a_private_address_is_not_posted_to(
    receiver, subscribe, responder, committing, settings, monkeypatch
):
    """DNS rebinding: the name resolves to a public address whenever the URL is checked, and
    to loopback when the worker connects. The address connected to is what is refused."""
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    settings.DEBUG = True  # plain http is allowed: only the address stands in the way
    port = receiver.server_address[1]
    real_getaddrinfo = socket.getaddrinfo

    def resolved_to(address):
        def getaddrinfo(host, *args, **kwargs):
            if host != "hooks.example.test":
                return real_getaddrinfo(host, *args, **kwargs)
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

        return getaddrinfo

    checked = SimpleNamespace(getaddrinfo=resolved_to("93.184.215.14"), SOCK_STREAM=1)
    monkeypatch.setattr("itsm.safe_urls.socket", checked)  # every check by name: public
    monkeypatch.setattr(socket, "getaddrinfo", resolved_to("127.0.0.1"))  # the connection
    hook = subscribe(f"http://hooks.example.test:{port}/hook")
    hook.full_clean()

    committing(make_incident, actor=responder)

    assert receiver.requests == []
    delivery = hook.deliveries.get()
    assert delivery.status == "pending"
    assert "connected to 127.0.0.1, which is not a public address" in delivery.last_error


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_request_holds_no_lock_on_its_delivery(receiver, subscribe):
    """The attempt is counted and committed before the request, which holds no lock: a
    failure recording its outcome cannot undo the record that it was made."""
    hook = subscribe(receiver.url)
    delivery = due_delivery(hook, "msg_unlocked")
    receiver.delay = 1.0
    sender = threading.Thread(
        target=lambda: (webhook_delivery_send(pk=delivery.pk, attempt=0), connection.close())
    )
    sender.start()
    try:
        assert eventually(lambda: receiver.requests), "the request never came"
        with transaction.atomic():  # while the receiver has not answered
            during = WebhookDelivery.objects.select_for_update(nowait=True).get(pk=delivery.pk)
    finally:
        sender.join()

    assert (during.status, during.attempts) == ("pending", 1)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("succeeded", 1)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("run", ["sweep", "send"])
def test_two_workers_at_once_send_a_delivery_once(receiver, subscribe, run):
    """Two clocks sweeping at once, or two workers given the same task: one request."""
    hook = subscribe(receiver.url)
    delivery = due_delivery(hook, "msg_race")
    receiver.delay = 0.5
    start = threading.Barrier(2)

    def worker():
        try:
            start.wait()
            if run == "sweep":
                webhooks_send_due(now=timezone.now())
            else:
                webhook_delivery_send(pk=delivery.pk, attempt=0)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(receiver.requests) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("succeeded", 1)


# --- secrets -----------------------------------------------------------------------------------


def test_during_a_rotation_receivers_with_either_secret_verify(
    api, manager, responder, receiver, committing
):
    client = api.as_user(manager)
    created = client.post(
        "/api/webhooks/",
        {"name": "Ops", "url": receiver.url, "event_types": ["incident.note_added"]},
        format="json",
    )
    assert created.status_code == 201, created.content
    old = created.json()["secret"]
    assert old.startswith("whsec_")
    pk = created.json()["id"]
    assert "secret" not in client.get(f"/api/webhooks/{pk}/").json()

    rotated = client.post(f"/api/webhooks/{pk}/rotate-secret/")
    assert rotated.status_code == 200, rotated.content
    new = rotated.json()["secret"]
    assert new.startswith("whsec_") and new != old
    assert rotated.json()["rotating"] is True
    incident = make_incident(actor=responder)
    note = {"incident": incident, "actor": responder, "source": CLI}
    committing(incident_services.incident_add_note, **note, text="One")

    [request] = receiver.requests
    assert request["headers"]["webhook-signature"].count("v1,") == 2
    assert verified(request, old) == verified(request, new)

    assert client.post(f"/api/webhooks/{pk}/drop-previous-secret/").json()["rotating"] is False
    committing(incident_services.incident_add_note, **note, text="Two")
    assert verified(receiver.requests[1], new)["data"]["note"]["text"] == "Two"
    with pytest.raises(WebhookVerificationError):
        verified(receiver.requests[1], old)
