"""The admin's webhook subscriptions (secret shown once, rotate, re-enable) and delivery log
(read-only, filters, "Retry now")."""

import pytest
from django.utils import timezone

from itsm.choices import WebhookEvent
from itsm.models import WebhookDelivery, WebhookSubscription

SUBSCRIPTIONS = "/admin/itsm/webhooksubscription/"
DELIVERIES = "/admin/itsm/webhookdelivery/"


@pytest.fixture
def admin_client(client, manager, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    client.force_login(manager)
    return client


def test_a_new_subscription_shows_its_secret_once(admin_client):
    response = admin_client.post(
        SUBSCRIPTIONS + "add/",
        {
            "name": "Ops",
            "url": "https://hooks.example.org/itsm",
            "event_types": ["incident.created", "sla.breached"],
            "active": "on",
        },
        follow=True,
    )

    hook = WebhookSubscription.objects.get()
    assert hook.event_types == ["incident.created", "sla.breached"]
    assert hook.secret in response.content.decode()
    assert hook.secret not in admin_client.get(f"{SUBSCRIPTIONS}{hook.pk}/change/").content.decode()


def test_a_private_url_is_refused_on_the_url_field(admin_client, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    response = admin_client.post(
        SUBSCRIPTIONS + "add/", {"name": "Ops", "url": "https://127.0.0.1/", "active": "on"}
    )

    assert response.status_code == 200
    assert "not a public address" in response.context["adminform"].form.errors["url"][0]
    assert not WebhookSubscription.objects.exists()


def _act(client, page, action, rows):
    return client.post(
        page, {"action": action, "_selected_action": [row.pk for row in rows]}, follow=True
    )


def test_rotate_then_re_enable(admin_client):
    hook = WebhookSubscription.objects.create(
        name="Ops",
        url="https://hooks.example.org/itsm",
        active=False,
        disabled_at=timezone.now(),
        disabled_reason="The endpoint answered 410 Gone.",
    )
    old = hook.secret

    response = _act(admin_client, SUBSCRIPTIONS, "rotate_secret", [hook])
    hook.refresh_from_db()
    assert (hook.previous_secret, hook.secret != old) == (old, True)
    assert hook.secret in response.content.decode()

    _act(admin_client, SUBSCRIPTIONS, "drop_previous_secret", [hook])
    _act(admin_client, SUBSCRIPTIONS, "enable", [hook])
    hook.refresh_from_db()
    assert (hook.previous_secret, hook.active, hook.disabled_at, hook.disabled_reason) == (
        "",
        True,
        None,
        "",
    )


def test_the_delivery_log_is_filtered_and_retried_on_request(admin_client):
    hook = WebhookSubscription.objects.create(name="Ops", url="https://hooks.example.org/")
    given_up = WebhookDelivery.objects.create(
        subscription=hook,
        message_id="msg_1",
        event_type=WebhookEvent.SLA_BREACHED,
        payload={},
        status="gave_up",
        attempts=8,
    )

    listed = admin_client.get(
        DELIVERIES, {"status__exact": "gave_up", "event_type__exact": "sla.breached"}
    )
    assert "msg_1" in listed.content.decode()
    assert admin_client.get(f"{DELIVERIES}{given_up.pk}/change/").status_code == 200

    _act(admin_client, DELIVERIES, "retry_now", [given_up])
    given_up.refresh_from_db()
    assert given_up.status == "pending"
