"""Every write of the role follow-ups (post-incident-follow-up.txt).

When a major incident resolves, the job that drafts its review (postmortems.tasks) copies each
war-room role's checklist (FollowUpTemplate, edited in the admin) to the people who held the
role at resolution: one FollowUp row per person and step, once per review, however often the job
runs or the incident is reopened and resolved again. Ticking or unticking a step is allowed to
its assignee and to whoever may tick any (managers); each is kept in the history and on the
incident's timeline.
"""

from django.db import transaction
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from incidents.choices import ChangeSource
from incidents.services import change_reason
from itsm.errors import PermissionDeniedError
from itsm.templatetags.people import display_name
from postmortems.models import TICK_PERMISSION, FollowUp, FollowUpTemplateItem, PostIncidentReview
from postmortems.selectors import roles_held_at
from postmortems.services import review_lock, review_record_event
from warroom.choices import WarRoomRole


def checklists() -> dict[str, list[str]]:
    """role → the texts of its checklist's steps, in order."""
    steps: dict[str, list[str]] = {}
    for item in FollowUpTemplateItem.objects.select_related("template").order_by("position", "id"):
        steps.setdefault(item.template.role, []).append(item.text)
    return steps


@transaction.atomic
def followups_ensure(*, review: PostIncidentReview, major) -> list[FollowUp]:
    """Give each role holder of `major` at its resolution their checklist, unless the review
    has its follow-ups already. Returns the rows created."""
    review = review_lock(review)
    incident = review.incident
    if incident.resolved_at is None or FollowUp.objects.filter(review=review).exists():
        return []
    steps = checklists()
    rows = [
        FollowUp(review=review, role=held.role, assignee=held.user, position=position, text=text)
        for held in roles_held_at(major, incident.resolved_at)
        for position, text in enumerate(steps.get(held.role, ()), start=1)
    ]
    if not rows:
        return []
    created = bulk_create_with_history(
        rows, FollowUp, default_change_reason="assigned by system (job)"
    )
    people = len({row.assignee_id for row in rows})
    review_record_event(
        review,
        actor=None,
        source=ChangeSource.JOB,
        summary=f"Role follow-ups assigned: {len(rows)} steps for {people} people",
        action="followups_assigned",
        count=len(rows),
    )
    return created


def may_tick(user, followup: FollowUp) -> bool:
    return user.pk == followup.assignee_id or user.has_perm(TICK_PERMISSION)


@transaction.atomic
def followup_set_done(*, followup: FollowUp, actor, source: str, done: bool) -> FollowUp:
    """Tick (`done`) or untick a follow-up. Ticking a ticked one changes nothing."""
    review = review_lock(followup.review)
    followup = (
        FollowUp.objects.select_for_update(of=("self",))
        .select_related("assignee")
        .get(pk=followup.pk)
    )
    if not may_tick(actor, followup):
        raise PermissionDeniedError(
            f"Only {display_name(followup.assignee)} or a manager may tick this follow-up."
        )
    if followup.done == done:
        return followup
    followup.done_at, followup.done_by = (timezone.now(), actor) if done else (None, None)
    did = "ticked" if done else "unticked"
    followup._change_reason = change_reason(did, actor, source)
    followup._history_user = actor
    followup.save()
    role = WarRoomRole(followup.role).label.lower()
    review_record_event(
        review,
        actor=actor,
        source=source,
        summary=f"Follow-up of the {role} ({display_name(followup.assignee)}) "
        f"{'done' if done else 'not done'}: {followup.text}",
        action="followup_done" if done else "followup_undone",
        followup=followup.pk,
    )
    return followup
