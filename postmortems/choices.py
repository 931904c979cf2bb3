"""Codes of the post-incident reviews and their action items."""

from django.db import models

# --- action items -------------------------------------------------------------------------------


class ActionItemPriority(models.TextChoices):
    """The priorities of the action items of the incident-response-workflow template."""

    P0 = "P0", "P0 – do now"
    P1 = "P1", "P1 – this sprint"
    P2 = "P2", "P2 – next quarter"


class ActionItemStatus(models.TextChoices):
    OPEN = "open", "Open"
    IN_PROGRESS = "in_progress", "In progress"
    DONE = "done", "Done"
    WONT_DO = "wont_do", "Won't do"


# Statuses of an item still to be done: past its due date, it is overdue.
PENDING_ACTION_STATUSES = (ActionItemStatus.OPEN, ActionItemStatus.IN_PROGRESS)


class ActionItemType(models.TextChoices):
    """The kinds of action of the Google SRE postmortem format."""

    PREVENT = "prevent", "Prevent"
    MITIGATE = "mitigate", "Mitigate"
    DETECT = "detect", "Detect"
    PROCESS = "process", "Process"


class NagKind(models.TextChoices):
    OWNER = "owner", "Item owner (daily)"
    REVIEW_OWNER = "review_owner", "Review owner (weekly)"


# --- end of action items ------------------------------------------------------------------------
