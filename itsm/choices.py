from django.db import models


class NotificationChannel(models.TextChoices):
    EMAIL = "email", "Email"
    SLACK = "slack", "Slack"
    TEAMS = "teams", "Microsoft Teams"
    IN_APP = "in_app", "In-app"


class NotificationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class ChatKind(models.TextChoices):
    SLACK = "slack", "Slack incoming webhook"
    TEAMS = "teams", "Microsoft Teams incoming webhook"


class AuthEventKind(models.TextChoices):
    LOGIN = "login", "Signed in"
    LOGOUT = "logout", "Signed out"
    LOGIN_FAILED = "login_failed", "Sign-in failed"
    LOCKED_OUT = "locked_out", "Locked out"
    TOKEN_USED = "token_used", "API token first used"
    TOKEN_CREATED = "token_created", "API token created"
    TOKEN_REVOKED = "token_revoked", "API token revoked"


class WebhookEvent(models.TextChoices):
    """What an outbound webhook subscription may receive (docs/webhooks.md)."""

    INCIDENT_CREATED = "incident.created", "Incident created"
    INCIDENT_TRANSITIONED = "incident.transitioned", "Incident transitioned"
    INCIDENT_PRIORITY_CHANGED = "incident.priority_changed", "Incident priority changed"
    INCIDENT_NOTE_ADDED = "incident.note_added", "Note added to an incident"
    MAJOR_INCIDENT_DECLARED = "major_incident.declared", "Major incident declared"
    MAJOR_INCIDENT_RESOLVED = "major_incident.resolved", "Major incident resolved"
    SLA_WARNED = "sla.warned", "SLA warning"
    SLA_BREACHED = "sla.breached", "SLA breached"
    POSTMORTEM_PUBLISHED = "postmortem.published", "Post-incident review published"


class WebhookDeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"  # stopped for good: the subscription was disabled or deleted
    GAVE_UP = "gave_up", "Gave up"  # every retry failed


class OutboxStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"  # every attempt failed: see last_error, "Retry now" in the admin
