"""Paging people about an incident now, and adding them to it as responders: from the incident
page or the API, by a person who works incidents.

Who is paged is resolved as an escalation level resolves its targets (a schedule means whoever
is on call for it now). A page is a high-urgency message, sent like an escalation page (in-app
and email, through itsm.notifications) with the acknowledge link while the incident is new, and
is written on the incident's timeline.
"""

from django.db import transaction
from django.utils import timezone

from incidents.choices import EventType
from incidents.messages import notification_message
from incidents.models import (
    REASON_MAX_LENGTH,
    WORK_PERMISSION,
    Incident,
    IncidentEvent,
    IncidentResponder,
)
from incidents.oncall import escalation
from incidents.timeline import incident_record_event
from itsm.errors import InvalidTransition, PermissionDeniedError, ValidationFailed
from itsm.templatetags.people import display_name
from itsm.validation import one_text

NOBODY = "Choose whom to page: a person, a team or a schedule."


def _lock_open(incident: Incident, actor) -> Incident:
    """The incident, locked, once the actor may work it and it is still open."""
    if actor is None or not actor.has_perm(WORK_PERMISSION):
        raise PermissionDeniedError("You do not have permission to do this.")
    incident = Incident.objects.select_for_update(of=("self",)).get(pk=incident.pk)
    if not incident.is_open:
        raise InvalidTransition(
            f"{incident.number} is {incident.get_status_display().lower()}; "
            "nobody can be paged about it any more."
        )
    return incident


def _people(*, users, teams, schedules) -> list:
    """Everyone the targets name, now; a 400 when they name nobody."""
    users, teams, schedules = list(users), list(teams), list(schedules)
    if not (users or teams or schedules):
        raise ValidationFailed.for_fields({"targets": NOBODY})
    people = escalation.people_to_page(
        users=users, teams=teams, schedules=schedules, at=timezone.now()
    )
    if not people:
        raise ValidationFailed.for_fields(
            {"targets": "Nobody to page: no active member, and nobody on call now."}
        )
    return people


def _begin(incident: Incident, actor, *, message: str, users, teams, schedules) -> tuple:
    """What a page and an addition start with: the open incident locked (once the actor may
    work it), the message checked, the people the targets name resolved."""
    incident = _lock_open(incident, actor)
    message = one_text("message", message, required=False, max_length=REASON_MAX_LENGTH)
    return incident, message, _people(users=users, teams=teams, schedules=schedules)


def _record(
    incident: Incident, *, type: str, actor, source: str, summary: str, message: str, **data
):
    """The timeline event of a page or an addition, with the message said after the summary."""
    return incident_record_event(
        incident=incident,
        type=type,
        actor=actor,
        source=source,
        summary=summary + (f": {message}" if message else ""),
        data={**data, "message": message},
    )


def _names(people) -> str:
    return ", ".join(display_name(person) for person in people)


def _send(incident: Incident, people, *, actor, message: str, event: IncidentEvent) -> None:
    # Imported when paging, as incidents.oncall.escalation does: creating an incident needs no chat
    # clients.
    from itsm.notifications import notify

    note = f"\n\n{display_name(actor)} says: {message}" if message else ""
    body = (
        f"{display_name(actor)} pages you about {incident.number} ({incident.priority}, "
        f"{incident.get_status_display().lower()}).{note}\n\n{incident.title}"
    )
    notify(
        recipients=people,
        **notification_message(
            incident,
            headline=f"paged by {display_name(actor)}: {incident.title}",
            body=body,
            dedupe_key=f"page:{event.pk}",
            paged_by=actor.get_username(),
        ),
    )


@transaction.atomic
def incident_page(
    *, incident: Incident, actor, source: str, users=(), teams=(), schedules=(), message: str = ""
) -> IncidentEvent:
    """Page people now: `users`, the members of `teams` and whoever is on call for `schedules`
    (each once), with an optional message. Returns the timeline event that records it."""
    incident, message, people = _begin(
        incident, actor, message=message, users=users, teams=teams, schedules=schedules
    )
    event = _record(
        incident,
        type=EventType.PAGE,
        actor=actor,
        source=source,
        summary=f"Paged {_names(people)}",
        message=message,
        paged=[person.get_username() for person in people],
    )
    _send(incident, people, actor=actor, message=message, event=event)
    return event


@transaction.atomic
def incident_add_responders(
    *, incident: Incident, actor, source: str, users=(), teams=(), schedules=(), message: str = ""
) -> list[IncidentResponder]:
    """Add people to the incident as responders (whom the targets name now, as for a page) and
    page them; the actor is added but not paged. People already responding are left out; when
    that leaves nobody, a 400 says so. Returns the responders added."""
    incident, message, people = _begin(
        incident, actor, message=message, users=users, teams=teams, schedules=schedules
    )
    already = set(incident.responders.values_list("user_id", flat=True))
    fresh = [person for person in people if person.pk not in already]
    if not fresh:
        raise ValidationFailed.for_fields({"targets": f"Already responding: {_names(people)}."})
    added = [_add(incident, person, actor=actor) for person in fresh]
    paged = [person for person in fresh if person != actor]
    event = _record(
        incident,
        type=EventType.RESPONDERS,
        actor=actor,
        source=source,
        summary=f"Added {_names(fresh)} as responders",
        message=message,
        added=[{"username": p.get_username(), "name": display_name(p)} for p in fresh],
        paged=[person.get_username() for person in paged],
    )
    if paged:
        _send(incident, paged, actor=actor, message=message, event=event)
    return added


def _add(incident: Incident, user, *, actor) -> IncidentResponder:
    responder = IncidentResponder(incident=incident, user=user, added_by=actor)
    responder._history_user = actor
    responder.save()
    return responder
