"""How a notification reaches its channel: email through Django's email backend, Slack and
Teams through their incoming webhooks (slack_sdk and pymsteams build the payloads), in-app by
existing (the bell reads the table). A sender returns when the channel accepted the message and
raises DeliveryError when it did not."""

import hashlib
import html
import re
from urllib.parse import urlsplit

import pymsteams
import requests
from django.conf import settings
from django.core.mail import EmailMessage
from slack_sdk.errors import SlackRequestError
from slack_sdk.models.blocks import ButtonElement, HeaderBlock, PlainTextObject, SectionBlock
from slack_sdk.webhook import WebhookClient

from itsm.choices import NotificationChannel
from itsm.models import Notification, is_webhook_env

SLACK_HEADER_MAX = 150
SLACK_SECTION_MAX = 3000
SLACK_BUTTON_MAX = 75


class DeliveryError(Exception):
    """The channel did not take the message; a later attempt may succeed."""


class PermanentDeliveryError(DeliveryError):
    """The message cannot be sent until someone changes the configuration (a missing address,
    an unset webhook variable), so retrying on a timer is pointless."""


def deliver(notification: Notification) -> None:
    _SENDERS[notification.channel](notification)


def portal_url(link: str) -> str:
    """The absolute address of a portal path, or "" when there is no base URL to build it on."""
    if not link or link.startswith(("http://", "https://")):
        return link
    base = getattr(settings, "PORTAL_BASE_URL", "").rstrip("/")
    return f"{base}{link}" if base else ""


def link_label(notification: Notification) -> str:
    incident = notification.context.get("incident")
    return f"Open {incident}" if incident else "Open in the portal"


# Slack's broadcast mentions, which a notification must never carry.
SLACK_BROADCASTS = re.compile(r"@(here|channel|everyone)\b", re.IGNORECASE)
# Characters Teams' Markdown would read as formatting or a link: `[Runbook](https://evil)`.
TEAMS_MARKDOWN = re.compile(r"([\\`*_~\[\]])")
WORD_JOINER = "\u2060"


def slack_escape(text: str) -> str:
    """User text for a Slack mrkdwn field: `<!channel>`, `<@U…>` and `<https://evil|Runbook>`
    become literal text (Slack's own escaping of &, < and >), and a bare @here, @channel or
    @everyone gets an invisible joiner after the @ so that it cannot notify anyone."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return SLACK_BROADCASTS.sub(lambda match: f"@{WORD_JOINER}{match.group(1)}", escaped)


def teams_escape(text: str) -> str:
    """User text for a Teams card, whose text is Markdown with some HTML: tags and Markdown
    links or emphasis are shown as typed, never rendered."""
    escaped = html.escape(text, quote=False)
    return TEAMS_MARKDOWN.sub(r"\\\1", escaped)


def slack_blocks(notification: Notification) -> list:
    """A header with the subject; a section with the body and, when the message is about a
    portal page, a button to it. Plain text throughout, so a body cannot @-mention a channel."""
    url = portal_url(notification.link)
    button = (
        ButtonElement(
            text=link_label(notification)[:SLACK_BUTTON_MAX], url=url, action_id="open-in-portal"
        )
        if url
        else None
    )
    text = notification.body or notification.subject
    return [
        HeaderBlock(text=PlainTextObject(text=notification.subject[:SLACK_HEADER_MAX])),
        SectionBlock(text=PlainTextObject(text=text[:SLACK_SECTION_MAX]), accessory=button),
    ]


def teams_card(notification: Notification, url: str) -> pymsteams.connectorcard:
    card = pymsteams.connectorcard(url, http_timeout=settings.CHAT_TIMEOUT)
    card.title(teams_escape(notification.subject))
    # Teams refuses a card without text
    card.text(teams_escape(notification.body or notification.subject))
    link = portal_url(notification.link)
    if link:
        card.addLinkButton(link_label(notification), link)
    return card


def email_address(notification: Notification) -> str:
    """The user's address, or the address a row for a non-user carries (notify_addresses)."""
    if notification.recipient is not None:
        return notification.recipient.email
    return notification.context.get("to", "")


def message_id(notification: Notification) -> str:
    """A Message-ID made from the row's dedupe key, the same on every attempt: an email sent
    again after a worker died mid-send is one message in every mail client, not two. A row
    without a key (sent once, by hand) is its own key."""
    key = notification.dedupe_key or f"notification:{notification.pk}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:40]
    domain = urlsplit(settings.PORTAL_BASE_URL).hostname or "itsm.invalid"
    return f"<{digest}@{domain}>"


def _send_email(notification: Notification) -> None:
    address = email_address(notification)
    if not address:
        raise PermanentDeliveryError("recipient has no email")
    url = portal_url(notification.link)
    body = f"{notification.body}\n\n{url}" if url else notification.body
    headers = {
        **(notification.context.get("headers") or {}),
        "Message-ID": message_id(notification),
    }
    message = EmailMessage(notification.subject, body, to=[address], headers=headers)
    for attachment in notification.context.get("attachments", ()):
        message.attach(attachment["filename"], attachment["content"], attachment["mimetype"])
    try:
        message.send()
    except OSError as exc:  # smtplib's errors are OSErrors too
        raise DeliveryError(f"Email not accepted: {exc}") from exc


def _show_in_app(notification: Notification) -> None:
    """Nothing to send: the row itself is what the bell and the notifications page show."""


def _webhook_url(notification: Notification) -> str:
    webhook = notification.webhook
    if webhook is None:
        raise PermanentDeliveryError("the chat webhook was deleted")
    if not webhook.active:
        raise PermanentDeliveryError(f"chat webhook {webhook.slug} is inactive")
    if not is_webhook_env(webhook.url_env):
        raise PermanentDeliveryError(f"{webhook.url_env} is not a webhook variable")
    url = webhook.url()
    if not url:
        raise PermanentDeliveryError(f"{webhook.url_env} is not set")
    return url


def _send_slack(notification: Notification) -> None:
    client = WebhookClient(_webhook_url(notification), timeout=settings.CHAT_TIMEOUT)
    try:
        response = client.send(
            text=slack_escape(notification.subject), blocks=slack_blocks(notification)
        )
    except (OSError, SlackRequestError) as exc:
        raise DeliveryError(f"Slack webhook unreachable: {exc}") from exc
    if response.status_code != 200:
        raise DeliveryError(f"Slack answered HTTP {response.status_code}: {response.body[:200]}")


def _send_teams(notification: Notification) -> None:
    card = teams_card(notification, _webhook_url(notification))
    try:
        card.send()
    except pymsteams.TeamsWebhookException as exc:
        status = card.last_http_response.status_code
        raise DeliveryError(f"Teams answered HTTP {status}: {str(exc)[:200]}") from exc
    except requests.RequestException as exc:
        raise DeliveryError(f"Teams webhook unreachable: {exc}") from exc


_SENDERS = {
    NotificationChannel.EMAIL: _send_email,
    NotificationChannel.IN_APP: _show_in_app,
    NotificationChannel.SLACK: _send_slack,
    NotificationChannel.TEAMS: _send_teams,
}
