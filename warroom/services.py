"""Every write of the war room.

Like the incident core's services, each is atomic, locks the major incident's row, records what
happened on the incident's timeline (so every open page and the post-incident review see it),
and publishes to live pages only after the transaction commits. Stakeholders may watch a war
room; writing in one needs `warroom.work_warroom`; declaring and demoting need
`warroom.declare_majorincident` (ITSM managers and super admins).
"""

from functools import partial
from urllib.parse import urlsplit

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django_fsm import can_proceed

from incidents import services as incident_services
from incidents.choices import ChangeSource, EventType, Priority
from incidents.models import MAX_AFFECTED_USERS, Incident, IncidentEvent
from incidents.services import actor_label, change_reason
from incidents.timeline import incident_record_event
from itsm import realtime
from itsm.errors import ConflictError, InvalidTransition, NotFoundError, PermissionDeniedError
from itsm.notifications import notify
from itsm.roles import Role
from itsm.templatetags.people import display_name
from itsm.validation import choice, clean_text, one_text, raise_if, typed_text, version_number
from warroom import selectors, webhook_events
from warroom.choices import (
    SINGLE_HOLDER_ROLES,
    DeclarationTrigger,
    MajorIncidentState,
    RuleKind,
    WarRoomRole,
)
from warroom.merge import merge
from warroom.models import (
    BRIDGE_LINK_MAX_LENGTH,
    DECLARE_PERMISSION,
    REASON_MAX_LENGTH,
    SCRATCHPAD_MAX_LENGTH,
    STATEMENT_MAX_LENGTH,
    TASK_TITLE_MAX_LENGTH,
    WORK_PERMISSION,
    BridgeAttendance,
    DeclarationRule,
    MajorIncident,
    Presence,
    RoleAssignment,
    ScratchpadRevision,
    WarRoomTask,
)

S = MajorIncidentState
UNSET = object()


def warroom_group(number: str) -> str:
    return realtime.group_name("warroom", number)


# --- helpers ---------------------------------------------------------------------------------


def _check_perm(actor, perm: str, what: str) -> None:
    """Rules act as the system (actor None); people need the permission."""
    if actor is not None and not actor.has_perm(perm):
        raise PermissionDeniedError(f"You may not {what}.")


def _lock(major: MajorIncident) -> MajorIncident:
    return (
        MajorIncident.objects.select_for_update(of=("self",))
        .select_related("incident", "manager")
        .get(pk=major.pk)
    )


def _require_live(major: MajorIncident) -> None:
    if not major.is_live:
        raise InvalidTransition(
            f"The war room of {major.number} is {major.get_state_display().lower()}; "
            "it takes no more changes."
        )


def _save(major: MajorIncident, *, actor, source: str, reason: str) -> None:
    major._change_reason = change_reason(reason, actor, source)
    major._history_user = actor
    major.save()


def _record(major: MajorIncident, *, actor, source: str, summary: str, **data) -> IncidentEvent:
    return incident_record_event(
        incident=major.incident,
        type=EventType.WARROOM,
        actor=actor,
        source=source,
        summary=summary,
        data=data,
    )


def _publish(major: MajorIncident, kind: str) -> None:
    """After commit, send every open page of the room the new state of one part of it, read
    fresh so that the last message always wins. Robust: the write committed, so a failure to
    read the part (the database gone right after the commit) is logged, not answered as a
    500; the part's next change, or a page's next resync, brings it."""
    pk, number = major.pk, major.number

    def send_room_part():
        _send_part(pk, number, kind)

    transaction.on_commit(send_room_part, robust=True)


PARTS = {
    "major_incident": selectors.major_incident_payload,
    "roles": selectors.roles_payload,
    "tasks": selectors.tasks_payload,
    "bridge": selectors.bridge_payload,
    "presence": selectors.present_users,
}


def _send_part(pk: int, number: str, kind: str) -> None:
    major = selectors.major_incident_queryset().filter(pk=pk).first()
    if major is None:
        return
    payload = {"kind": kind, "incident": number, kind: PARTS[kind](major)}
    realtime.publish(warroom_group(number), payload)


def is_staff_user(user) -> bool:
    return user.is_active and user.has_perm(WORK_PERMISSION)


def _clean_bridge_link(errors: dict, name: str, value) -> str:
    link = clean_text(errors, name, value, required=False, max_length=BRIDGE_LINK_MAX_LENGTH)
    if link and (urlsplit(link).scheme not in ("http", "https") or not urlsplit(link).netloc):
        errors[name] = "Enter an http:// or https:// link."
    return link


def _managers_to_tell(major: MajorIncident):
    """The major incident manager and every ITSM manager."""
    users = get_user_model().objects.filter(is_active=True)
    return users.filter(Q(groups__name=Role.ITSM_MANAGER) | Q(pk=major.manager_id)).distinct()


def _tell(recipients, *, major: MajorIncident, subject: str, body: str, key: str) -> None:
    notify(
        recipients=recipients,
        subject=f"[{major.number}] {subject}",
        body=body,
        link=major.get_absolute_url(),
        context={"incident": major.number},
        dedupe_key=f"warroom:{major.number}:{key}",
    )


# --- declaring and following the incident ----------------------------------------------------


@transaction.atomic
def major_incident_declare(
    *,
    incident: Incident,
    actor,
    source: str,
    manager,
    initial_impact_statement: str,
    bridge_link: str = "",
    trigger: str = DeclarationTrigger.MANUAL,
    trigger_detail: str = "",
) -> MajorIncident:
    """Declare `incident` a major incident and open its war room (or reopen the room of a
    demoted one). 409 when it is one already or is no longer open."""
    _check_perm(actor, DECLARE_PERMISSION, "declare major incidents")
    errors: dict = {}
    statement = clean_text(
        errors,
        "initial_impact_statement",
        initial_impact_statement,
        required=True,
        max_length=STATEMENT_MAX_LENGTH,
    )
    link = _clean_bridge_link(errors, "bridge_link", bridge_link)
    if manager is not None and not is_staff_user(manager):
        errors["major_incident_manager"] = f"{manager.get_username()} is not active staff."
    raise_if(errors)
    incident = Incident.objects.select_for_update(of=("self",)).get(pk=incident.pk)
    if not incident.is_open:
        raise ConflictError(
            f"{incident.number} is {incident.get_status_display().lower()}; "
            "only an open incident can be declared major."
        )
    major = MajorIncident.objects.select_for_update().filter(incident=incident).first()
    if major is not None and major.state != S.DEMOTED:
        raise ConflictError(f"{incident.number} is already a major incident.")
    fields = {
        "manager": manager,
        "bridge_link": link,
        "initial_impact_statement": statement,
        "trigger": trigger,
        "trigger_detail": trigger_detail[:200],
        "declared_by": actor,
        "declared_at": timezone.now(),
    }
    if major is None:
        major = MajorIncident(incident=incident, **fields)
        _save(major, actor=actor, source=source, reason="declare")
        if incident.team_id:
            major.chat_webhooks.set(incident.team.chat_webhooks.all())
    else:
        for name, value in fields.items():
            setattr(major, name, value)
        major.redeclare()
        _save(major, actor=actor, source=source, reason="declare again")
    why = f" ({trigger_detail})" if trigger_detail else ""
    event = _record(
        major,
        actor=actor,
        source=source,
        summary=f"Declared a major incident{why}. Impact: {statement}",
        action="declared",
        manager=actor_label(manager) if manager else None,
        bridge_link=link,
        trigger=trigger,
    )
    _tell(
        _declaration_audience(major, trigger),
        major=major,
        subject=f"Major incident declared: {incident.title}",
        body=f"Impact: {statement}\nManager: {actor_label(manager) if manager else 'not named'}"
        + (f"\nBridge: {link}" if link else ""),
        key=f"declared:{event.pk}",
    )
    webhook_events.emit_declared(major, actor=actor)
    _publish(major, "major_incident")
    return major


def _declaration_audience(major: MajorIncident, trigger: str):
    """Who hears of a declaration. After a rule's, major_incident_page_manager pages the
    manager it named, or asks every ITSM manager to name one: each person gets one message."""
    audience = _managers_to_tell(major)
    if trigger == DeclarationTrigger.MANUAL:
        return audience
    if major.manager_id is None:
        return audience.none()
    return audience.exclude(pk=major.manager_id)


@transaction.atomic
def major_incident_page_manager(*, major: MajorIncident, how: str) -> None:
    """After a rule declared `major`, with nobody watching: page the manager it named (`how`
    says why them) with the war room's link, and write it on the timeline. When it could name
    nobody (`how` says why), the timeline says so and every ITSM manager is asked to name one:
    a room is never left without a manager silently."""
    incident = major.incident
    manager = major.manager
    if manager is None:
        action = "manager_not_named"
        summary = f"No major incident manager could be named: {how}."
        recipients = _managers_to_tell(major)
        subject = f"No major incident manager named: {incident.title}"
        body = (
            f"A rule declared {major.number} a major incident but could name no major "
            f"incident manager: {how}.\nName one in the war room."
        )
    else:
        action = "manager_paged"
        summary = f"Named {display_name(manager)} major incident manager ({how}) and paged them."
        recipients = [manager]
        subject = f"You are the major incident manager: {incident.title}"
        body = (
            f"{major.number} ({incident.priority}) was declared a major incident "
            f"({major.trigger_detail or 'by a rule'}). You are its major incident manager "
            f"({how}).\nImpact: {major.initial_impact_statement}\n"
            f"Bridge: {major.bridge_link or 'none yet: add one in the war room'}\n"
            "Open the war room to take charge."
        )
    event = _record(
        major,
        actor=None,
        source=ChangeSource.JOB,
        summary=summary,
        action=action,
        manager=manager.get_username() if manager else None,
        reason=how,
    )
    _tell(recipients, major=major, subject=subject, body=body, key=f"{action}:{event.pk}")


@transaction.atomic
def major_incident_demote(*, major: MajorIncident, actor, source: str, reason: str):
    """Back to an ordinary incident; the room stays readable. The reason is required."""
    _check_perm(actor, DECLARE_PERMISSION, "demote major incidents")
    reason = one_text("reason", reason, required=True, max_length=REASON_MAX_LENGTH)
    major = _lock(major)
    if major.state != S.ACTIVE:
        raise InvalidTransition(
            f"Cannot demote {major.number}: it is {major.get_state_display().lower()}."
        )
    major.demotion_reason = reason
    major.demoted_by = actor
    major.demote()
    _save(major, actor=actor, source=source, reason="demote")
    event = _record(
        major, actor=actor, source=source, summary=f"Demoted: {reason}", action="demoted"
    )
    _tell(
        _managers_to_tell(major),
        major=major,
        subject="Major incident demoted",
        body=f"Reason: {reason}",
        key=f"demoted:{event.pk}",
    )
    _publish(major, "major_incident")
    return major


# The incident's status → the major incident's transitions that bring it in step, in order: a
# closed incident was resolved first, and its room is too when the worker sees both at once.
FOLLOWS = {"resolved": ("resolve",), "closed": ("resolve", "close"), "cancelled": ("close",)}


@transaction.atomic
def major_incident_follow(*, incident_id: int, to_status: str) -> MajorIncident | None:
    """Keep the major incident in step with its incident: resolved when it resolves, active
    again when it reopens, closed when it closes or is cancelled. Run twice, it acts once."""
    major = MajorIncident.objects.filter(incident_id=incident_id).first()
    if major is None:
        return None
    major = _lock(major)
    for name in FOLLOWS.get(to_status, ("reopen",)):
        _follow_step(major, name)
    return major


def _follow_step(major: MajorIncident, name: str) -> None:
    method = getattr(major, name)
    if not can_proceed(method):
        return
    method()
    _save(major, actor=None, source=ChangeSource.JOB, reason=name)
    _record(
        major,
        actor=None,
        source=ChangeSource.JOB,
        summary=f"Major incident {major.get_state_display().lower()} with its incident",
        action=name,
    )
    if name == "resolve":
        webhook_events.emit_resolved(major)
    _publish(major, "major_incident")


@transaction.atomic
def major_incident_update(
    *, major: MajorIncident, actor, source: str, manager=UNSET, bridge_link=UNSET
) -> MajorIncident:
    """Change the manager (managers only) or the bridge link (anyone working the room)."""
    _check_perm(actor, WORK_PERMISSION, "change this war room")
    if manager is not UNSET:
        _check_perm(actor, DECLARE_PERMISSION, "change the major incident manager")
    errors: dict = {}
    if bridge_link is not UNSET:
        bridge_link = _clean_bridge_link(errors, "bridge_link", bridge_link)
    if manager not in (UNSET, None) and not is_staff_user(manager):
        errors["major_incident_manager"] = f"{manager.get_username()} is not active staff."
    raise_if(errors)
    major = _lock(major)
    _require_live(major)
    changes = []
    if manager is not UNSET and manager != major.manager:
        major.manager = manager
        changes.append(f"manager is now {actor_label(manager) if manager else 'nobody'}")
    if bridge_link is not UNSET and bridge_link != major.bridge_link:
        major.bridge_link = bridge_link
        changes.append(f"bridge is now {bridge_link or 'none'}")
    if not changes:
        return major
    _save(major, actor=actor, source=source, reason="edit")
    _record(major, actor=actor, source=source, summary="; ".join(changes).capitalize())
    _publish(major, "major_incident")
    _publish(major, "bridge")
    return major


@transaction.atomic
def major_incident_set_chat_webhooks(
    *, major: MajorIncident, actor, source: str, webhooks
) -> MajorIncident:
    """Choose the Slack or Teams channels the room's timeline is relayed to (at declaration,
    those of the incident's team)."""
    _check_perm(actor, WORK_PERMISSION, "change this war room")
    major = _lock(major)
    _require_live(major)
    wanted = {hook.pk: hook for hook in webhooks}
    if set(wanted) == set(major.chat_webhooks.values_list("pk", flat=True)):
        return major
    major.chat_webhooks.set(wanted.values())
    names = ", ".join(sorted(hook.name for hook in wanted.values()))
    _record(
        major,
        actor=actor,
        source=source,
        summary=f"Chat channels are now {names or 'none'}",
        action="chat_webhooks_changed",
        chat_webhooks=sorted(hook.slug for hook in wanted.values()),
    )
    return major


# --- roles ------------------------------------------------------------------------------------


@transaction.atomic
def role_assign(*, major: MajorIncident, actor, source: str, role: str, user) -> RoleAssignment:
    """Give `user` a war-room role. A role one person holds is handed over from its holder;
    experts are added. The new holder is notified."""
    _check_perm(actor, WORK_PERMISSION, "assign war-room roles")
    errors: dict = {}
    role = choice(errors, "role", role, WarRoomRole)
    if user is None:
        errors["user"] = "This field is required."
    elif not is_staff_user(user):
        errors["user"] = f"{user.get_username()} is not active staff."
    raise_if(errors)
    major = _lock(major)
    _require_live(major)
    holders = list(major.role_assignments.filter(role=role, ended_at__isnull=True))
    same = next((row for row in holders if row.user_id == user.pk), None)
    if same is not None:
        return same
    label = WarRoomRole(role).label.lower()
    previous = holders if role in SINGLE_HOLDER_ROLES else []
    now = timezone.now()
    for row in previous:
        row.ended_at, row.ended_by = now, actor
        row.save(update_fields=["ended_at", "ended_by"])
    assignment = RoleAssignment.objects.create(
        major_incident=major, role=role, user=user, assigned_by=actor, assigned_at=now
    )
    handed = f" (handed over from {previous[0].user.get_username()})" if previous else ""
    _record(
        major,
        actor=actor,
        source=source,
        summary=f"{user.get_username()} is now {label}{handed}",
        action="role_assigned",
        role=role,
        user=user.get_username(),
        previous=previous[0].user.get_username() if previous else None,
    )
    _tell(
        [user],
        major=major,
        subject=f"You are now {label}",
        body=f"{actor_label(actor)} made you {label} of major incident {major.number}.",
        key=f"role:{assignment.pk}",
    )
    _publish(major, "roles")
    return assignment


@transaction.atomic
def role_release(*, major: MajorIncident, actor, source: str, assignment_id) -> None:
    _check_perm(actor, WORK_PERMISSION, "change war-room roles")
    major = _lock(major)
    _require_live(major)
    row = (
        major.role_assignments.filter(pk=_int_or_none(assignment_id), ended_at__isnull=True)
        .select_related("user")
        .first()
    )
    if row is None:
        raise NotFoundError("No such role holder in this war room.")
    row.ended_at, row.ended_by = timezone.now(), actor
    row.save(update_fields=["ended_at", "ended_by"])
    _record(
        major,
        actor=actor,
        source=source,
        summary=f"{row.user.get_username()} is no longer {row.get_role_display().lower()}",
        action="role_released",
        role=row.role,
        user=row.user.get_username(),
    )
    _publish(major, "roles")


BIGGEST_ID = 2**63 - 1  # a bigint key: a larger number matches no row (and would overflow)


def _int_or_none(value) -> int | None:
    """An id from a path or a message, or None when it cannot be one (no row has it)."""
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if 0 < number <= BIGGEST_ID else None


# --- tasks ------------------------------------------------------------------------------------


@transaction.atomic
def task_create(*, major: MajorIncident, actor, source: str, title: str, assignee=None):
    _check_perm(actor, WORK_PERMISSION, "add war-room tasks")
    errors: dict = {}
    title = clean_text(errors, "title", title, required=True, max_length=TASK_TITLE_MAX_LENGTH)
    if assignee is not None and not is_staff_user(assignee):
        errors["assignee"] = f"{assignee.get_username()} is not active staff."
    raise_if(errors)
    major = _lock(major)
    _require_live(major)
    task = WarRoomTask.objects.create(
        major_incident=major, title=title, assignee=assignee, created_by=actor
    )
    who = f" for {assignee.get_username()}" if assignee else ""
    _record(
        major, actor=actor, source=source, summary=f"Task added{who}: {title}", action="task_added"
    )
    if assignee is not None:
        _tell_assignee(task, major=major, actor=actor)
    _publish(major, "tasks")
    return task


@transaction.atomic
def task_update(
    *, major: MajorIncident, actor, source: str, task_id, title=UNSET, assignee=UNSET, done=UNSET
) -> WarRoomTask:
    _check_perm(actor, WORK_PERMISSION, "change war-room tasks")
    errors: dict = {}
    if title is not UNSET:
        title = clean_text(errors, "title", title, required=True, max_length=TASK_TITLE_MAX_LENGTH)
    if assignee not in (UNSET, None) and not is_staff_user(assignee):
        errors["assignee"] = f"{assignee.get_username()} is not active staff."
    if done is not UNSET and not isinstance(done, bool):
        errors["done"] = "Must be true or false."
    raise_if(errors)
    major = _lock(major)
    _require_live(major)
    task = major.tasks.filter(pk=_int_or_none(task_id)).select_for_update().first()
    if task is None:
        raise NotFoundError("No such task in this war room.")
    reassigned = assignee not in (UNSET, None, task.assignee)
    changes = _apply_task_changes(task, actor=actor, title=title, assignee=assignee, done=done)
    if not changes:
        return task
    task.save()
    _record(
        major,
        actor=actor,
        source=source,
        summary=f"Task {'; '.join(changes)}: {task.title}",
        action="task_changed",
        task=task.pk,
    )
    if reassigned:
        _tell_assignee(task, major=major, actor=actor)
    _publish(major, "tasks")
    return task


def _apply_task_changes(task: WarRoomTask, *, actor, title, assignee, done) -> list[str]:
    changes = []
    if title is not UNSET and title != task.title:
        task.title = title
        changes.append("renamed")
    if assignee is not UNSET and assignee != task.assignee:
        task.assignee = assignee
        changes.append(f"reassigned to {actor_label(assignee) if assignee else 'nobody'}")
    if done is not UNSET and done != task.done:
        task.done = done
        task.done_at, task.done_by = (timezone.now(), actor) if done else (None, None)
        changes.append("done" if done else "reopened")
    return changes


def _tell_assignee(task: WarRoomTask, *, major: MajorIncident, actor) -> None:
    _tell(
        [task.assignee],
        major=major,
        subject=f"War-room task for you: {task.title}",
        body=f"{actor_label(actor)} gave you a task in the war room of {major.number}.",
        key=f"task:{task.pk}:{task.assignee_id}",
    )


# --- notes and pins ---------------------------------------------------------------------------


def _require_live_now(major: MajorIncident) -> None:
    """The room's state read afresh, without a lock: the incident's services lock the incident
    first, and locking the room before them could deadlock with a declaration."""
    _require_live(MajorIncident.objects.select_related("incident").get(pk=major.pk))


def note_add(*, major: MajorIncident, actor, source: str, text: str) -> IncidentEvent:
    """A note on the incident's timeline, written from the war room."""
    _check_perm(actor, WORK_PERMISSION, "write in this war room")
    _require_live_now(major)
    return incident_services.incident_add_note(
        incident=major.incident, actor=actor, source=source, text=text
    )


def event_pin(*, major: MajorIncident, actor, event_id, pinned: bool) -> IncidentEvent:
    _check_perm(actor, WORK_PERMISSION, "pin events")
    _require_live_now(major)
    event = IncidentEvent.objects.filter(
        incident_id=major.incident_id, pk=_int_or_none(event_id)
    ).first()
    if event is None:
        raise NotFoundError("No such event on this incident's timeline.")
    if not isinstance(pinned, bool):
        raise_if({"pinned": "Must be true or false."})
    return incident_services.incident_event_pin(event=event, actor=actor, pinned=pinned)


# --- scratchpad -------------------------------------------------------------------------------


@transaction.atomic
def scratchpad_update(*, major: MajorIncident, actor, base_version, text) -> dict:
    """Save `text`, typed against version `base_version`. When others saved in between, their
    words and these are merged (warroom.merge) instead of one overwriting the other. Returns
    the new version and text, which every open page is also sent."""
    _check_perm(actor, WORK_PERMISSION, "edit the scratchpad")
    errors: dict = {}
    text = typed_text(errors, "text", text, max_length=SCRATCHPAD_MAX_LENGTH)
    base_version = version_number(errors, "base_version", base_version)
    raise_if(errors)
    major = _lock(major)
    _require_live(major)
    current = major.scratchpad_version
    if base_version > current:
        raise_if({"base_version": f"Version {base_version} does not exist (latest {current})."})
    base = major.scratchpad if base_version == current else _revision_text(major, base_version)
    merged = merge(base, major.scratchpad, text)
    if len(merged) > SCRATCHPAD_MAX_LENGTH:
        raise_if({"text": f"The merged text would exceed {SCRATCHPAD_MAX_LENGTH} characters."})
    if merged == major.scratchpad:
        return {"version": current, "text": merged, "merged": False}
    version = current + 1
    # update(), not save(): a keystroke is no field history (the revision row is its record).
    MajorIncident.objects.filter(pk=major.pk).update(scratchpad=merged, scratchpad_version=version)
    ScratchpadRevision.objects.create(
        major_incident=major,
        version=version,
        text=merged,
        author=actor,
        merged=base_version != current,
    )
    result = {"version": version, "text": merged, "merged": base_version != current}
    payload = {
        "kind": "scratchpad",
        "incident": major.number,
        "author": actor_label(actor),
        "scratchpad": result,
    }
    transaction.on_commit(partial(realtime.publish, warroom_group(major.number), payload))
    return result


def _revision_text(major: MajorIncident, version: int) -> str:
    if version == 0:
        return ""
    row = major.scratchpad_revisions.filter(version=version).values_list("text", flat=True)
    return row.first() or ""


# --- bridge and presence ----------------------------------------------------------------------


@transaction.atomic
def bridge_join(*, major: MajorIncident, actor, source: str) -> BridgeAttendance:
    _check_perm(actor, WORK_PERMISSION, "join the bridge")
    major = _lock(major)
    _require_live(major)
    stay = major.bridge_attendance.filter(user=actor, left_at__isnull=True).first()
    if stay is not None:
        return stay
    stay = BridgeAttendance.objects.create(major_incident=major, user=actor)
    _bridge_changed(major, actor=actor, source=source, did="joined")
    return stay


@transaction.atomic
def bridge_leave(*, major: MajorIncident, actor, source: str) -> BridgeAttendance | None:
    _check_perm(actor, WORK_PERMISSION, "leave the bridge")
    major = _lock(major)
    stay = major.bridge_attendance.filter(user=actor, left_at__isnull=True).first()
    if stay is None:
        return None
    stay.left_at = timezone.now()
    stay.save(update_fields=["left_at"])
    _bridge_changed(major, actor=actor, source=source, did="left")
    return stay


def _bridge_changed(major: MajorIncident, *, actor, source: str, did: str) -> None:
    _record(
        major,
        actor=actor,
        source=source,
        summary=f"{actor.get_username()} {did} the bridge",
        action=f"bridge_{did}",
    )
    _publish(major, "bridge")


@transaction.atomic
def presence_enter(*, major: MajorIncident, user, channel_name: str) -> None:
    """A page of the room opened. Rows older than the timeout (a process that died) go. The
    room hears of it from `presence_publish`, which the socket calls at most once a second
    (warroom.consumers.presence_changed), not once per page."""
    stale = timezone.now() - selectors.PRESENCE_TIMEOUT
    Presence.objects.filter(major_incident=major, seen_at__lt=stale).delete()
    Presence.objects.update_or_create(
        channel_name=channel_name, defaults={"major_incident": major, "user": user}
    )


def presence_leave(*, major: MajorIncident, channel_name: str) -> None:
    Presence.objects.filter(channel_name=channel_name).delete()


def presence_publish(*, major_id: int, number: str) -> None:
    """Send the room's pages who is present now."""
    _send_part(major_id, number, "presence")


def presence_touch(*, channel_name: str) -> None:
    Presence.objects.filter(channel_name=channel_name).update(seen_at=timezone.now())


# --- declaration rules ------------------------------------------------------------------------

RULE_PERMISSION = "warroom.change_declarationrule"
# A threshold's bounds per rule: minutes up to a week; users up to what the column holds.
THRESHOLD_RANGES = {
    RuleKind.UNACKNOWLEDGED: (1, 7 * 24 * 60),
    RuleKind.AFFECTED_USERS: (0, MAX_AFFECTED_USERS),
}


@transaction.atomic
def declaration_rule_update(
    *,
    rule: DeclarationRule,
    actor,
    source: str,
    enabled=UNSET,
    priority=UNSET,
    threshold=UNSET,
    manager_schedule=UNSET,
    manager=UNSET,
) -> DeclarationRule:
    """Change a rule that declares major incidents by itself (managers and super admins).
    Its history row names the fields changed and who changed them."""
    _check_perm(actor, RULE_PERMISSION, "change declaration rules")
    errors: dict = {}
    if enabled is not UNSET and not isinstance(enabled, bool):
        errors["enabled"] = "Must be true or false."
    if priority is not UNSET:
        choice(errors, "priority", priority, Priority)
    if threshold is not UNSET:
        low, high = THRESHOLD_RANGES[rule.kind]
        if isinstance(threshold, bool) or not isinstance(threshold, int):
            errors["threshold"] = "Must be a whole number."
        elif not low <= threshold <= high:
            errors["threshold"] = f"Must be from {low} to {high}."
    if manager not in (UNSET, None) and not is_staff_user(manager):
        errors["manager"] = f"{manager.get_username()} is not active staff."
    raise_if(errors)
    rule = DeclarationRule.objects.select_for_update().get(pk=rule.pk)
    asked = {
        "enabled": enabled,
        "priority": priority,
        "threshold": threshold,
        "manager_schedule": manager_schedule,
        "manager": manager,
    }
    changed = [
        name for name, value in asked.items() if value is not UNSET and getattr(rule, name) != value
    ]
    if not changed:
        return rule
    for name in changed:
        setattr(rule, name, asked[name])
    rule._change_reason = change_reason(f"edit {', '.join(changed)}", actor, source)
    rule._history_user = actor
    rule.save()
    return rule
