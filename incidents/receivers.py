"""Receivers: a notification about an incident (its context names the incident) is written on
that incident's timeline once it is sent or has finally failed (the itsm package's signals);
an integration saved or deleted is forgotten by this process's key lookup."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from incidents.alerts import intake
from incidents.choices import EventType
from incidents.models import Incident, Integration
from incidents.timeline import incident_record_event
from itsm.signals import notification_failed, notification_sent


@receiver(post_save, sender=Integration, dispatch_uid="incidents.integration_saved")
@receiver(post_delete, sender=Integration, dispatch_uid="incidents.integration_deleted")
def forget_integrations(sender, **kwargs):
    intake.integrations_forget()


@receiver(notification_sent, dispatch_uid="incidents.notification_sent")
def record_notification_sent(sender, notification, **kwargs):
    _record(notification, summary=f"sent to {_addressee(notification)}: {notification.subject}")


@receiver(notification_failed, dispatch_uid="incidents.notification_failed")
def record_notification_failed(sender, notification, **kwargs):
    tries = f"{notification.attempts} attempt{'s' if notification.attempts != 1 else ''}"
    _record(
        notification,
        summary=f"to {_addressee(notification)} failed after {tries}: {notification.last_error}",
    )


def _addressee(notification) -> str:
    if notification.recipient_id:
        return notification.recipient.get_username()
    return notification.webhook.name if notification.webhook_id else "a deleted webhook"


def _record(notification, *, summary: str) -> None:
    number = notification.context.get("incident")
    incident = Incident.objects.filter(number=number).first() if number else None
    if incident is None:
        return
    incident_record_event(
        incident=incident,
        type=EventType.NOTIFICATION,
        summary=f"{notification.get_channel_display()} {summary}",
        data={
            "notification": notification.pk,
            "channel": notification.channel,
            "to": _addressee(notification),
            "subject": notification.subject,
            "status": notification.status,
            "attempts": notification.attempts,
            "error": notification.last_error,
        },
    )
