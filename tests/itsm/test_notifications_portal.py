"""Where people see notifications: the bell and the notifications page in the portal, the API
(each caller their own) and the admin (every message, with "Retry now")."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
import yaml
from django.urls import reverse

from itsm.choices import ChatKind, NotificationChannel, NotificationStatus
from itsm.models import ChatWebhook, Notification
from tests.conftest import api_error

PAGE = reverse("notifications")
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def make_notification(db):
    """`make_notification(user, subject)`: a delivered notification, as the worker leaves it."""
    count = iter(range(1, 10_000))

    def make(recipient, subject="Escalation: INC0000007", *, channel="in_app", **fields):
        n = next(count)
        fields.setdefault("status", NotificationStatus.SENT)
        return Notification.objects.create(
            recipient=recipient,
            channel=channel,
            subject=subject,
            body=fields.pop("body", "You are paged for INC0000007."),
            link=fields.pop("link", "/incidents/INC0000007/"),
            dedupe_key=f"test:{n}:{channel}",
            created_at=T0 + timedelta(minutes=n),
            **fields,
        )

    return make


def bell_count(response) -> str | None:
    html = response.content.decode()
    marker = 'class="bell-count" data-unread="'
    if marker not in html:
        return None
    return html.split(marker, 1)[1].split('"', 1)[0]


# --- the bell and the page -------------------------------------------------------------------


def test_the_bell_counts_my_unread_in_app_notifications(
    client, responder, manager, make_notification
):
    for n in range(3):
        make_notification(responder, f"Page {n}")
    make_notification(responder, "Read already", read_at=T0)
    make_notification(responder, "By email", channel=NotificationChannel.EMAIL)
    make_notification(manager, "Someone else's")
    client.force_login(responder)

    response = client.get(reverse("incidents:dashboard"))

    assert bell_count(response) == "3"
    assert f'href="{PAGE}"' in response.content.decode()


def test_no_unread_notification_shows_a_bell_without_a_count(client, responder):
    client.force_login(responder)

    response = client.get(reverse("incidents:dashboard"))

    assert f'href="{PAGE}"' in response.content.decode()
    assert bell_count(response) is None


def test_the_page_lists_my_in_app_notifications_newest_first(
    client, responder, manager, make_notification
):
    make_notification(responder, "Older page")
    make_notification(responder, "Newer page", body="Checkout is down.")
    make_notification(responder, "An email", channel=NotificationChannel.EMAIL)
    make_notification(manager, "Someone else's")
    client.force_login(responder)

    html = client.get(PAGE).content.decode()

    assert html.index("Newer page") < html.index("Older page")
    assert "Checkout is down." in html
    assert 'href="/incidents/INC0000007/"' in html
    assert "An email" not in html
    assert "Someone else" not in html


def test_the_page_is_paginated(client, responder, make_notification, settings):
    for n in range(settings.PORTAL_PAGE_SIZE + 1):
        make_notification(responder, f"Page number {n:02d}")
    client.force_login(responder)

    first = client.get(PAGE).content.decode()
    second = client.get(PAGE, {"page": 2}).content.decode()

    assert "Page number 00" not in first
    assert f"Page number {settings.PORTAL_PAGE_SIZE:02d}" in first
    assert "Page number 00" in second
    assert 'rel="next"' in first


def test_marking_one_read_lowers_the_count(client, responder, make_notification):
    first = make_notification(responder, "First")
    make_notification(responder, "Second")
    client.force_login(responder)

    with time_machine.travel(T0 + timedelta(hours=1), tick=False):
        response = client.post(PAGE, {"notification": first.pk, "page": 1}, follow=True)

    first.refresh_from_db()
    assert first.read_at == T0 + timedelta(hours=1)
    assert response.redirect_chain == [(f"{PAGE}?page=1", 302)]
    assert bell_count(response) == "1"


def test_marking_all_read_clears_the_bell(client, responder, make_notification):
    for n in range(4):
        make_notification(responder, f"Page {n}")
    client.force_login(responder)

    response = client.post(PAGE, {"all": "1"}, follow=True)

    assert bell_count(response) is None
    assert not Notification.objects.filter(recipient=responder, read_at__isnull=True).exists()
    assert "Mark all as read" not in response.content.decode()


def test_someone_elses_notification_cannot_be_marked_read(
    client, responder, manager, make_notification
):
    theirs = make_notification(manager)
    client.force_login(responder)

    assert client.post(PAGE, {"notification": theirs.pk}).status_code == 404
    assert client.post(PAGE, {"notification": "x"}).status_code == 400
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_the_page_needs_a_login_and_a_role(client, nobody):
    assert client.get(PAGE).url.startswith(reverse("login"))

    client.force_login(nobody)
    assert client.get(PAGE).status_code == 403


def test_the_page_costs_a_fixed_number_of_queries(
    client, responder, make_notification, django_assert_num_queries
):
    for n in range(30):
        make_notification(responder, f"Page {n}")
    client.force_login(responder)

    # session, user, permissions (user + group), roles, the bell's unread count, count, page.
    with django_assert_num_queries(8):
        response = client.get(PAGE)

    assert response.content.decode().count('class="row notification') == 25


# --- API -------------------------------------------------------------------------------------


def test_the_api_lists_only_my_notifications(api, responder, manager, make_notification):
    mine = [make_notification(responder, f"Mine {n}") for n in range(2)]
    make_notification(manager, "Theirs")
    client = api.as_user(responder)

    body = client.get("/api/notifications/").json()

    assert body["count"] == 2
    assert [row["id"] for row in body["results"]] == [mine[1].pk, mine[0].pk]
    row = body["results"][0]
    assert row["subject"] == "Mine 1"
    assert row["channel"] == "in_app"
    assert row["link"] == "/incidents/INC0000007/"
    assert row["unread"] is True


def test_another_users_notification_is_not_found(api, responder, manager, make_notification):
    theirs = make_notification(manager)
    client = api.as_user(responder)

    api_error(client.get(f"/api/notifications/{theirs.pk}/"), 404, "not_found")
    api_error(client.post(f"/api/notifications/{theirs.pk}/read/"), 404, "not_found")
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_the_api_filters_unread_and_channel(api, responder, make_notification):
    make_notification(responder, "Unread in-app")
    make_notification(responder, "Read in-app", read_at=T0)
    make_notification(responder, "Unread email", channel=NotificationChannel.EMAIL)
    client = api.as_user(responder)

    def subjects(**params):
        return {
            row["subject"] for row in client.get("/api/notifications/", params).json()["results"]
        }

    assert subjects(unread="true") == {"Unread in-app", "Unread email"}
    assert subjects(unread="false") == {"Read in-app"}
    assert subjects(channel="in_app", unread="true") == {"Unread in-app"}


def test_reading_through_the_api(api, responder, make_notification):
    one, *others = (make_notification(responder, f"N{n}") for n in range(3))
    client = api.as_user(responder)

    with time_machine.travel(T0 + timedelta(hours=2), tick=False):
        response = client.post(f"/api/notifications/{one.pk}/read/")
    assert response.status_code == 200
    assert response.json()["unread"] is False
    assert response.json()["read_at"] == "2026-03-02T11:00:00Z"

    response = client.post("/api/notifications/read-all/")
    assert response.json() == {"marked": len(others)}
    assert client.get("/api/notifications/", {"unread": "true"}).json()["count"] == 0


def test_the_api_needs_a_role(api, nobody):
    api_error(api.as_user(nobody).get("/api/notifications/"), 403, "permission_denied")


def test_the_schema_describes_the_notification_paths(api, responder):
    paths = yaml.safe_load(api.as_user(responder).get("/api/schema/").content)["paths"]

    for path in [
        "/api/notifications/",
        "/api/notifications/{id}/",
        "/api/notifications/{id}/read/",
        "/api/notifications/read-all/",
    ]:
        assert path in paths, path


# --- admin -----------------------------------------------------------------------------------


def test_the_admin_lists_every_message_with_its_outcome(
    client, manager, responder, make_notification
):
    make_notification(
        responder,
        "Escalation email",
        channel=NotificationChannel.EMAIL,
        status=NotificationStatus.FAILED,
        attempts=5,
        last_error="Email not accepted: connection refused",
    )
    client.force_login(manager)

    response = client.get(
        reverse("admin:itsm_notification_changelist"), {"status__exact": "failed"}
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert "Escalation email" in html
    assert "Email not accepted: connection refused" in html
    assert "Retry now" not in html  # managers see; super admins retry


def test_retry_now_sends_a_failed_notification_again(
    client,
    super_admin,
    responder,
    make_notification,
    django_capture_on_commit_callbacks,
    mailoutbox,
):
    failed = make_notification(
        responder,
        "Escalation email",
        channel=NotificationChannel.EMAIL,
        status=NotificationStatus.FAILED,
        attempts=5,
        last_error="Email not accepted: connection refused",
    )
    client.force_login(super_admin)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:itsm_notification_changelist"),
            {"action": "retry_now", "_selected_action": [failed.pk]},
            follow=True,
        )

    assert "Queued 1 notification to be sent again." in response.content.decode()
    failed.refresh_from_db()
    assert failed.status == NotificationStatus.SENT
    assert failed.attempts == 6
    assert [mail.subject for mail in mailoutbox] == ["Escalation email"]


def test_the_admin_never_shows_a_webhook_url(client, super_admin, monkeypatch):
    secret = "https://hooks.slack.com/services/T000/B000/very-secret"
    monkeypatch.setenv("SLACK_WEBHOOK_OPS", secret)
    hook = ChatWebhook.objects.create(
        slug="ops", name="#ops", kind=ChatKind.SLACK, url_env="SLACK_WEBHOOK_OPS"
    )
    ChatWebhook.objects.create(
        slug="mim", name="Major incidents", kind=ChatKind.TEAMS, url_env="TEAMS_WEBHOOK_UNSET"
    )
    client.force_login(super_admin)

    listing = client.get(reverse("admin:itsm_chatwebhook_changelist")).content.decode()
    change = client.get(reverse("admin:itsm_chatwebhook_change", args=[hook.pk])).content.decode()

    assert "SLACK_WEBHOOK_OPS" in listing
    # "URL set" and "active" for each: only TEAMS_WEBHOOK_UNSET is unset
    assert listing.count('alt="True"') == 3
    assert listing.count('alt="False"') == 1
    assert secret not in listing
    assert secret not in change
