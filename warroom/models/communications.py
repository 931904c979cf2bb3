"""Stakeholder communications: the templates they are drafted from (docs/communications.md).

A template is edited in place, each edit raising its `version`; its history keeps every
version's text, and a draft records the version it was rendered from."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from simple_history.models import HistoricalRecords

from warroom.choices import CommunicationKind

__all__ = [
    "TEMPLATE_BODY_MAX_LENGTH",
    "TEMPLATE_SUBJECT_MAX_LENGTH",
    "CommunicationTemplate",
]

TEMPLATE_SUBJECT_MAX_LENGTH = 500
TEMPLATE_BODY_MAX_LENGTH = 10_000


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

    history = HistoricalRecords()

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return self.get_kind_display()
