"""No server secret reaches a page, an API answer or a log line through a chat webhook: a
webhook may name only a SLACK_WEBHOOK_* or TEAMS_WEBHOOK_* variable, and every error text kept
or logged is scrubbed of configured secrets and webhook URLs."""

import io
import logging

import pytest
from django.conf import settings

from itsm.choices import ChatKind, NotificationStatus
from itsm.models import ChatWebhook
from itsm.notifications import notify_chat
from itsm.redaction import REDACTED, scrub
from tests.conftest import TEAMS_PATH

ADD_WEBHOOK = "/admin/itsm/chatwebhook/add/"
DATABASE_PASSWORD = "pg-pass-Zq81vX"


def webhook_form(**overrides):
    return {"name": "Leak", "slug": "leak", "kind": "slack", "url_env": "SECRET_KEY", **overrides}


@pytest.mark.parametrize(
    ("kind", "url_env"),
    [
        ("slack", "SECRET_KEY"),
        ("slack", "DATABASE_URL"),
        ("teams", "SLACK_WEBHOOK_OPS"),  # a Teams webhook may not borrow Slack's variable
        ("slack", "SLACK_WEBHOOK_"),
    ],
)
def test_a_manager_cannot_name_a_variable_outside_the_webhook_pattern(
    client, manager, kind, url_env
):
    client.force_login(manager)

    response = client.post(ADD_WEBHOOK, webhook_form(kind=kind, url_env=url_env))

    assert response.status_code == 200  # the form again, with the error
    assert "url_env" in response.context["adminform"].form.errors
    assert "WEBHOOK_" in str(response.context["adminform"].form.errors["url_env"])
    assert not ChatWebhook.objects.exists()


def test_a_manager_can_name_a_webhook_variable_of_its_kind(client, manager):
    client.force_login(manager)

    response = client.post(ADD_WEBHOOK, webhook_form(kind="teams", url_env="TEAMS_WEBHOOK_MIM"))

    assert response.status_code == 302
    assert ChatWebhook.objects.get().url_env == "TEAMS_WEBHOOK_MIM"


def notify_failing(committing, hook, incident):
    """Post about `incident` to `hook`, which fails; the notification as recorded."""
    [notification] = committing(
        notify_chat,
        webhooks=[hook],
        subject="P1 opened",
        body="",
        context={"incident": incident.number},
        dedupe_key=f"leak:{hook.slug}",
    )
    notification.refresh_from_db()
    return notification


def test_a_row_naming_another_variable_reads_nothing_and_its_failure_shows_no_secret(
    client, committing, manager, incident, webhook_server
):
    # A row written before the pattern existed (or around the form) names SECRET_KEY.
    legacy = ChatWebhook.objects.create(slug="old", name="Old", kind="slack", url_env="SECRET_KEY")
    assert legacy.url() == ""

    notification = notify_failing(committing, legacy, incident)
    assert notification.status == NotificationStatus.FAILED
    assert notification.last_error == "SECRET_KEY is not a webhook variable"
    assert webhook_server.requests == []
    client.force_login(manager)
    for page in (
        "/admin/itsm/chatwebhook/",
        f"/admin/itsm/notification/{notification.pk}/change/",
        f"/api/incidents/{incident.number}/timeline/",
    ):
        assert settings.SECRET_KEY not in client.get(page).content.decode(), page


@pytest.fixture
def teams_secret_url(webhook_server, monkeypatch):
    """A Teams webhook whose URL (a secret) points at a port nobody listens on: requests'
    error text quotes the path."""
    url = f"http://127.0.0.1:9{TEAMS_PATH}"
    monkeypatch.setenv("TEAMS_WEBHOOK_DOWN", url)
    return url


def test_a_failed_delivery_keeps_no_webhook_url_in_any_record_or_answer(
    client, committing, manager, incident, teams_secret_url
):
    hook = ChatWebhook.objects.create(
        slug="down", name="Down", kind=ChatKind.TEAMS, url_env="TEAMS_WEBHOOK_DOWN"
    )

    notification = notify_failing(committing, hook, incident)
    assert "Teams webhook unreachable" in notification.last_error
    assert REDACTED in notification.last_error
    assert TEAMS_PATH not in notification.last_error
    client.force_login(manager)
    pages = [
        f"/admin/itsm/notification/{notification.pk}/change/",
        "/admin/itsm/notification/",
        f"/api/incidents/{incident.number}/timeline/",
        f"/incidents/{incident.number}/",
    ]
    for page in pages:
        response = client.get(page)
        assert response.status_code == 200, page
        assert TEAMS_PATH not in response.content.decode(), page


@pytest.fixture
def console_log():
    """What the configured console handler writes, in a buffer."""
    [handler] = [h for h in logging.getLogger().handlers if h.get_name() == "console"]
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    yield buffer
    handler.setStream(previous)


def test_log_lines_and_tracebacks_carry_no_secret(console_log, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"postgres://itsm:{DATABASE_PASSWORD}@db.internal/itsm")
    monkeypatch.setenv("SLACK_WEBHOOK_OPS", "https://hooks.slack.com/services/T1/B2/abcdefgh")
    logger = logging.getLogger("itsm.test")

    logger.error("posting to %s failed", "https://hooks.slack.com/services/T1/B2/abcdefgh")
    try:
        raise RuntimeError(f"cannot connect with password {DATABASE_PASSWORD}")
    except RuntimeError:
        logger.exception("key %s", settings.SECRET_KEY)

    written = console_log.getvalue()
    assert "posting to [redacted] failed" in written
    assert "RuntimeError: cannot connect with password [redacted]" in written
    for secret in ("hooks.slack.com", DATABASE_PASSWORD, settings.SECRET_KEY):
        assert secret not in written


def test_scrub_leaves_ordinary_text_alone():
    text = "Teams answered HTTP 500: upstream exploded"
    assert scrub(text) == text
    assert scrub("smtp://mailer:hunter22x@smtp.example.org") == "smtp://[redacted]@smtp.example.org"


def test_djangos_own_error_lines_are_scrubbed_too(console_log, settings, monkeypatch):
    """django.request's tracebacks, which Django's own handlers would print raw in DEBUG."""
    settings.DEBUG = True
    monkeypatch.setenv("SLACK_WEBHOOK_OPS", "https://hooks.slack.com/services/T1/B2/abcdefgh")
    django_handlers = logging.getLogger("django").handlers

    logging.getLogger("django.request").error(
        "Internal Server Error: %s", "https://hooks.slack.com/services/T1/B2/abcdefgh"
    )

    assert "Internal Server Error: [redacted]" in console_log.getvalue()
    assert django_handlers == []  # nothing writes Django's lines around the scrubber
