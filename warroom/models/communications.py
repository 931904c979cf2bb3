"""Stakeholder communications: the templates they are drafted from (docs/communications.md).

A template is edited in place, each edit raising its `version`; its history keeps every
version's text, and a draft records the version it was rendered from."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

from incidents.models import Incident, IncidentEvent, Team
from itsm.models import ChatWebhook
from warroom.choices import CommunicationKind, CommunicationStatus, RecipientKind

__all__ = [
    "COMMUNICATION_BODY_MAX_LENGTH",
    "COMMUNICATION_SUBJECT_MAX_LENGTH",
    "DRAFT_COMMUNICATION_PERMISSION",
    "LEADERSHIP_GROUP",
    "TEMPLATE_BODY_MAX_LENGTH",
    "TEMPLATE_SUBJECT_MAX_LENGTH",
    "Audience",
    "Communication",
    "CommunicationRecipient",
    "CommunicationTemplate",
]

TEMPLATE_SUBJECT_MAX_LENGTH = 500
TEMPLATE_BODY_MAX_LENGTH = 10_000
COMMUNICATION_SUBJECT_MAX_LENGTH = 200  # a notification's subject
COMMUNICATION_BODY_MAX_LENGTH = 10_000
DRAFT_COMMUNICATION_PERMISSION = "warroom.add_communication"
# A Django group without permissions: its members are the audiences' IT leadership; an admin
# adds people to it (migration 0011 creates it and names it in the leadership audiences).
LEADERSHIP_GROUP = "IT leadership"


class Audience(models.Model):
    """Who a communication reaches: people (named, by team, by role), email addresses, chat
    channels, the department heads of the affected services (the members of their owner teams)
    and, for everyone, the public status page."""

    name = models.CharField(max_length=100, unique=True)
    users = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    teams = models.ManyToManyField(Team, blank=True, related_name="+")
    roles = models.ManyToManyField(
        "auth.Group", blank=True, related_name="+", help_text="Everyone holding these roles."
    )
    emails = models.JSONField(default=list, blank=True, help_text="Email addresses, a list.")
    chat_webhooks = models.ManyToManyField(ChatWebhook, blank=True, related_name="+")
    affected_department_heads = models.BooleanField(
        default=False, help_text="The owner teams of the incident's affected services."
    )
    status_page = models.BooleanField(
        default=False, help_text="Posted as a public update on the status page."
    )
    external = models.BooleanField(
        default=False, help_text="Stakeholders outside the response: a public timeline event."
    )

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class CommunicationTemplate(models.Model):
    """How one kind of communication reads, when it is due and who it is for by default."""

    kind = models.CharField(max_length=20, choices=CommunicationKind.choices, unique=True)
    trigger = models.CharField(max_length=100, help_text="When it is sent, e.g. 'MI declared'.")
    audience_description = models.CharField(
        max_length=200, help_text="Who it is for, as the major-incident procedure names them."
    )
    subject_template = models.CharField(max_length=TEMPLATE_SUBJECT_MAX_LENGTH)
    body_template = models.TextField(max_length=TEMPLATE_BODY_MAX_LENGTH)
    version = models.PositiveIntegerField(default=1, editable=False)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
    )
    updated_at = models.DateTimeField(default=timezone.now, editable=False)
    audience = models.ForeignKey(
        Audience, on_delete=models.PROTECT, null=True, related_name="templates"
    )
    auto_post = models.BooleanField(
        default=False,
        help_text="Status page update only. Checked: the update drafted on each state change of "
        "a public incident is sent at once by the system (posted on the status page, subscribers "
        "emailed), as a person's send would. Unchecked: it waits as a draft for a person to "
        "edit and send.",
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(auto_post=False) | Q(kind=CommunicationKind.STATUS_PAGE),
                name="template_auto_post_status_page_only",
            )
        ]

    def __str__(self):
        return self.get_kind_display()


class Communication(models.Model):
    """One communication about an incident: drafted from a template, edited, then sent once."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="communications")
    kind = models.CharField(max_length=20, choices=CommunicationKind.choices)
    template = models.ForeignKey(CommunicationTemplate, on_delete=models.PROTECT, related_name="+")
    template_version = models.PositiveIntegerField()
    audience = models.ForeignKey(Audience, on_delete=models.PROTECT, related_name="+")
    subject = models.CharField(max_length=COMMUNICATION_SUBJECT_MAX_LENGTH)
    body = models.TextField(max_length=COMMUNICATION_BODY_MAX_LENGTH)
    status = models.CharField(
        max_length=10, choices=CommunicationStatus.choices, default=CommunicationStatus.DRAFT
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        related_name="+",
        help_text="Empty when drafted by the system.",
    )
    drafted_on = models.ForeignKey(
        IncidentEvent,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The state change (its timeline event) this status page update was drafted "
        "on by the system; empty for a person's draft.",
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        related_name="+",
        help_text="Empty when sent by the system (a template that posts by itself).",
    )
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [("send_communication", "Can send any incident's communications")]
        constraints = [
            models.UniqueConstraint(fields=["drafted_on"], name="communication_once_per_change")
        ]

    def __str__(self):
        return f"{self.get_kind_display()} of {self.incident.number}"


class CommunicationRecipient(models.Model):
    """Who (or what) received a sent communication, and how."""

    communication = models.ForeignKey(
        Communication, on_delete=models.CASCADE, related_name="recipients"
    )
    kind = models.CharField(max_length=20, choices=RecipientKind.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    webhook = models.ForeignKey(ChatWebhook, on_delete=models.SET_NULL, null=True, related_name="+")
    address = models.CharField(max_length=254, blank=True, help_text="Email address or name.")

    class Meta:
        ordering = ["kind", "address"]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.address}"
