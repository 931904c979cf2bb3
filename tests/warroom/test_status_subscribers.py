"""Email subscribers of the status page: the form, double opt-in, every public update (of an
incident or a maintenance) emailed to the confirmed subscribers of the page or of an affected
component, one-click unsubscribe, and the rate limit of confirmation emails."""

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail

from incidents.choices import ChangeSource
from itsm import outbox
from itsm.models import Notification, OutboxItem
from tests.conftest import BASE
from tests.warroom.status_fixtures import make_component, post
from warroom import tasks
from warroom.models import StatusSubscriber
from warroom.status import services
from warroom.status.subscriptions import RESEND_INTERVAL

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LINK = re.compile(r"https?://\S+/status/subscriptions/(confirm|unsubscribe)/(\S+)")


@pytest.fixture
def api_component(manager):
    return make_component(manager, "API")


@pytest.fixture
def web_component(manager):
    return make_component(manager, "Website", position=1)


def announce(committing, manager, name, body, components=()):
    """Announce a maintenance tomorrow, and run what its commit queues."""
    return committing(
        services.maintenance_create,
        actor=manager,
        source=ChangeSource.CLI,
        name=name,
        body=body,
        scheduled_for=T0 + timedelta(days=1),
        scheduled_until=T0 + timedelta(days=1, hours=1),
        components=components,
    )


@pytest.fixture
def subscribe(db, client, committing, portal_base_url):
    """Post the form as a visitor would; returns the response."""

    def run(email, *components):
        data = {"email": email, "components": [c.slug for c in components]}
        return committing(client.post, "/status/subscriptions/", data)

    return run


def link_in(message, kind: str) -> str:
    """The path of the confirm or unsubscribe link in an email's body."""
    match = next(m for m in LINK.finditer(message.body) if m.group(1) == kind)
    return f"/status/subscriptions/{kind}/{match.group(2)}"


def mails_to(address: str) -> list:
    return [m for m in mail.outbox if m.to == [address]]


@pytest.fixture
def confirmed(client, subscribe):
    """Subscribe and confirm `email` (to `components`, or the whole page) by its link."""

    def run(email, *components):
        subscribe(email, *components)
        confirmation = mails_to(email)[-1]
        assert client.post(link_in(confirmation, "confirm")).status_code == 200
        mail.outbox.clear()

    return run


@pytest.fixture
def update(incident, manager, committing):
    def run(body, components=()):
        return committing(post, incident, manager, "investigating", body, components)

    return run


def test_subscribing_sends_a_confirmation_link_and_nothing_more_until_confirmed(
    client, subscribe, update, api_component
):
    response = subscribe("Ann@Example.com")
    assert response.status_code == 200
    assert b"Check your inbox" in response.content
    [confirmation] = mail.outbox
    assert confirmation.to == ["ann@example.com"]
    assert "Confirm the subscription" in confirmation.body
    assert confirmation.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    mail.outbox.clear()

    update("Checkout is slow.", [(api_component, "degraded_performance")])
    assert mail.outbox == []  # unconfirmed: never mailed

    confirm = link_in(confirmation, "confirm")
    page = client.get(confirm)
    assert page.status_code == 200 and b"Confirm subscription" in page.content
    assert StatusSubscriber.objects.get().confirmed_at is None  # a GET confirms nothing
    assert b"Subscribed" in client.post(confirm).content
    assert StatusSubscriber.objects.get().confirmed_at is not None


def test_a_confirmed_subscriber_hears_of_every_update_with_an_unsubscribe_link(
    confirmed, update, incident
):
    confirmed("ann@example.com")
    update("We are looking into slow checkouts.")
    update("The cause is found; a fix is rolling out.")

    first, second = mail.outbox
    assert "investigating" in first.subject.lower()
    assert "We are looking into slow checkouts." in first.body
    assert "The cause is found; a fix is rolling out." in second.body
    assert f"/status/#{incident.number}" in second.body
    for message in (first, second):
        unsubscribe = link_in(message, "unsubscribe")
        assert message.extra_headers["List-Unsubscribe"] == f"<{BASE}{unsubscribe}>"


def test_component_subscribers_hear_only_of_updates_that_affect_their_components(
    confirmed, update, manager, committing, api_component, web_component
):
    confirmed("page@example.com")
    confirmed("api@example.com", api_component)
    confirmed("web@example.com", web_component)

    update("API errors.", [(api_component, "partial_outage")])
    assert sorted(m.to[0] for m in mail.outbox) == ["api@example.com", "page@example.com"]
    mail.outbox.clear()

    # A later update names no component: the API is still affected (it carries its state).
    update("Still looking.")
    assert sorted(m.to[0] for m in mail.outbox) == ["api@example.com", "page@example.com"]
    mail.outbox.clear()

    announce(committing, manager, "Database upgrade", "The website is read-only.", [web_component])
    assert sorted(m.to[0] for m in mail.outbox) == ["page@example.com", "web@example.com"]
    assert "Database upgrade" in mail.outbox[0].subject


def test_every_maintenance_update_is_sent_too(confirmed, manager, committing):
    confirmed("ann@example.com")
    maintenance = announce(committing, manager, "Network switch swap", "Scheduled.")
    committing(
        services.maintenance_post_update,
        maintenance=maintenance,
        actor=manager,
        source=ChangeSource.CLI,
        status="in_progress",
        body="Started.",
    )
    assert [m.body.split("\n")[0] for m in mail.outbox] == ["Scheduled.", "Started."]


BATCH_KINDS = {
    "incident": tasks.SUBSCRIBERS_STATUS_UPDATE,
    "maintenance": tasks.SUBSCRIBERS_MAINTENANCE_UPDATE,
}


@pytest.mark.parametrize("kind", ["incident", "maintenance"])
def test_many_subscribers_are_emailed_a_batch_per_task(
    db, update, committing, manager, monkeypatch, kind
):
    """Ten thousand subscribers in one task outlived the worker's timeout: each outbox item
    writes a batch and records the next in its transaction (held back here, run one by one)."""
    monkeypatch.setattr("warroom.status.subscriptions.BATCH", 2)
    subscribers = StatusSubscriber.objects.bulk_create(
        StatusSubscriber(email=f"reader{n}@example.com", confirmed_at=T0) for n in range(5)
    )
    wakes = []
    monkeypatch.setattr("itsm.outbox.async_task", lambda *args: wakes.append(args))
    if kind == "incident":
        update("Checkout is slow.")
    else:
        announce(committing, manager, "Database upgrade", "Scheduled.")
    while wakes:
        _, pk, attempt = wakes.pop(0)
        committing(outbox.outbox_item_run, pk=pk, attempt=attempt)
    assert sorted(m.to[0] for m in mail.outbox) == sorted(s.email for s in subscribers)
    batches = OutboxItem.objects.filter(kind=BATCH_KINDS[kind])
    assert [item.payload.get("after", 0) > 0 for item in batches.order_by("pk")] == [
        False,
        True,
        True,
    ]


def test_the_unsubscribe_link_shows_a_button_and_its_post_stops_the_mail(client, confirmed, update):
    confirmed("ann@example.com")
    update("First.")
    unsubscribe = link_in(mail.outbox[0], "unsubscribe")
    page = client.get(unsubscribe)
    assert page.status_code == 200 and b"Unsubscribe" in page.content
    assert StatusSubscriber.objects.get().unsubscribed_at is None
    mail.outbox.clear()

    # RFC 8058: the mail client POSTs "List-Unsubscribe=One-Click", with no CSRF token.
    one_click = client.post(unsubscribe, {"List-Unsubscribe": "One-Click"})
    assert one_click.status_code == 200 and b"Unsubscribed" in one_click.content
    update("Second.")
    assert mail.outbox == []


def test_a_wrong_token_is_404_and_changes_nothing(client, subscribe):
    subscribe("ann@example.com")
    subscriber = StatusSubscriber.objects.get()
    for token in (f"{subscriber.pk}.wrong", f"{subscriber.pk + 1}.{subscriber.token}", "x"):
        assert client.post(f"/status/subscriptions/confirm/{token}").status_code == 404
        assert client.get(f"/status/subscriptions/unsubscribe/{token}").status_code == 404
    subscriber.refresh_from_db()
    assert subscriber.confirmed_at is None and subscriber.unsubscribed_at is None


@pytest.mark.parametrize(
    ("email", "components", "field"),
    [
        ("not-an-address", [], "email"),
        ("", [], "email"),
        ("a" * 250 + "@example.com", [], "email"),
        ("ann@example.com", ["no-such-component"], "components"),
        ("ann@example.com", ["internal"], "components"),
    ],
)
def test_bad_input_is_400_on_the_page_with_the_error_and_nothing_is_written(
    client, manager, api_component, email, components, field
):
    make_component(manager, "Internal", public=False)
    response = client.post("/status/subscriptions/", {"email": email, "components": components})
    assert response.status_code == 400
    html = response.content.decode()
    assert "Please correct the errors below." in html
    expected = "Enter a valid email address." if field == "email" else "Not public components"
    assert expected in html
    assert StatusSubscriber.objects.count() == 0
    assert Notification.objects.count() == 0
    assert mail.outbox == []


def test_one_confirmation_email_per_address_per_interval(subscribe):
    with time_machine.travel(T0, tick=False) as clock:
        for _ in range(5):
            assert subscribe("ann@example.com").status_code == 200
        assert len(mail.outbox) == 1
        clock.shift(RESEND_INTERVAL)
        subscribe("ann@example.com")
        assert len(mail.outbox) == 2
    first, second = mail.outbox
    assert link_in(first, "confirm") != link_in(second, "confirm")  # the old link is void


def test_a_confirmed_address_subscribing_again_gets_no_email(confirmed, subscribe):
    confirmed("ann@example.com")
    with time_machine.travel(datetime.now(UTC) + RESEND_INTERVAL):
        assert subscribe("ann@example.com").status_code == 200
    assert mail.outbox == []
    assert StatusSubscriber.objects.get().is_active


def test_the_status_page_shows_the_subscribe_form(client, api_component):
    html = client.get("/status/").content.decode()
    assert 'action="/status/subscriptions/"' in html
    assert 'name="components" value="api"' in html
    assert "<script" not in html
