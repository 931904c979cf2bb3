"""Every write of stakeholder communications (docs/communications.md): templates edited (each
edit a new version, checked by rendering it against example facts first); communications
drafted from an incident, edited while a draft, and sent once to their audience.

Each write is atomic and locks the incident's row first, then the communication's. Responders
(and managers) draft and edit; the communications lead or incident commander of the incident's
live war room and managers send (the same people who post its status page updates)."""

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from incidents import services as incident_services
from incidents import sla
from incidents.choices import EventType, IncidentStatus
from incidents.models import Incident
from incidents.services import change_reason
from itsm.errors import ConflictError, PermissionDeniedError
from itsm.notifications import AddressedEmail, notify, notify_addresses, notify_chat
from itsm.validation import choice, clean_text, raise_if
from warroom.choices import (
    CommunicationKind,
    CommunicationStatus,
    RecipientKind,
    StatusIncidentStatus,
)
from warroom.communications import ai
from warroom.communications.rendering import (
    incident_variables,
    render_template,
    sample_variables,
)
from warroom.models import (
    COMMUNICATION_BODY_MAX_LENGTH,
    COMMUNICATION_SUBJECT_MAX_LENGTH,
    DRAFT_COMMUNICATION_PERMISSION,
    TEMPLATE_BODY_MAX_LENGTH,
    TEMPLATE_SUBJECT_MAX_LENGTH,
    Audience,
    Communication,
    CommunicationRecipient,
    CommunicationTemplate,
)
from warroom.status.services import may_post_status, status_update_post

UNSET = object()
SUMMARY_MAX_LENGTH = 300  # IncidentEvent.summary
# The public status an incident's status page update gives, from the incident's own status.
PUBLIC_STATUS = {
    IncidentStatus.MITIGATED: StatusIncidentStatus.MONITORING,
    IncidentStatus.RESOLVED: StatusIncidentStatus.RESOLVED,
    IncidentStatus.CLOSED: StatusIncidentStatus.RESOLVED,
}

CHANGE_TEMPLATE_PERMISSION = "warroom.change_communicationtemplate"


def _require(actor, perm: str, what: str) -> None:
    if not actor.has_perm(perm):
        raise PermissionDeniedError(f"You may not {what}.")


@transaction.atomic
def template_update(
    *, template: CommunicationTemplate, actor, source: str, subject_template, body_template
) -> CommunicationTemplate:
    """Save a new version of `template`'s texts. A text that does not render (a sandbox
    escape, an unknown variable, a syntax error) is refused and nothing is written."""
    _require(actor, CHANGE_TEMPLATE_PERMISSION, "edit communication templates")
    errors: dict = {}
    subject = clean_text(
        errors,
        "subject_template",
        subject_template,
        required=True,
        max_length=TEMPLATE_SUBJECT_MAX_LENGTH,
    )
    body = clean_text(
        errors, "body_template", body_template, required=True, max_length=TEMPLATE_BODY_MAX_LENGTH
    )
    raise_if(errors)
    template = CommunicationTemplate.objects.select_for_update().get(pk=template.pk)
    if (subject, body) == (template.subject_template, template.body_template):
        return template
    template.subject_template, template.body_template = subject, body
    render_template(template, sample_variables())
    template.version += 1
    template.updated_by = actor
    template.updated_at = timezone.now()
    template._change_reason = change_reason(f"version {template.version}", actor, source)
    template._history_user = actor
    template.save()
    return template


# --- communications ---------------------------------------------------------------------------


def may_send(actor, incident: Incident) -> bool:
    """Managers, and the communications lead or incident commander of the live war room."""
    return may_post_status(actor, incident)


def _lock(communication: Communication) -> tuple[Incident, Communication]:
    incident = Incident.objects.select_for_update(of=("self",)).get(pk=communication.incident_id)
    locked = (
        Communication.objects.select_for_update(of=("self",))
        .select_related("audience")
        .get(pk=communication.pk)
    )
    return incident, locked


@transaction.atomic
def communication_draft(*, incident: Incident, kind, actor, source: str) -> Communication:
    """A draft of `kind` rendered from the incident's current state and timeline."""
    _require(actor, DRAFT_COMMUNICATION_PERMISSION, "draft communications")
    errors: dict = {}
    kind = choice(errors, "template", kind, CommunicationKind)
    raise_if(errors)
    return _draft(incident, kind, actor)


def _draft(incident: Incident, kind: str, actor) -> Communication:
    incident = Incident.objects.select_for_update(of=("self",)).get(pk=incident.pk)
    template = CommunicationTemplate.objects.select_related("audience").get(kind=kind)
    subject, body = render_template(template, incident_variables(incident))
    return Communication.objects.create(
        incident=incident,
        kind=kind,
        template=template,
        template_version=template.version,
        audience=template.audience,
        subject=subject[:COMMUNICATION_SUBJECT_MAX_LENGTH],
        body=body,
        created_by=actor,
    )


def _require_draft(communication: Communication) -> None:
    if communication.status != CommunicationStatus.DRAFT:
        raise ConflictError(f"This {communication.get_kind_display().lower()} was already sent.")


@transaction.atomic
def communication_update(
    *, communication: Communication, actor, source: str, subject=UNSET, body=UNSET
) -> Communication:
    """Edit a draft's subject or body (a sent communication is a 409)."""
    _require(actor, DRAFT_COMMUNICATION_PERMISSION, "edit communications")
    errors: dict = {}
    fields = {"subject": (subject, COMMUNICATION_SUBJECT_MAX_LENGTH)}
    fields["body"] = (body, COMMUNICATION_BODY_MAX_LENGTH)
    cleaned = {
        name: clean_text(errors, name, value, required=True, max_length=limit)
        for name, (value, limit) in fields.items()
        if value is not UNSET
    }
    raise_if(errors)
    _, communication = _lock(communication)
    _require_draft(communication)
    for name, value in cleaned.items():
        setattr(communication, name, " ".join(value.split()) if name == "subject" else value)
    communication.updated_at = timezone.now()
    communication.save()
    return communication


@transaction.atomic
def communication_send(*, communication: Communication, actor, source: str) -> Communication:
    """Send a draft to its audience through the notification machinery (and the status page),
    record who received it and a timeline event, and restart the stakeholder-update timer.
    Sending twice is a 409."""
    if not may_send(actor, communication.incident):
        raise PermissionDeniedError(
            "Only the communications lead, the incident commander and managers send."
        )
    return _send(communication, actor=actor, source=source)


@transaction.atomic
def communication_send_now(*, incident: Incident, kind: str, actor, source: str) -> Communication:
    """Draft `kind` and send it at once, for what the system sends on a trigger (a published
    review's PIR summary): the trigger's own permission was the check."""
    return _send(_draft(incident, kind, actor), actor=actor, source=source)


def _send(communication: Communication, *, actor, source: str) -> Communication:
    incident, communication = _lock(communication)
    _require_draft(communication)
    communication.status = CommunicationStatus.SENT
    communication.sent_by, communication.sent_at = actor, timezone.now()
    communication.save()
    recipients = _deliver(communication, incident, actor=actor, source=source)
    CommunicationRecipient.objects.bulk_create(recipients)
    _record_sent(communication, incident, actor=actor, source=source, count=len(recipients))
    if communication.kind != CommunicationKind.PIR_SUMMARY:
        sla.timers_on_public_update(incident=incident)
    return communication


def audience_people(audience: Audience, incident: Incident):
    """The active people `audience` names for `incident`: by name, team, role and, for the
    affected department heads, the members of the affected services' owner teams."""
    who = Q(pk__in=audience.users.values("pk")) | Q(teams__in=audience.teams.all())
    who |= Q(groups__in=audience.roles.all())
    if audience.affected_department_heads:
        owners = incident.services.values("owner_team")
        who |= Q(teams__in=owners)
    return get_user_model().objects.filter(who, is_active=True).distinct().order_by("username")


def _deliver(communication: Communication, incident: Incident, *, actor, source: str) -> list:
    audience, key = communication.audience, f"communication:{communication.pk}"
    message = {"subject": communication.subject, "body": communication.body}
    people = list(audience_people(audience, incident))
    notify(recipients=people, link=incident.get_absolute_url(), dedupe_key=key, **message)
    hooks = [hook for hook in audience.chat_webhooks.all() if hook.active]
    notify_chat(webhooks=hooks, link=incident.get_absolute_url(), dedupe_key=key, **message)
    emails = sorted(set(audience.emails))
    notify_addresses(
        AddressedEmail(to=address, dedupe_key=f"{key}:address:{address}", **message)
        for address in emails
    )
    rows = [
        CommunicationRecipient(kind=RecipientKind.PERSON, user=user, address=user.email)
        for user in people
    ]
    rows += [
        CommunicationRecipient(kind=RecipientKind.CHAT, webhook=h, address=h.name) for h in hooks
    ]
    rows += [CommunicationRecipient(kind=RecipientKind.EMAIL, address=a) for a in emails]
    if audience.status_page:
        _post_status_page(communication, incident, actor=actor, source=source)
        rows.append(CommunicationRecipient(kind=RecipientKind.STATUS_PAGE, address="status page"))
    for row in rows:
        row.communication = communication
    return rows


def _post_status_page(communication: Communication, incident: Incident, *, actor, source) -> None:
    status = PUBLIC_STATUS.get(incident.status, StatusIncidentStatus.INVESTIGATING)
    status_update_post(
        incident=incident, actor=actor, source=source, status=status, body=communication.body
    )


def _record_sent(communication: Communication, incident: Incident, *, actor, source, count):
    summary = (
        f"{communication.get_kind_display()} sent to {communication.audience.name} "
        f"({count} recipient{'s' if count != 1 else ''}): {communication.subject}"
    )
    incident_services.incident_record_event(
        incident=incident,
        type=EventType.COMMUNICATION,
        actor=actor,
        source=source,
        summary=summary[:SUMMARY_MAX_LENGTH],
        data={"communication": communication.pk, "kind": communication.kind},
        public=communication.audience.external,
    )


def communication_improve(
    *, communication: Communication, actor, source: str, subject=UNSET, body=UNSET
) -> Communication:
    """The draft's body rewritten by the configured AI endpoint from the incident's facts (a
    409 when it is not configured or the communication was sent, a 502 when the endpoint
    fails: the draft unchanged). The endpoint is called outside any transaction. `subject`
    and `body`, when given, are edits not saved yet (the portal's form): the endpoint rewrites
    them, and they are saved with its answer or, when it fails, not at all."""
    _require(actor, DRAFT_COMMUNICATION_PERMISSION, "edit communications")
    _require_draft(communication)
    edits = {} if subject is UNSET else {"subject": subject}
    facts = incident_variables(communication.incident)
    text = communication.body if body is UNSET else body
    body = ai.rewritten_body(facts, edits.get("subject", communication.subject), text)
    return communication_update(
        communication=communication, actor=actor, source=source, body=body, **edits
    )
