"""Every write of the review meeting of a major incident.

The job that drafts the review (postmortems.tasks) proposes the meeting once: 48 h after
resolution, at the first slot of the business calendar that fits the meeting and does not
overlap another review meeting of the review's owner (the owner's calendar in this portal).
The attendees are the war room's role holders at resolution and the owner; each gets the
invitation by email with its .ics, and again whenever the owner (or a manager) moves it.
"""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from incidents.choices import ChangeSource
from incidents.models import BusinessCalendar, SlaPolicy
from incidents.services import change_reason
from incidents.sla.business_time import WorkingCalendar
from incidents.sla.presets import (
    BUSINESS_CALENDAR_SLUG,
    BUSINESS_CLOSES,
    BUSINESS_DAYS,
    BUSINESS_OPENS,
)
from itsm.errors import PermissionDeniedError
from itsm.notifications import Attachment, notify
from itsm.validation import clean_text, raise_if
from postmortems import invitation
from postmortems.drafting import local_time
from postmortems.models import (
    LOCATION_MAX_LENGTH,
    MEETING_MAX_MINUTES,
    MOVE_PERMISSION,
    PostIncidentReview,
    ReviewMeeting,
)
from postmortems.selectors import roles_held_at
from postmortems.services import review_lock, review_record_event

MEETING_DELAY = timedelta(hours=48)
SLOT_STEP = timedelta(minutes=30)
SEARCH_DAYS = 60  # no free slot in this many days: proposed at the earliest moment instead
MOVE_HORIZON = timedelta(days=180)
MEETING_MIN_MINUTES = 15
UNSET = object()


# --- the slot -----------------------------------------------------------------------------------


def _builtin_calendar() -> WorkingCalendar:
    """Monday to Friday, 09:00-17:00 in the portal's time zone."""
    spans = ((BUSINESS_OPENS, BUSINESS_CLOSES),)
    return WorkingCalendar(
        time_zone=ZoneInfo(settings.TIME_ZONE), hours={int(day): spans for day in BUSINESS_DAYS}
    )


def meeting_calendar() -> WorkingCalendar:
    """The business calendar meetings are placed in. Teams have no calendar of their own, so:
    the default SLA policy's calendar, else the "Business hours" calendar, else Monday to
    Friday 09:00-17:00 in the portal's time zone."""
    policy = SlaPolicy.objects.filter(is_default=True, calendar__isnull=False).first()
    chosen = (
        BusinessCalendar.objects.filter(pk=policy.calendar_id)
        if policy
        else BusinessCalendar.objects.filter(slug=BUSINESS_CALENDAR_SLUG)
    )
    calendar = chosen.prefetch_related("hours", "holidays").first()
    try:
        return calendar.working_calendar() if calendar else _builtin_calendar()
    except ValueError:  # a calendar without working hours
        return _builtin_calendar()


def _aligned(moment: datetime, opens: datetime) -> datetime:
    """The first slot boundary (every SLOT_STEP from `opens`) at or after `moment`."""
    if moment <= opens:
        return opens
    steps = -((opens - moment) // SLOT_STEP)  # ceiling division
    return opens + steps * SLOT_STEP


def _clash(start: datetime, end: datetime, busy) -> datetime | None:
    """The end of the busy interval overlapping [start, end), if any."""
    return next((b_end for b_start, b_end in busy if b_start < end and b_end > start), None)


def next_free_slot(
    *, earliest: datetime, duration: timedelta, calendar: WorkingCalendar, busy
) -> datetime:
    """The first slot at or after `earliest` inside the calendar's working hours that fits
    `duration` and overlaps none of `busy` ((start, end) pairs); `earliest` if none does in
    SEARCH_DAYS days."""
    first_day = earliest.astimezone(calendar.time_zone).date()
    for offset in range(SEARCH_DAYS):
        for opens, closes in calendar.intervals_on(first_day + timedelta(days=offset)):
            start = _aligned(earliest, opens)
            while start + duration <= closes:
                taken_until = _clash(start, start + duration, busy)
                if taken_until is None:
                    return start
                start = _aligned(taken_until, opens)
    return earliest


def _owner_busy(owner, *, around: datetime, exclude: ReviewMeeting | None = None):
    """The owner's other review meetings near `around`, as (start, end) pairs."""
    if owner is None:
        return []
    meetings = ReviewMeeting.objects.filter(
        attendees=owner,
        starts_at__gte=around - timedelta(minutes=MEETING_MAX_MINUTES),
        starts_at__lt=around + timedelta(days=SEARCH_DAYS + 1),
    )
    if exclude is not None:
        meetings = meetings.exclude(pk=exclude.pk)
    return [(m.starts_at, m.ends_at) for m in meetings.only("starts_at", "duration_minutes")]


def _lock_owner(owner) -> None:
    """Two meetings proposed for one owner at once would find the same free slot: the owner's
    row is the queue (locked after the incident and the review, as everywhere)."""
    if owner is not None:
        get_user_model().objects.select_for_update().filter(pk=owner.pk).first()


# --- proposing ----------------------------------------------------------------------------------


@transaction.atomic
def meeting_propose(*, review: PostIncidentReview, major) -> ReviewMeeting | None:
    """Propose the review meeting of `major`'s review and invite its attendees, unless it has
    one. Returns the new meeting."""
    review = review_lock(review)
    incident = review.incident
    if incident.resolved_at is None or ReviewMeeting.objects.filter(review=review).exists():
        return None
    _lock_owner(review.owner)
    duration = timedelta(minutes=ReviewMeeting._meta.get_field("duration_minutes").default)
    earliest = incident.resolved_at + MEETING_DELAY
    starts_at = next_free_slot(
        earliest=earliest,
        duration=duration,
        calendar=meeting_calendar(),
        busy=_owner_busy(review.owner, around=earliest),
    )
    meeting = ReviewMeeting(review=review, starts_at=starts_at, bridge_link=major.bridge_link)
    meeting._change_reason = "proposed by system (job)"
    meeting.save()
    holders = [held.user for held in roles_held_at(major, incident.resolved_at)]
    meeting.attendees.set({person.pk: person for person in [*holders, review.owner] if person})
    review_record_event(
        review,
        actor=None,
        source=ChangeSource.JOB,
        summary=f"Review meeting proposed for {local_time(starts_at)}",
        action="meeting_proposed",
        meeting=meeting.pk,
    )
    _invite(meeting)
    return meeting


def _invite(meeting: ReviewMeeting) -> None:
    """Email (with the .ics) and tell in-app every attendee, once per version of the meeting."""
    attendees = list(meeting.attendees.all())
    number = meeting.review.incident.number
    moved = " (moved)" if meeting.sequence else ""
    when = local_time(meeting.starts_at)
    notify(
        recipients=attendees,
        subject=f"Post-incident review: {number}, {when}{moved}",
        body=f"The review meeting of {number} is on {when} for {meeting.duration_minutes} "
        "minutes. The invitation is attached.",
        link=invitation.review_path(number),
        context={"incident": number, "meeting": meeting.pk},
        dedupe_key=f"postmortems:meeting:{meeting.pk}:{meeting.sequence}",
        attachments=(
            Attachment(
                filename=invitation.ics_filename(number),
                content=invitation.meeting_ics(meeting, attendees=attendees),
                mimetype=invitation.MIMETYPE,
            ),
        ),
    )


# --- moving -------------------------------------------------------------------------------------


def may_move(user, meeting: ReviewMeeting) -> bool:
    return user.pk == meeting.review.owner_id or user.has_perm(MOVE_PERMISSION)


def _clean_start(errors: dict, value) -> datetime | None:
    now = timezone.now()
    if not isinstance(value, datetime) or timezone.is_naive(value):
        errors["starts_at"] = "Must be a date and time with its time zone."
    elif value <= now:
        errors["starts_at"] = "Must be in the future."
    elif value > now + MOVE_HORIZON:
        errors["starts_at"] = f"Must be within {MOVE_HORIZON.days} days from now."
    else:
        return value
    return None


def _clean_duration(errors: dict, value) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        errors["duration_minutes"] = "Must be a whole number of minutes."
    elif not MEETING_MIN_MINUTES <= value <= MEETING_MAX_MINUTES:
        errors["duration_minutes"] = (
            f"Must be from {MEETING_MIN_MINUTES} to {MEETING_MAX_MINUTES} minutes."
        )
    else:
        return value
    return None


@transaction.atomic
def meeting_move(
    *,
    meeting: ReviewMeeting,
    actor,
    source: str,
    starts_at=UNSET,
    duration_minutes=UNSET,
    location=UNSET,
) -> ReviewMeeting:
    """Move the meeting (or change its length or place): the review's owner or a manager.
    Bad input: ValidationFailed naming every bad field, nothing written. A change bumps the
    invitation's SEQUENCE and sends it again."""
    review = review_lock(meeting.review)
    meeting = ReviewMeeting.objects.select_for_update(of=("self",)).get(pk=meeting.pk)
    meeting.review = review
    if not may_move(actor, meeting):
        raise PermissionDeniedError("Only the review's owner or a manager may move its meeting.")
    errors: dict = {}
    changes: dict = {}
    if starts_at is not UNSET:
        changes["starts_at"] = _clean_start(errors, starts_at)
    if duration_minutes is not UNSET:
        changes["duration_minutes"] = _clean_duration(errors, duration_minutes)
    if location is not UNSET:
        changes["location"] = clean_text(
            errors, "location", location, required=False, max_length=LOCATION_MAX_LENGTH
        )
    raise_if(errors)
    changed = sorted(name for name, value in changes.items() if getattr(meeting, name) != value)
    if not changed:
        return meeting
    for name in changed:
        setattr(meeting, name, changes[name])
    meeting.sequence += 1
    meeting._change_reason = change_reason("moved", actor, source)
    meeting._history_user = actor
    meeting.save()
    review_record_event(
        review,
        actor=actor,
        source=source,
        summary=f"Review meeting moved to {local_time(meeting.starts_at)}",
        action="meeting_moved",
        meeting=meeting.pk,
        fields=changed,
    )
    _invite(meeting)
    return meeting
