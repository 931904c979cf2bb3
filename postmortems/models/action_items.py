"""Action items: what a post-incident review decides to do so that it does not happen again,
and the record of each reminder sent about an overdue one."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

from incidents.models import Incident
from postmortems.choices import (
    PENDING_ACTION_STATUSES,
    ActionItemPriority,
    ActionItemStatus,
    ActionItemType,
    NagKind,
)

ACTION_TITLE_MAX_LENGTH = 200
ACTION_DESCRIPTION_MAX_LENGTH = 10_000
WONT_DO_REASON_MAX_LENGTH = 500
TRACKER_URL_MAX_LENGTH = 500
TRACKER_KEY_MAX_LENGTH = 100
VIEW_ACTION_ITEM = "postmortems.view_actionitem"
ADD_ACTION_ITEM = "postmortems.add_actionitem"
CHANGE_ACTION_ITEM = "postmortems.change_actionitem"
WONT_DO_NEEDS_REASON = "Say why the item will not be done."

DONE = ActionItemStatus.DONE
WONT_DO = ActionItemStatus.WONT_DO


__all__ = ["ActionItem", "ActionItemNag"]


class ActionItem(models.Model):
    """One action item of an incident's review (a review's items are its incident's)."""

    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="action_items")
    title = models.CharField(max_length=ACTION_TITLE_MAX_LENGTH)
    description = models.TextField(blank=True)
    priority = models.CharField(
        max_length=2, choices=ActionItemPriority.choices, default=ActionItemPriority.P1
    )
    type = models.CharField(
        max_length=10, choices=ActionItemType.choices, default=ActionItemType.PREVENT
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="action_items"
    )
    due_date = models.DateField()
    status = models.CharField(
        max_length=12, choices=ActionItemStatus.choices, default=ActionItemStatus.OPEN
    )
    wont_do_reason = models.CharField(
        "reason for not doing it", max_length=WONT_DO_REASON_MAX_LENGTH, blank=True
    )
    tracker_url = models.URLField("tracker link", max_length=TRACKER_URL_MAX_LENGTH, blank=True)
    tracker_key = models.CharField(
        max_length=TRACKER_KEY_MAX_LENGTH, blank=True, help_text="The issue's key, e.g. OPS-123."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["due_date", "id"]
        indexes = [
            # The nag job and `overdue=true`: pending items by due date, nothing else scanned.
            models.Index(
                fields=["due_date"],
                condition=Q(status__in=PENDING_ACTION_STATUSES),
                name="action_item_pending_due_idx",
            ),
            models.Index(fields=["owner", "status", "due_date"], name="action_item_owner_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status=WONT_DO) | ~Q(wont_do_reason=""),
                name="action_item_wont_do_has_reason",
                violation_error_message=WONT_DO_NEEDS_REASON,
            ),
            models.CheckConstraint(
                condition=Q(status=DONE, completed_at__isnull=False)
                | (~Q(status=DONE) & Q(completed_at__isnull=True)),
                name="action_item_completed_when_done",
            ),
        ]

    def __str__(self):
        return self.title

    def is_overdue(self, today) -> bool:
        return self.status in PENDING_ACTION_STATUSES and self.due_date < today


class ActionItemNag(models.Model):
    """One reminder about one overdue item, sent to one person for one day (an owner's daily
    nag) or one week (a review owner's weekly nag, `day` being the week's Monday). Unique, and
    written in the transaction that writes the notification, so a second run of the job, or a
    second worker, sends nothing more."""

    item = models.ForeignKey(ActionItem, on_delete=models.CASCADE, related_name="nags")
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    kind = models.CharField(max_length=12, choices=NagKind.choices)
    day = models.DateField()
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["day", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["item", "recipient", "kind", "day"], name="action_item_nag_once"
            )
        ]
        indexes = [models.Index(fields=["recipient", "kind", "day"], name="nag_recipient_day_idx")]

    def __str__(self):
        return f"{self.get_kind_display()} nag of {self.recipient_id} on {self.day}"
