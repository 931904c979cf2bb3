from django.db import models


class IncidentStatus(models.TextChoices):
    NEW = "new", "New"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    INVESTIGATING = "investigating", "Investigating"
    ON_HOLD = "on_hold", "On hold"
    MITIGATED = "mitigated", "Mitigated"
    RESOLVED = "resolved", "Resolved"
    CLOSED = "closed", "Closed"
    CANCELLED = "cancelled", "Cancelled"


OPEN_STATUSES = (
    IncidentStatus.NEW,
    IncidentStatus.ACKNOWLEDGED,
    IncidentStatus.INVESTIGATING,
    IncidentStatus.ON_HOLD,
    IncidentStatus.MITIGATED,
)
# Statuses nothing follows; lists hide them unless asked.
FINAL_STATUSES = (IncidentStatus.CLOSED, IncidentStatus.CANCELLED)


class Priority(models.TextChoices):
    P1 = "P1", "P1 – critical"
    P2 = "P2", "P2 – high"
    P3 = "P3", "P3 – moderate"
    P4 = "P4", "P4 – low"


class Impact(models.IntegerChoices):
    """ITIL impact: 1 is the widest. The numbers are the scale itself, not positions."""

    HIGH = 1, "1 – high"
    MEDIUM = 2, "2 – medium"
    LOW = 3, "3 – low"


class Urgency(models.IntegerChoices):
    HIGH = 1, "1 – high"
    MEDIUM = 2, "2 – medium"
    LOW = 3, "3 – low"


class IncidentSource(models.TextChoices):
    PORTAL = "portal", "Portal"
    API = "api", "API"
    ALERT = "alert", "Monitoring alert"
    EMAIL = "email", "Email"
    CUSTOMER_REPORT = "customer_report", "Customer report"


class ChangeSource(models.TextChoices):
    """Where a change came from, recorded on every timeline event."""

    PORTAL = "portal", "Portal"
    API = "api", "API"
    ADMIN = "admin", "Admin"
    JOB = "job", "Job"
    CLI = "cli", "Command line"
    ALERT = "alert", "Monitoring alert"


class ResolutionCode(models.TextChoices):
    FIXED = "fixed", "Fixed"
    WORKAROUND = "workaround", "Workaround applied"
    ROLLBACK = "rollback", "Change rolled back"
    CONFIGURATION = "configuration", "Configuration corrected"
    CAPACITY = "capacity", "Capacity added"
    HARDWARE = "hardware", "Hardware replaced"
    THIRD_PARTY = "third_party", "Resolved by third party"
    SELF_RECOVERED = "self_recovered", "Recovered without intervention"
    NOT_REPRODUCIBLE = "not_reproducible", "Could not reproduce"
    AUTO_RESOLVED = "auto_resolved", "Resolved automatically: its alerts cleared"


class CancelReason(models.TextChoices):
    FALSE_POSITIVE = "false_positive", "False positive"
    DUPLICATE = "duplicate", "Duplicate"
    OTHER = "other", "Other"


class ServiceTier(models.TextChoices):
    TIER_1 = "tier_1", "Tier 1 – mission critical"
    TIER_2 = "tier_2", "Tier 2 – business critical"
    TIER_3 = "tier_3", "Tier 3 – business operational"
    TIER_4 = "tier_4", "Tier 4 – administrative"


class ChecklistItem(models.TextChoices):
    """The closure checklist of the incident-workflow-guide; every item must be ticked to close."""

    SERVICE_RESTORED = "service_restored", "Service fully restored"
    ROOT_CAUSE = "root_cause", "Root cause identified or problem record created"
    ACTIONS_DOCUMENTED = "actions_documented", "Actions documented"
    USERS_NOTIFIED = "users_notified", "Users notified"
    MONITORING_STABLE = "monitoring_stable", "Monitoring confirms stability"
    FOLLOWUPS_CREATED = "followups_created", "Follow-up actions created"
    KB_UPDATED = "kb_updated", "Knowledge base updated"


class EventType(models.TextChoices):
    CREATED = "created", "Created"
    TRANSITION = "transition", "Status change"
    FIELD_CHANGE = "field_change", "Fields changed"
    PRIORITY_CHANGE = "priority_change", "Priority changed"
    NOTE = "note", "Note"
    CHECKLIST = "checklist", "Checklist"
    NOTIFICATION = "notification", "Notification"
    SLA = "sla", "SLA"
    ESCALATION = "escalation", "Escalation"
    WARROOM = "warroom", "War room"
    COMMUNICATION = "communication", "Communication"
    PAGE = "page", "Page"
    RESPONDERS = "responders", "Responders added"
    REVIEW = "review", "Post-incident review"
    ACTION_ITEM = "action_item", "Action item"
    ALERT = "alert", "Alert"


class Transition(models.TextChoices):
    """The lifecycle's transitions, in SPEC §1's order; values are the model's method names."""

    ACKNOWLEDGE = "acknowledge", "Acknowledge"
    START = "start", "Start investigating"
    HOLD = "hold", "Put on hold"
    RESUME = "resume", "Resume"
    MITIGATE = "mitigate", "Mitigate"
    RESOLVE = "resolve", "Resolve"
    REOPEN = "reopen", "Reopen"
    CLOSE = "close", "Close"
    CANCEL = "cancel", "Cancel"


class SlaKind(models.TextChoices):
    """What an SLA timer measures, from the incident's start."""

    ACKNOWLEDGE = "acknowledge", "Acknowledge"
    RESPOND = "respond", "Respond"
    MITIGATE = "mitigate", "Mitigate"
    RESOLVE = "resolve", "Resolve"
    UPDATE = "update", "Stakeholder update"


class SlaTimerState(models.TextChoices):
    RUNNING = "running", "Running"
    PAUSED = "paused", "Paused"
    MET = "met", "Met"
    BREACHED = "breached", "Breached"
    CANCELLED = "cancelled", "Cancelled"


class DeadlineKind(models.TextChoices):
    WARNING = "warning", "Warning"
    BREACH = "breach", "Breach"


class Weekday(models.IntegerChoices):
    MONDAY = 0, "Monday"
    TUESDAY = 1, "Tuesday"
    WEDNESDAY = 2, "Wednesday"
    THURSDAY = 3, "Thursday"
    FRIDAY = 4, "Friday"
    SATURDAY = 5, "Saturday"
    SUNDAY = 6, "Sunday"


class IntegrationKind(models.TextChoices):
    """What a monitoring integration receives: the sender's own format, unchanged."""

    ALERTMANAGER = "alertmanager", "Prometheus Alertmanager"
    GRAFANA = "grafana", "Grafana alerting"
    PAGERDUTY = "pagerduty", "PagerDuty Events API v2"
    GENERIC = "generic", "Generic JSON"


class RefireAction(models.TextChoices):
    """What an alert firing again does once its incident is resolved."""

    NEW_INCIDENT = "new_incident", "Open a new incident"
    REOPEN = "reopen", "Reopen the resolved incident"


class ClearAction(models.TextChoices):
    """What an incident becomes when every alert of its group has resolved."""

    MITIGATE = "mitigate", "Mitigate it"
    RESOLVE = "resolve", "Resolve it"


class AlertStatus(models.TextChoices):
    FIRING = "firing", "Firing"
    RESOLVED = "resolved", "Resolved"


class PayloadOutcome(models.TextChoices):
    """What became of a payload an integration received. A payload that passes the checks is
    kept `pending` and answered at once; the worker then applies it (`accepted`), or `failed`
    when applying it raised (kept for a replay once the cause is fixed)."""

    PENDING = "pending", "Pending"
    ACCEPTED = "accepted", "Accepted"
    FAILED = "failed", "Failed"
    INVALID = "invalid", "Invalid"
    BAD_SIGNATURE = "bad_signature", "Bad signature"
    THROTTLED = "throttled", "Throttled"
