"""/api/webhooks/ (managers and super admins only), the checks on a subscription's URL and
events, and each place in the portal that emits an event (delivery rows; no HTTP here)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from incidents import clock
from incidents import services as incident_services
from incidents.choices import ChangeSource
from incidents.models import SlaTimer
from itsm.choices import WebhookEvent
from itsm.models import WebhookDelivery, WebhookSubscription
from postmortems import services as review_services
from tests.conftest import api_error
from tests.factories import make_incident
from warroom import services as warroom

CLI = ChangeSource.CLI
URL = "https://hooks.example.org/itsm"


@pytest.fixture
def hook(db):
    """Subscribed to every event, at a URL never reached: these tests read the outbox."""
    return WebhookSubscription.objects.create(
        name="Everything", url=URL, event_types=WebhookEvent.values
    )


def events(hook) -> list[str]:
    return list(hook.deliveries.order_by("id").values_list("event_type", flat=True))


# --- the API -----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["responder", "stakeholder"])
def test_only_managers_and_super_admins_use_the_api(api, request, hook, role):
    client = api.as_user(request.getfixturevalue(role))
    api_error(client.get("/api/webhooks/"), 403, "permission_denied")
    api_error(
        client.post("/api/webhooks/", {"name": "x", "url": URL}, format="json"),
        403,
        "permission_denied",
    )
    api_error(client.get(f"/api/webhooks/{hook.pk}/deliveries/"), 403, "permission_denied")
    api_error(client.post(f"/api/webhooks/{hook.pk}/rotate-secret/"), 403, "permission_denied")
    assert WebhookSubscription.objects.get().secret == hook.secret


@pytest.mark.parametrize("role", ["manager", "super_admin"])
def test_managers_list_edit_and_delete_subscriptions_without_seeing_secrets(
    api, request, hook, role
):
    client = api.as_user(request.getfixturevalue(role))

    [listed] = client.get("/api/webhooks/").json()["results"]
    assert listed["name"] == "Everything" and "secret" not in listed
    edited = client.patch(
        f"/api/webhooks/{hook.pk}/", {"event_types": ["sla.breached"]}, format="json"
    )
    assert edited.status_code == 200, edited.content
    assert edited.json()["event_types"] == ["sla.breached"]
    hook.active, hook.disabled_at, hook.disabled_reason = False, timezone.now(), "410 Gone"
    hook.save()
    enabled = client.patch(f"/api/webhooks/{hook.pk}/", {"active": True}, format="json").json()
    assert (enabled["active"], enabled["disabled_at"], enabled["disabled_reason"]) == (
        True,
        None,
        "",
    )
    assert client.delete(f"/api/webhooks/{hook.pk}/").status_code == 204
    assert not WebhookSubscription.objects.exists()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "https://127.0.0.1/hook",
        "https://localhost/hook",
        "https://[::1]/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://10.1.2.3/hook",
        "https://[::ffff:192.168.0.1]/hook",
        "http://93.184.216.34/hook",  # public, but not https
        "ftp://93.184.216.34/hook",
    ],
)
def test_private_and_plain_http_urls_are_refused_without_the_setting(api, manager, settings, url):
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    response = api.as_user(manager).post(
        "/api/webhooks/", {"name": "x", "url": url, "event_types": []}, format="json"
    )
    fields = api_error(response, 400, "invalid")
    assert list(fields) == ["url"]
    assert not WebhookSubscription.objects.exists()


def test_a_public_https_url_is_accepted(api, manager, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    response = api.as_user(manager).post(
        "/api/webhooks/",
        {"name": "x", "url": "https://93.184.216.34/hook", "event_types": ["sla.breached"]},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["secret"].startswith("whsec_")


def test_unknown_event_types_are_refused(api, manager, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    response = api.as_user(manager).post(
        "/api/webhooks/",
        {"name": "x", "url": URL, "event_types": ["incident.created", "incident.exploded"]},
        format="json",
    )
    assert list(api_error(response, 400, "invalid")) == ["event_types"]


def _deliveries(hook, count: int) -> None:
    WebhookDelivery.objects.bulk_create(
        WebhookDelivery(
            subscription=hook,
            message_id=f"msg_{n}",
            event_type=WebhookEvent.INCIDENT_CREATED,
            payload={"n": n},
            created_at=timezone.now() + timedelta(seconds=n),
        )
        for n in range(count)
    )


@pytest.mark.parametrize("count", [3, 30])
def test_the_delivery_log_is_newest_first_at_a_fixed_cost(
    api, manager, hook, count, django_assert_num_queries
):
    _deliveries(hook, count)
    client = api.as_user(manager)
    client.get("/api/webhooks/")  # the token's first use is recorded once

    # token and user (the permissions are cached), subscription, count, page
    with django_assert_num_queries(4):
        response = client.get(f"/api/webhooks/{hook.pk}/deliveries/")

    body = response.json()
    assert body["count"] == count
    assert body["results"][0]["message_id"] == f"msg_{count - 1}"
    assert body["results"][0]["status"] == "pending"


# --- where events come from --------------------------------------------------------------------


def test_incident_writes_emit_their_events(hook, responder, manager, drive):
    incident = make_incident(actor=responder)
    drive(incident, responder, "acknowledge")
    incident_services.incident_change_priority(
        incident=incident, actor=manager, source=CLI, priority="P1", reason="worse"
    )
    incident_services.incident_add_note(incident=incident, actor=responder, source=CLI, text="Hm")

    assert events(hook) == [
        "incident.created",
        "incident.transitioned",
        "incident.priority_changed",
        "incident.note_added",
    ]
    transitioned, changed = hook.deliveries.order_by("id")[1:3]
    assert transitioned.payload["transition"] == "acknowledge"
    assert (transitioned.payload["from_status"], transitioned.payload["to_status"]) == (
        "new",
        "acknowledged",
    )
    assert (changed.payload["old_priority"], changed.payload["new_priority"]) == ("P3", "P1")
    assert changed.payload["incident"]["url"].endswith(f"/incidents/{incident.number}/")


def test_an_sla_breach_emits_its_event(hook, responder):
    incident = make_incident(actor=responder, priority="P1")
    timer = SlaTimer.objects.filter(incident=incident).order_by("target_at").first()
    hook.deliveries.all().delete()

    clock.tick(now=timer.target_at + timedelta(seconds=1))

    assert "sla.breached" in events(hook)
    breach = hook.deliveries.get(event_type="sla.breached", payload__sla__timer=timer.kind)
    assert breach.payload["sla"]["target_at"] == timer.target_at.isoformat()
    assert breach.payload["actor"] is None


def test_a_major_incident_emits_declared_then_resolved(hook, responder, manager, drive, committing):
    incident = make_incident(actor=responder, priority="P1")
    warroom.major_incident_declare(
        incident=incident,
        actor=manager,
        source=CLI,
        manager=manager,
        initial_impact_statement="Down",
    )
    committing(drive, incident, responder, "acknowledge", "start", "resolve")

    assert events(hook)[1] == "major_incident.declared"
    assert events(hook)[-1] == "major_incident.resolved"
    declared = hook.deliveries.get(event_type="major_incident.declared")
    assert declared.payload["major_incident"]["manager"] == manager.username


def test_publishing_a_review_emits_its_event(hook, responder, manager, drive):
    incident = make_incident(actor=responder, priority="P3")
    drive(incident, responder, "acknowledge", "start", "resolve")
    review = review_services.review_create(incident=incident, actor=responder, source=CLI)
    review = review_services.review_submit(review=review, actor=manager, source=CLI)
    review_services.review_publish(review=review, actor=manager, source=CLI)

    published = hook.deliveries.get(event_type="postmortem.published")
    assert published.payload["incident"]["number"] == incident.number
    assert published.payload["review"]["url"].endswith(f"/{incident.number}/")
