"""A notification may carry text files (an iCalendar invitation): they go with the email, and
again with a retry, never with the in-app message."""

from django.core import mail

from itsm import notifications
from itsm.choices import NotificationChannel
from itsm.notifications import Attachment, notify

INVITE = Attachment(filename="invite.ics", content="BEGIN:VCALENDAR\r\n", mimetype="text/calendar")


def test_the_email_carries_the_attachment_and_the_bell_does_not(responder):
    rows = notify(
        recipients=[responder],
        subject="Review meeting",
        body="Join us.",
        context={"incident": "INC0000001"},
        dedupe_key="test:attachment",
        attachments=(INVITE,),
    )
    email = next(row for row in rows if row.channel == NotificationChannel.EMAIL)
    in_app = next(row for row in rows if row.channel == NotificationChannel.IN_APP)

    assert in_app.context == {"incident": "INC0000001"}
    assert notifications.notification_send(pk=email.pk, attempt=0) is True
    (message,) = mail.outbox
    assert message.to == [responder.email]
    assert message.attachments == [("invite.ics", "BEGIN:VCALENDAR\r\n", "text/calendar")]


def test_a_message_without_attachments_is_sent_as_before(responder):
    (email,) = notify(
        recipients=[responder],
        subject="Hello",
        body="Plain.",
        dedupe_key="test:plain",
        channels=[NotificationChannel.EMAIL],
    )

    notifications.notification_send(pk=email.pk, attempt=0)

    assert email.context == {}
    assert mail.outbox[0].attachments == []
    assert (mail.outbox[0].subject, mail.outbox[0].body) == ("Hello", "Plain.")
