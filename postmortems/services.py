"""Every write of the post-incident review.

Each is atomic, locks the incident's row and then the review's (the incident services' order),
records what happened on the incident's timeline, and writes the history's change reason.
Required reviews are created by a job when the incident resolves (`review_ensure_for`, from
postmortems.tasks and the clock's sweep); optional ones when someone asks (`review_create`).
"""

from datetime import timedelta
from functools import partial

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils import timezone
from django_fsm import can_proceed, has_transition_perm

from incidents.choices import ChangeSource, EventType, IncidentStatus
from incidents.models import Incident
from incidents.services import actor_label, change_reason
from incidents.timeline import incident_record_event
from itsm import realtime
from itsm.batching import once_per_batch
from itsm.errors import ConflictError, InvalidTransition, PermissionDeniedError
from itsm.markdown import render
from itsm.validation import clean_text, raise_if, typed_text, version_number
from postmortems import drafting, proposals, webhook_events
from postmortems.choices import DEFAULT_POLICY, PolicyScope, ReviewStatus, ReviewTransition
from postmortems.metrics import rollup
from postmortems.models import (
    CHANGE_PERMISSION,
    REASON_MAX_LENGTH,
    SECTION_MAX_LENGTH,
    SECTIONS,
    PostIncidentReview,
    ReviewPolicy,
    SectionRevision,
)
from postmortems.models.action_items import ACTION_TITLE_MAX_LENGTH
from warroom.choices import CommunicationKind
from warroom.communications.services import communication_send_now
from warroom.merge import merge
from warroom.models import MajorIncident

S = ReviewStatus
RESOLVED_STATUSES = (IncidentStatus.RESOLVED, IncidentStatus.CLOSED)
EDITABLE_STATUSES = (S.DRAFT, S.IN_REVIEW)
TIMELINE_MAX_ROWS = 5_000
TIMELINE_COLUMNS = ("at", "event", "action", "owner")
TIMELINE_CELL_MAX_LENGTH = 2_000
PROPOSED_MAX_ITEMS = 500
UNSET = object()


# --- the policy --------------------------------------------------------------------------------


def policy_rules() -> dict[str, tuple[bool, timedelta]]:
    """scope → (required, due after resolution): the admin's rows over the defaults."""
    rules = dict(DEFAULT_POLICY)
    rules.update({row.scope: (row.required, row.due_after) for row in ReviewPolicy.objects.all()})
    return rules


def review_terms(incident: Incident, *, major: bool) -> tuple[bool, timedelta]:
    """Whether `incident` requires a review, and how long after resolution it is due: the
    soonest delay of the rules that require one, or the priority's delay for an optional one."""
    rules = policy_rules()
    scopes = [incident.priority] + ([PolicyScope.MAJOR] if major else [])
    required = [rules[scope][1] for scope in scopes if rules[scope][0]]
    if required:
        return True, min(required)
    return False, rules[incident.priority][1]


# --- helpers ------------------------------------------------------------------------------------


def _check_perm(actor, perm: str, what: str) -> None:
    """Jobs act as the system (actor None); people need the permission."""
    if actor is not None and not actor.has_perm(perm):
        raise PermissionDeniedError(f"You may not {what}.")


def _lock_incident(incident_id: int) -> Incident | None:
    return Incident.objects.select_for_update(of=("self",)).filter(pk=incident_id).first()


def review_lock(review: PostIncidentReview) -> PostIncidentReview:
    """The review, its row locked after its incident's (the incident services' order): what
    every write of a review and its parts (follow-ups, meeting) starts with."""
    _lock_incident(review.incident_id)
    return (
        PostIncidentReview.objects.select_for_update(of=("self",))
        .select_related("incident", "owner")
        .get(pk=review.pk)
    )


def _save(review: PostIncidentReview, *, actor, source: str, reason: str) -> None:
    review._change_reason = change_reason(reason, actor, source)
    review._history_user = actor
    review.save()


def review_record_event(
    review: PostIncidentReview, *, actor, source: str, summary: str, **data
) -> None:
    """A `review` event on the incident's timeline, naming the review."""
    incident_record_event(
        incident=review.incident,
        type=EventType.REVIEW,
        actor=actor,
        source=source,
        summary=summary,
        data={"review": review.pk, **data},
    )


# --- creation -----------------------------------------------------------------------------------


def _draft(incident: Incident, *, required: bool, delay: timedelta, actor, source: str, owner):
    """Generate and save the first draft of `incident`'s review (the incident row is locked)."""
    resolved_at = incident.resolved_at or timezone.now()
    review = PostIncidentReview(
        incident=incident,
        required=required,
        owner=owner,
        due_at=resolved_at + delay,
        **drafting.generate(incident),
    )
    _save(review, actor=actor, source=source, reason="drafted")
    need = "Required" if required else "Optional"
    review_record_event(
        review,
        actor=actor,
        source=source,
        summary=f"{need} post-incident review drafted, due {drafting.local_time(review.due_at)}",
        action="drafted",
        required=required,
    )
    return review


def _default_owner(incident: Incident, major: MajorIncident | None):
    """The major incident manager, else the incident's assignee."""
    if major is not None and major.manager is not None:
        return major.manager
    return incident.assignee


@transaction.atomic
def review_ensure_for(*, incident_id: int) -> PostIncidentReview | None:
    """The job behind every resolution: create the review of a resolved incident that requires
    one. Idempotent: the incident's row lock makes a second run, or a second worker, find the
    first one's review (and the unique incident column stops any other way round)."""
    incident = _lock_incident(incident_id)
    if incident is None or incident.status not in RESOLVED_STATUSES:
        return None
    existing = PostIncidentReview.objects.filter(incident=incident).first()
    if existing is not None:
        return existing
    major = drafting.major_incident_of(incident)
    required, delay = review_terms(incident, major=major is not None)
    if not required:
        return None
    return _draft(
        incident,
        required=True,
        delay=delay,
        actor=None,
        source=ChangeSource.JOB,
        owner=_default_owner(incident, major),
    )


@transaction.atomic
def review_create(*, incident: Incident, actor, source: str) -> PostIncidentReview:
    """Ask for the review of a resolved incident (an optional one, or a required one the job
    has not written yet). 409 when it has one, or is not resolved."""
    _check_perm(actor, "postmortems.add_postincidentreview", "start a post-incident review")
    incident = _lock_incident(incident.pk)
    if PostIncidentReview.objects.filter(incident=incident).exists():
        raise ConflictError(f"{incident.number} already has a post-incident review.")
    if incident.status not in RESOLVED_STATUSES:
        raise InvalidTransition(
            f"{incident.number} is {incident.get_status_display().lower()}: a review is "
            "written once it is resolved."
        )
    major = drafting.major_incident_of(incident)
    required, delay = review_terms(incident, major=major is not None)
    return _draft(
        incident,
        required=required,
        delay=delay,
        actor=actor,
        source=source,
        owner=actor or _default_owner(incident, major),
    )


# --- edits --------------------------------------------------------------------------------------


def _clean_timeline(errors: dict, value) -> list[dict]:
    """Rows of the four text columns; anything else is refused."""
    if not isinstance(value, list) or len(value) > TIMELINE_MAX_ROWS:
        errors["timeline"] = f"Must be a list of at most {TIMELINE_MAX_ROWS} rows."
        return []
    rows = []
    for index, row in enumerate(value):
        if not isinstance(row, dict) or set(row) - set(TIMELINE_COLUMNS):
            errors["timeline"] = f"Row {index + 1}: the columns are {', '.join(TIMELINE_COLUMNS)}."
            return []
        cells = {}
        for column in TIMELINE_COLUMNS:
            cells[column] = clean_text(
                errors,
                "timeline",
                row.get(column, ""),
                required=False,
                max_length=TIMELINE_CELL_MAX_LENGTH,
            )
        rows.append(cells)
    return rows


def _clean_proposed(errors: dict, value) -> list[dict]:
    if not isinstance(value, list) or len(value) > PROPOSED_MAX_ITEMS:
        errors["proposed_action_items"] = f"Must be a list of at most {PROPOSED_MAX_ITEMS} items."
        return []
    items = []
    for item in value:
        if not isinstance(item, dict) or set(item) - {"text", "source"}:
            errors["proposed_action_items"] = "Each item is {text, source}."
            return []
        text = clean_text(
            errors,
            "proposed_action_items",
            item.get("text"),
            required=True,
            max_length=ACTION_TITLE_MAX_LENGTH,  # accepting one makes it an item's title
        )
        source = clean_text(
            errors, "proposed_action_items", item.get("source", ""), required=False, max_length=50
        )
        items.append({"text": text, "source": source or "review"})
    return items


def _clean_revenue(errors: dict, amount):
    """An estimate as the model keeps it (a non-negative amount to the cent), or None."""
    field = PostIncidentReview._meta.get_field("revenue_impact")
    try:
        value = field.formfield().clean(amount)
        if value is not None:
            field.run_validators(value)
        return value
    except DjangoValidationError as error:
        errors["revenue_impact"] = " ".join(error.messages)
        return None


def _clean_owner(errors: dict, owner):
    if owner is not None and (not owner.is_active or not owner.has_perm(CHANGE_PERMISSION)):
        errors["owner"] = "The owner must be an active user who may edit reviews."
    return owner


@transaction.atomic
def review_update(
    *,
    review: PostIncidentReview,
    actor,
    source: str,
    sections: dict | None = None,
    timeline=UNSET,
    proposed_action_items=UNSET,
    owner=UNSET,
    public_summary=UNSET,
    revenue_impact=UNSET,
) -> PostIncidentReview:
    """Edit the document (draft or in review). `sections` maps section names (SECTIONS) to
    Markdown; `revenue_impact` is the impact's estimate the reports add up (None: not
    estimated). Bad input: ValidationFailed naming every bad field, and nothing written."""
    _check_perm(actor, CHANGE_PERMISSION, "edit post-incident reviews")
    review = review_lock(review)
    _require_editable(review)
    errors: dict = {}
    changes: dict = {}
    if not isinstance(sections, dict | None):
        raise_if({"sections": "Must map section names to text."})
    for name, value in (sections or {}).items():
        if name not in SECTIONS:
            errors[name] = "Not a section of the review."
            continue
        changes[name] = clean_text(
            errors, name, value, required=False, max_length=SECTION_MAX_LENGTH
        )
    if public_summary is not UNSET:
        changes["public_summary"] = clean_text(
            errors, "public_summary", public_summary, required=False, max_length=SECTION_MAX_LENGTH
        )
    if timeline is not UNSET:
        changes["timeline"] = _clean_timeline(errors, timeline)
    if proposed_action_items is not UNSET:
        changes["proposed_action_items"] = proposals.keep_accepted(
            review.proposed_action_items, _clean_proposed(errors, proposed_action_items)
        )
    if owner is not UNSET:
        changes["owner"] = _clean_owner(errors, owner)
    if revenue_impact is not UNSET:
        changes["revenue_impact"] = _clean_revenue(errors, revenue_impact)
    raise_if(errors)
    changed = sorted(name for name, value in changes.items() if getattr(review, name) != value)
    if not changed:
        return review
    for name in changed:
        if name in SECTIONS:
            _new_section_version(review, name, changes[name], actor=actor, merged=False)
        setattr(review, name, changes[name])
    _save(review, actor=actor, source=source, reason="edited " + ", ".join(changed))
    if "revenue_impact" in changed:
        once_per_batch(rollup.rollup_refresh, [review.incident_id])
    review_record_event(
        review,
        actor=actor,
        source=source,
        summary="Post-incident review edited: " + ", ".join(changed),
        action="edited",
        fields=changed,
    )
    return review


# --- live editing of one section --------------------------------------------------------------


def review_group(number: str) -> str:
    """The channel-layer group of a review's live page (postmortems.consumers)."""
    return realtime.group_name("postmortem", number)


def _require_editable(review: PostIncidentReview) -> None:
    if review.status not in EDITABLE_STATUSES:
        raise InvalidTransition(
            f"The review of {review.incident.number} is {review.get_status_display().lower()}; "
            "return it to draft to edit it."
        )


def _section_text_at(review: PostIncidentReview, section: str, version: int) -> str:
    if version == review.section_versions.get(section, 0):
        return getattr(review, section)
    row = review.section_revisions.filter(section=section, version=version)
    return row.values_list("text", flat=True).first() or ""


def _new_section_version(review, section: str, text: str, *, actor, merged: bool) -> int:
    """Record `text` as the section's next version (keeping the draft's text as version 0 the
    first time), and tell the review's live pages once the transaction commits."""
    current = review.section_versions.get(section, 0)
    rows = []
    if current == 0:
        rows.append(
            SectionRevision(
                review=review, section=section, version=0, text=getattr(review, section)
            )
        )
    version = current + 1
    rows.append(
        SectionRevision(
            review=review, section=section, version=version, text=text, author=actor, merged=merged
        )
    )
    SectionRevision.objects.bulk_create(rows)
    review.section_versions = {**review.section_versions, section: version}
    payload = {
        "kind": "section",
        "incident": review.incident.number,
        "author": actor_label(actor),
        "section": {"name": section, "version": version, "text": text, "html": render(text)},
    }
    transaction.on_commit(partial(realtime.publish, review_group(review.incident.number), payload))
    return version


@transaction.atomic
def review_section_save(*, review: PostIncidentReview, actor, section, base_version, text) -> dict:
    """Save one section's `text`, typed against its version `base_version`. When others saved
    it in between, their words and these are merged (warroom.merge, as in the war room's
    scratchpad) instead of one overwriting the other. Returns the section's new version and
    text, which every open page of the review is also sent.

    Like the scratchpad, a save is no field history and no timeline event (a person typing
    saves every few seconds): its SectionRevision row is the record."""
    _check_perm(actor, CHANGE_PERMISSION, "edit post-incident reviews")
    errors: dict = {}
    if section not in SECTIONS:
        errors["section"] = f"Must be one of {', '.join(SECTIONS)}."
    text = typed_text(errors, "text", text, max_length=SECTION_MAX_LENGTH)
    base_version = version_number(errors, "base_version", base_version)
    raise_if(errors)
    review = review_lock(review)
    _require_editable(review)
    current = review.section_versions.get(section, 0)
    if base_version > current:
        raise_if({"base_version": f"Version {base_version} does not exist (latest {current})."})
    merged = merge(_section_text_at(review, section, base_version), getattr(review, section), text)
    if len(merged) > SECTION_MAX_LENGTH:
        raise_if({"text": f"The merged text would exceed {SECTION_MAX_LENGTH} characters."})
    if merged == getattr(review, section):
        return {"section": section, "version": current, "text": merged, "merged": False}
    was_merged = base_version != current
    version = _new_section_version(review, section, merged, actor=actor, merged=was_merged)
    PostIncidentReview.objects.filter(pk=review.pk).update(
        **{section: merged}, section_versions=review.section_versions, updated_at=timezone.now()
    )
    return {"section": section, "version": version, "text": merged, "merged": was_merged}


# --- transitions --------------------------------------------------------------------------------

REFUSALS = {
    ReviewTransition.SUBMIT: "only a draft can be submitted for review",
    ReviewTransition.PUBLISH: "only a review in review can be published",
    ReviewTransition.RETURN_TO_DRAFT: (
        "only a review in review or skipped can go back to draft, and it needs a reason"
    ),
    ReviewTransition.SKIP: "only an optional draft can be skipped, and it needs a reason",
}
DONE = {
    ReviewTransition.SUBMIT: "submitted for review",
    ReviewTransition.PUBLISH: "published",
    ReviewTransition.RETURN_TO_DRAFT: "returned to draft",
    ReviewTransition.SKIP: "skipped",
}


def _transition(
    review: PostIncidentReview,
    name: str,
    *,
    actor,
    source: str,
    reason_field: str = "",
    reason: str = "",
) -> PostIncidentReview:
    """Lock, check and run one transition. `reason_field` is set to `reason` first, since the
    transition's guard reads it."""
    review = review_lock(review)
    if reason_field:
        setattr(review, reason_field, reason)
    method = getattr(review, name)
    if not can_proceed(method):
        raise InvalidTransition(
            f"The review of {review.incident.number} is "
            f"{review.get_status_display().lower()}: {REFUSALS[name]}."
        )
    if actor is not None and not has_transition_perm(method, actor):
        raise PermissionDeniedError(f"You may not {ReviewTransition(name).label.lower()} it.")
    method()
    done = DONE[name]
    _save(review, actor=actor, source=source, reason=done)
    why = f": {reason}" if reason else ""
    review_record_event(
        review,
        actor=actor,
        source=source,
        summary=f"Post-incident review {done}{why}",
        action=name,
        status=review.status,
    )
    _tell_pages(review)
    return review


def _tell_pages(review: PostIncidentReview) -> None:
    """A review's live pages hear of its new status (an editor stops taking text once it is
    published or skipped)."""
    payload = {
        "kind": "review",
        "incident": review.incident.number,
        "status": review.status,
        "editable": review.status in EDITABLE_STATUSES,
    }
    transaction.on_commit(partial(realtime.publish, review_group(review.incident.number), payload))


def _reason(value) -> str:
    errors: dict = {}
    text = clean_text(errors, "reason", value, required=True, max_length=REASON_MAX_LENGTH)
    raise_if(errors)
    return text


@transaction.atomic
def review_submit(*, review: PostIncidentReview, actor, source: str) -> PostIncidentReview:
    return _transition(review, ReviewTransition.SUBMIT, actor=actor, source=source)


@transaction.atomic
def review_publish(*, review: PostIncidentReview, actor, source: str) -> PostIncidentReview:
    """Managers approve a review in review (`postmortems.publish_review`); the PIR summary
    goes to its audience (IT leadership and the ITSM managers, as shipped)."""
    review = _transition(review, ReviewTransition.PUBLISH, actor=actor, source=source)
    _send_summary(review, actor=actor, source=source)
    webhook_events.emit_published(review, actor=actor)
    return review


def _send_summary(review: PostIncidentReview, *, actor, source: str) -> None:
    """The `pir_summary` communication, drafted from its template and sent in the publishing
    transaction: a review is published once, so it is sent once."""
    communication_send_now(
        incident=review.incident, kind=CommunicationKind.PIR_SUMMARY, actor=actor, source=source
    )


@transaction.atomic
def review_return(*, review: PostIncidentReview, actor, source: str, reason) -> PostIncidentReview:
    """Back to draft (from in review, or a skipped one taken up again), saying why."""
    return _transition(
        review,
        ReviewTransition.RETURN_TO_DRAFT,
        actor=actor,
        source=source,
        reason_field="return_reason",
        reason=_reason(reason),
    )


@transaction.atomic
def review_skip(*, review: PostIncidentReview, actor, source: str, reason) -> PostIncidentReview:
    """Skip an optional review, saying why; required ones cannot be skipped."""
    return _transition(
        review,
        ReviewTransition.SKIP,
        actor=actor,
        source=source,
        reason_field="skip_reason",
        reason=_reason(reason),
    )
