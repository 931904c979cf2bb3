"""Emails to addresses that are no user's (status page subscribers): a row each, sent by the
worker with its extra headers, once per key, and retried like any other."""

from django.core import mail

from itsm import channels, notifications
from itsm.choices import NotificationStatus
from itsm.notifications import AddressedEmail, notify_addresses

HEADERS = {"List-Unsubscribe": "<https://example.org/u/1>"}


def email(key="test:addr:1", to="ann@example.com"):
    return AddressedEmail(to=to, subject="Hello", body="Plain.", dedupe_key=key, headers=HEADERS)


def test_an_address_gets_its_email_with_its_headers_once(db):
    (row,) = notify_addresses([email()])
    assert notify_addresses([email()]) == []  # the same key again: nothing more

    assert row.recipient is None
    assert notifications.notification_send(pk=row.pk, attempt=0) is True
    (message,) = mail.outbox
    assert message.to == ["ann@example.com"]
    assert message.extra_headers == {**HEADERS, "Message-ID": channels.message_id(row)}
    assert "ann@example.com" in str(row)


def test_a_failed_send_to_an_address_is_retried(db, settings):
    settings.EMAIL_BACKEND = "tests.itsm.test_notify_addresses.RefusingBackend"
    (row,) = notify_addresses([email()])
    assert notifications.notification_send(pk=row.pk, attempt=0) is False
    row.refresh_from_db()
    assert row.status == NotificationStatus.PENDING and "refused" in row.last_error

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert notifications.notification_send(pk=row.pk, attempt=1) is True
    assert [m.to for m in mail.outbox] == [["ann@example.com"]]


class RefusingBackend:
    def __init__(self, **kwargs):
        pass

    def send_messages(self, messages):
        raise OSError("refused")
