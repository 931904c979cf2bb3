"""Codes of the war room: states, roles, triggers, rule kinds."""

from django.db import models


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


class RuleKind(models.TextChoices):
    UNACKNOWLEDGED = "unacknowledged", "Not acknowledged within N minutes"
    AFFECTED_USERS = "affected_users", "More than N affected users (dependency graph)"


class MajorTransition(models.TextChoices):
    RESOLVE = "resolve", "Resolve"
    REOPEN = "reopen", "Reopen"
    CLOSE = "close", "Close"
    DEMOTE = "demote", "Demote"
    REDECLARE = "redeclare", "Declare again"
