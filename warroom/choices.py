"""Codes of the war room: states, roles, triggers, rule kinds."""

from django.db import models

from incidents.choices import IncidentStatus


class MajorIncidentState(models.TextChoices):
    ACTIVE = "active", "Active"
    RESOLVED = "resolved", "Resolved"
    CLOSED = "closed", "Closed"
    DEMOTED = "demoted", "Demoted"


class WarRoomRole(models.TextChoices):
    INCIDENT_COMMANDER = "incident_commander", "Incident commander"
    TECHNICAL_LEAD = "technical_lead", "Technical lead"
    COMMUNICATIONS_LEAD = "communications_lead", "Communications lead"
    SCRIBE = "scribe", "Scribe"
    INTERNAL_LIAISON = "internal_liaison", "Internal liaison"
    SME = "sme", "Subject-matter expert"


# Roles one person holds at a time; assigning one hands it over. Experts may be many.
SINGLE_HOLDER_ROLES = tuple(r for r in WarRoomRole if r != WarRoomRole.SME)


class DeclarationTrigger(models.TextChoices):
    MANUAL = "manual", "Declared by a person"
    UNACKNOWLEDGED = "unacknowledged", "Not acknowledged in time"
    AFFECTED_USERS = "affected_users", "Too many affected users"
    ALERT_RULE = "alert_rule", "An alert routing rule"


class RuleKind(models.TextChoices):
    UNACKNOWLEDGED = "unacknowledged", "Not acknowledged within N minutes"
    AFFECTED_USERS = "affected_users", "More than N affected users (dependency graph)"


class MajorTransition(models.TextChoices):
    RESOLVE = "resolve", "Resolve"
    REOPEN = "reopen", "Reopen"
    CLOSE = "close", "Close"
    DEMOTE = "demote", "Demote"
    REDECLARE = "redeclare", "Declare again"


# --- the public status page: the values of Atlassian Statuspage's public API (v2) -------------


class ComponentStatus(models.TextChoices):
    """A status page component's state."""

    OPERATIONAL = "operational", "Operational"
    DEGRADED_PERFORMANCE = "degraded_performance", "Degraded performance"
    PARTIAL_OUTAGE = "partial_outage", "Partial outage"
    MAJOR_OUTAGE = "major_outage", "Major outage"
    UNDER_MAINTENANCE = "under_maintenance", "Under maintenance"


# How bad each state is, to pick the worst of several (maintenance is planned: below any outage).
COMPONENT_SEVERITY = {
    ComponentStatus.OPERATIONAL: 0,
    ComponentStatus.UNDER_MAINTENANCE: 1,
    ComponentStatus.DEGRADED_PERFORMANCE: 2,
    ComponentStatus.PARTIAL_OUTAGE: 3,
    ComponentStatus.MAJOR_OUTAGE: 4,
}


class StatusIncidentStatus(models.TextChoices):
    """Where a public incident stands, as its status page updates say."""

    INVESTIGATING = "investigating", "Investigating"
    IDENTIFIED = "identified", "Identified"
    MONITORING = "monitoring", "Monitoring"
    RESOLVED = "resolved", "Resolved"


# The public status an incident's state gives its status page updates (docs/communications.md,
# "Drafted on each state change"). `identified` is never derived: no state of an incident says
# its cause is known, so a person posts it.
PUBLIC_STATUS_OF = {
    IncidentStatus.NEW: StatusIncidentStatus.INVESTIGATING,
    IncidentStatus.ACKNOWLEDGED: StatusIncidentStatus.INVESTIGATING,
    IncidentStatus.INVESTIGATING: StatusIncidentStatus.INVESTIGATING,
    IncidentStatus.ON_HOLD: StatusIncidentStatus.INVESTIGATING,
    IncidentStatus.MITIGATED: StatusIncidentStatus.MONITORING,
    IncidentStatus.RESOLVED: StatusIncidentStatus.RESOLVED,
    IncidentStatus.CLOSED: StatusIncidentStatus.RESOLVED,
    IncidentStatus.CANCELLED: StatusIncidentStatus.RESOLVED,
}


class MaintenanceStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    IN_PROGRESS = "in_progress", "In progress"
    VERIFYING = "verifying", "Verifying"
    COMPLETED = "completed", "Completed"


# A maintenance puts its components under maintenance while it is in one of these.
ACTIVE_MAINTENANCE = (MaintenanceStatus.IN_PROGRESS, MaintenanceStatus.VERIFYING)


class Indicator(models.TextChoices):
    """The page's status indicator, and an incident's impact."""

    NONE = "none", "All Systems Operational"
    MINOR = "minor", "Partially Degraded Service"
    MAJOR = "major", "Partial System Outage"
    CRITICAL = "critical", "Major System Outage"


# The indicator a component's state raises the page to (maintenance alone raises nothing).
INDICATOR_OF = {
    ComponentStatus.OPERATIONAL: Indicator.NONE,
    ComponentStatus.UNDER_MAINTENANCE: Indicator.NONE,
    ComponentStatus.DEGRADED_PERFORMANCE: Indicator.MINOR,
    ComponentStatus.PARTIAL_OUTAGE: Indicator.MAJOR,
    ComponentStatus.MAJOR_OUTAGE: Indicator.CRITICAL,
}


class CommunicationKind(models.TextChoices):
    """The update types of major-incident-management.txt's table, in the order they are sent."""

    INITIAL = "initial", "Initial notification"
    UPDATE = "update", "Status update"
    STATUS_PAGE = "status_page", "Status page update"
    RESOLUTION = "resolution", "Resolution notice"
    PIR_SUMMARY = "pir_summary", "PIR summary"


class CommunicationStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SENT = "sent", "Sent"
    # An automatic status page draft that a later state change of its incident outdated.
    SUPERSEDED = "superseded", "Superseded"


class RecipientKind(models.TextChoices):
    """How one recipient of a sent communication was reached."""

    PERSON = "person", "Person (email and in-app)"
    EMAIL = "email", "Email address"
    CHAT = "chat", "Chat channel"
    STATUS_PAGE = "status_page", "Public status page"
