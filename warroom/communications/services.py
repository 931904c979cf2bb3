"""Every write of stakeholder communications (docs/communications.md): templates edited (each
edit a new version, checked by rendering it against example facts first); communications
drafted from an incident, edited while a draft, and sent once to their audience; and the status
page update the system drafts (and may send) on each public state change of a public incident.

Each write is atomic and locks the incident's row first, then the communication's. Responders
(and managers) draft and edit; the communications lead or incident commander of the incident's
live war room and managers send (the same people who post its status page updates); the system
(actor None) drafts and sends automatic status page updates."""

import logging

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from incidents.choices import ChangeSource, EventType
from incidents.models import Incident, IncidentEvent
from incidents.services import change_reason
from incidents.sla import services as sla
from incidents.timeline import incident_record_event
from itsm.errors import ConflictError, PermissionDeniedError
from itsm.notifications import AddressedEmail, notify, notify_addresses, notify_chat
from itsm.validation import choice, clean_text, raise_if
from warroom.choices import (
    PUBLIC_STATUS_OF,
    CommunicationKind,
    CommunicationStatus,
    RecipientKind,
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
    StatusIncident,
)
from warroom.status.services import may_post_status, status_update_post

log = logging.getLogger(__name__)
UNSET = object()
SUMMARY_MAX_LENGTH = 300  # IncidentEvent.summary

CHANGE_TEMPLATE_PERMISSION = "warroom.change_communicationtemplate"


def _require(actor, perm: str, what: str) -> None:
    if not actor.has_perm(perm):
        raise PermissionDeniedError(f"You may not {what}.")


@transaction.atomic
def template_update(
    *,
    template: CommunicationTemplate,
    actor,
    source: str,
    subject_template,
    body_template,
    auto_post=UNSET,
) -> CommunicationTemplate:
    """Save a new version of `template`'s texts (and, for the status page update, whether it
    posts by itself: not a new version). A text that does not render (a sandbox escape, an
    unknown variable, a syntax error) is refused and nothing is written."""
    _require(actor, CHANGE_TEMPLATE_PERMISSION, "edit communication templates")
    errors: dict = {}
    if auto_post is not UNSET and auto_post and template.kind != CommunicationKind.STATUS_PAGE:
        errors["auto_post"] = "Only the status page update posts by itself."
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
    changes = []
    stored = (template.subject_template.strip(), template.body_template.strip())
    if (subject, body) != stored:  # the shipped texts end in a newline that the form drops
        template.subject_template, template.body_template = subject, body
        render_template(template, sample_variables())
        template.version += 1
        changes.append(f"version {template.version}")
    if auto_post is not UNSET and bool(auto_post) != template.auto_post:
        template.auto_post = bool(auto_post)
        changes.append("posts by itself" if template.auto_post else "waits for a person")
    if not changes:
        return template
    template.updated_by = actor
    template.updated_at = timezone.now()
    template._change_reason = change_reason(", ".join(changes), actor, source)
    template._history_user = actor
    template.save()
    return template


# --- communications ---------------------------------------------------------------------------


def may_send(actor, incident: Incident) -> bool:
    """Managers, the communications lead or incident commander of the live war room, and the
    system (actor None: a template that posts by itself)."""
    return actor is None or may_post_status(actor, incident)


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
    return _draft_kind(incident, kind, actor)


def _draft_kind(incident: Incident, kind: str, actor) -> Communication:
    incident = Incident.objects.select_for_update(of=("self",)).get(pk=incident.pk)
    template = CommunicationTemplate.objects.select_related("audience").get(kind=kind)
    return _draft(incident, template, actor=actor)


def _draft(incident: Incident, template: CommunicationTemplate, *, actor, drafted_on=None):
    subject, body = render_template(template, incident_variables(incident))
    return Communication.objects.create(
        incident=incident,
        kind=template.kind,
        template=template,
        template_version=template.version,
        audience=template.audience,
        subject=subject[:COMMUNICATION_SUBJECT_MAX_LENGTH],
        body=body,
        created_by=actor,
        drafted_on=drafted_on,
    )


def _require_draft(communication: Communication) -> None:
    what = communication.get_kind_display().lower()
    if communication.status == CommunicationStatus.SUPERSEDED:
        raise ConflictError(
            f"This {what} was superseded: the incident's state changed since it was drafted."
        )
    if communication.status != CommunicationStatus.DRAFT:
        raise ConflictError(f"This {what} was already sent.")


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
    return _send(_draft_kind(incident, kind, actor), actor=actor, source=source)


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
    status_update_post(
        incident=incident,
        actor=actor,
        source=source,
        status=PUBLIC_STATUS_OF[incident.status],
        body=communication.body,
    )


def _record_sent(communication: Communication, incident: Incident, *, actor, source, count):
    summary = (
        f"{communication.get_kind_display()} sent to {communication.audience.name} "
        f"({count} recipient{'s' if count != 1 else ''}): {communication.subject}"
    )
    incident_record_event(
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


# --- drafted on each state change of a public incident ----------------------------------------


def changes_public_status(from_status: str, to_status: str) -> bool:
    """Whether a transition changes what the status page should say of an incident."""
    return PUBLIC_STATUS_OF[from_status] != PUBLIC_STATUS_OF[to_status]


@transaction.atomic
def status_page_draft_on_state_change(*, event_id: int) -> Communication | None:
    """The status page update the system drafts on a state change (its transition's timeline
    event) of a public incident, sent at once when its template posts by itself. Earlier unsent
    automatic drafts of the incident are superseded. Nothing when the incident is not on the
    status page, the change does not change its public status, the page says it already, the
    incident has moved on to another public status since (that change drafts), or this change
    (or a later one) has its draft: so a job run twice, or late, drafts once."""
    event = IncidentEvent.objects.filter(pk=event_id, type=EventType.TRANSITION).first()
    if event is None or not changes_public_status(event.data["from"], event.data["to"]):
        return None
    incident = Incident.objects.select_for_update(of=("self",)).get(pk=event.incident_id)
    public = StatusIncident.objects.filter(incident=incident).first()
    status = PUBLIC_STATUS_OF[incident.status]
    automatic = Communication.objects.filter(incident=incident, drafted_on__isnull=False)
    if (
        public is None
        or status != PUBLIC_STATUS_OF[event.data["to"]]
        or automatic.filter(drafted_on_id__gte=event.pk).exists()
    ):
        return None
    automatic.filter(status=CommunicationStatus.DRAFT).update(
        status=CommunicationStatus.SUPERSEDED, updated_at=timezone.now()
    )
    if public.status == status:
        return None
    template = CommunicationTemplate.objects.select_related("audience").get(
        kind=CommunicationKind.STATUS_PAGE
    )
    draft = _draft(incident, template, actor=None, drafted_on=event)
    if template.auto_post:
        _send_as_system(draft)
    return draft


def _send_as_system(draft: Communication) -> None:
    """Send an automatic draft; if that fails it stays a draft, for a person to send."""
    try:
        with transaction.atomic():
            communication_send(communication=draft, actor=None, source=ChangeSource.JOB)
    except Exception:
        log.exception("Could not post %s's status page update by itself", draft.incident.number)
