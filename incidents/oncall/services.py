"""On-call: who is on call for a schedule at a moment, the shifts over a window, and the writes
that set schedules and overrides up.

A rotation's members take turns of `shift_length` from its hand-off, counted on the wall clock
of the schedule's time zone: a Monday 09:00 hand-off stays at 09:00 local across a
daylight-saving change (in UTC, turn k simply starts at handoff_at + k × shift_length). Nobody is
on call for a rotation before its hand-off or from its end. An override beats every layer (the
latest created wins where several overlap); otherwise the highest layer with someone wins.
"""

from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import NamedTuple
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Prefetch
from django.utils import timezone

from incidents.models import (
    WORK_PERMISSION,
    Rotation,
    RotationMember,
    Schedule,
    ScheduleOverride,
)
from itsm.errors import PermissionDeniedError, ValidationFailed

OVERRIDE = "override"
BOARD_HORIZON = timedelta(days=14)
MIN_SHIFT_LENGTH = timedelta(hours=1)


class OnCall(NamedTuple):
    user: object
    source: str  # the rotation's name, or OVERRIDE


class Shift(NamedTuple):
    start: datetime
    end: datetime
    user: object
    source: str  # the rotation's name, or OVERRIDE


def _wall(moment: datetime, zone: ZoneInfo) -> datetime:
    """The naive wall-clock reading of `moment` in `zone`."""
    return moment.astimezone(zone).replace(tzinfo=None)


class Roster:
    """One schedule's rotations (with members) and the overrides of a window, loaded once,
    answering "who is on call" for any moment of that window without further queries."""

    def __init__(self, schedule: Schedule, rotations: list[Rotation], overrides):
        self.schedule = schedule
        self.zone = ZoneInfo(schedule.time_zone)
        self.rotations = sorted(rotations, key=lambda rotation: -rotation.layer)
        self.overrides = list(overrides)

    def at(self, moment: datetime) -> OnCall | None:
        covering = [o for o in self.overrides if o.starts_at <= moment < o.ends_at]
        if covering:
            latest = max(covering, key=lambda o: (o.created_at, o.pk))
            return OnCall(latest.user, OVERRIDE)
        for rotation in self.rotations:
            user = self._member(rotation, moment)
            if user is not None:
                return OnCall(user, rotation.name)
        return None

    def _turn(self, rotation: Rotation, moment: datetime) -> int | None:
        if moment < rotation.handoff_at or (rotation.ends_at and moment >= rotation.ends_at):
            return None
        elapsed = _wall(moment, self.zone) - _wall(rotation.handoff_at, self.zone)
        return elapsed // rotation.shift_length

    def _member(self, rotation: Rotation, moment: datetime):
        members = rotation.memberships.all()
        turn = self._turn(rotation, moment)
        if turn is None or not members:
            return None
        return members[turn % len(members)].user

    def shifts(self, start: datetime, end: datetime) -> list[Shift]:
        """Who is on call from `start` to `end`, as consecutive shifts (gaps left out)."""
        cuts = sorted({start, end, *(m for m in self._changes(start, end) if start < m < end)})
        shifts: list[Shift] = []
        for begin, finish in pairwise(cuts):
            found = self.at(begin)
            if found is None:
                continue
            last = shifts[-1] if shifts else None
            if last and last.end == begin and (last.user, last.source) == found:
                shifts[-1] = last._replace(end=finish)
            else:
                shifts.append(Shift(begin, finish, *found))
        return shifts

    def _changes(self, start: datetime, end: datetime) -> Iterator[datetime]:
        """Every moment at which who is on call may change (some outside the window)."""
        for override in self.overrides:
            yield from (override.starts_at, override.ends_at)
        for rotation in self.rotations:
            yield rotation.handoff_at
            if rotation.ends_at:
                yield rotation.ends_at
            yield from self._handoffs(rotation, start, end)

    def _handoffs(self, rotation: Rotation, start: datetime, end: datetime) -> Iterator[datetime]:
        first = self._turn(rotation, max(start, rotation.handoff_at))
        if first is None:
            return
        origin = _wall(rotation.handoff_at, self.zone)
        turn = first + 1
        while (moment := self._instant(origin + turn * rotation.shift_length)) < end:
            yield moment
            turn += 1

    def _instant(self, wall: datetime) -> datetime:
        return wall.replace(tzinfo=self.zone).astimezone(UTC)


def _rosters(schedules: Iterable[Schedule], start: datetime, end: datetime) -> dict[int, Roster]:
    """Rosters of `schedules` for the window [start, end], in three queries whatever their
    number."""
    schedules = list(schedules)
    ids = [schedule.pk for schedule in schedules]
    members = RotationMember.objects.select_related("user")
    rotations, overrides = defaultdict(list), defaultdict(list)
    for rotation in Rotation.objects.filter(schedule_id__in=ids).prefetch_related(
        Prefetch("memberships", queryset=members)
    ):
        rotations[rotation.schedule_id].append(rotation)
    for override in ScheduleOverride.objects.filter(
        schedule_id__in=ids, starts_at__lte=end, ends_at__gt=start
    ).select_related("user"):
        overrides[override.schedule_id].append(override)
    return {s.pk: Roster(s, rotations[s.pk], overrides[s.pk]) for s in schedules}


# --- reads ---------------------------------------------------------------------------------------


def oncall_entry(*, schedule: Schedule, at: datetime) -> OnCall | None:
    """Who is on call for `schedule` at `at`, and through which rotation (or an override)."""
    return _rosters([schedule], at, at)[schedule.pk].at(at)


def oncall_at(*, schedule: Schedule, at: datetime):
    """The user on call for `schedule` at `at`, or None."""
    entry = oncall_entry(schedule=schedule, at=at)
    return entry.user if entry else None


def oncall_now(*, schedules: Iterable[Schedule], at: datetime) -> dict:
    """Who is on call at `at` for each of `schedules` (pk → user or None), in two queries."""
    return {
        pk: (entry.user if (entry := roster.at(at)) else None)
        for pk, roster in _rosters(schedules, at, at).items()
    }


def oncall_shifts(*, schedule: Schedule, start: datetime, end: datetime) -> list[Shift]:
    """The shifts of `schedule` between `start` and `end`, for display."""
    return _rosters([schedule], start, end)[schedule.pk].shifts(start, end)


class BoardRow(NamedTuple):
    schedule: Schedule
    now: Shift | None
    shifts: list[Shift]  # gaps included, as shifts whose user is None


def _with_gaps(shifts: list[Shift], start: datetime, end: datetime) -> list[Shift]:
    timeline, covered_until = [], start
    for shift in [*shifts, Shift(end, end, None, "")]:
        if shift.start > covered_until:
            timeline.append(Shift(covered_until, shift.start, None, ""))
        if shift.user is not None:
            timeline.append(shift)
        covered_until = shift.end
    return timeline


def oncall_board(*, now: datetime, horizon: timedelta = BOARD_HORIZON) -> list[BoardRow]:
    """Every schedule with who is on call now and its timeline until `now + horizon`, where
    nobody on call shows as a gap. The first entry starts at `now`."""
    end = now + horizon
    rosters = _rosters(Schedule.objects.select_related("team"), now, end)
    rows = []
    for roster in rosters.values():
        timeline = _with_gaps(roster.shifts(now, end), now, end)
        current = timeline[0] if timeline[0].user is not None else None
        rows.append(BoardRow(roster.schedule, current, timeline))
    return rows


# --- writes --------------------------------------------------------------------------------------


def _require(actor, permission: str) -> None:
    if not actor.has_perm(permission):
        raise PermissionDeniedError("You do not have permission to do this.")


def _validate_rotation(rotation: dict) -> str | None:
    if rotation["shift_length"] < MIN_SHIFT_LENGTH:
        return f"{rotation['name']}: a shift lasts at least {MIN_SHIFT_LENGTH}."
    if rotation.get("ends_at") and rotation["ends_at"] <= rotation["handoff_at"]:
        return f"{rotation['name']}: it must end after its first hand-off."
    if not rotation.get("members"):
        return f"{rotation['name']}: it needs at least one member."
    return None


@transaction.atomic
def schedule_create(
    *,
    actor,
    slug: str,
    name: str,
    description: str = "",
    time_zone: str = "UTC",
    team=None,
    rotations: Iterable[dict] = (),
) -> Schedule:
    """A schedule with its rotations. Each rotation is a dict of name, layer, handoff_at,
    shift_length, ends_at (optional) and members: users in turn order."""
    _require(actor, "incidents.add_schedule")
    rotations = list(rotations)
    layers = [rotation["layer"] for rotation in rotations]
    errors = [error for error in map(_validate_rotation, rotations) if error]
    if len(set(layers)) != len(layers):
        errors.append("Each rotation needs its own layer.")
    if errors:
        raise ValidationFailed.for_fields({"rotations": errors})
    schedule = Schedule.objects.create(
        slug=slug, name=name, description=description, time_zone=time_zone, team=team
    )
    for data in rotations:
        members = data["members"]
        rotation = Rotation.objects.create(
            schedule=schedule,
            **{key: value for key, value in data.items() if key != "members"},
        )
        RotationMember.objects.bulk_create(
            RotationMember(rotation=rotation, user=user, position=position)
            for position, user in enumerate(members, start=1)
        )
    return schedule


def _on_call_throughout(schedule: Schedule, user, start: datetime, end: datetime) -> bool:
    """Whether `user` is on call for `schedule` for the whole of [start, end)."""
    covered_until = start
    for shift in oncall_shifts(schedule=schedule, start=start, end=end):
        if shift.start > covered_until or shift.user != user:
            return False
        covered_until = shift.end
    return covered_until >= end


def _may_be_on_call(user) -> bool:
    """Whoever is put on call must be able to acknowledge the pages: an active account that
    works incidents. Rotation membership is not required: cover often comes from elsewhere."""
    return user.is_active and user.has_perm(WORK_PERMISSION)


@transaction.atomic
def schedule_override_create(
    *, actor, schedule: Schedule, user, starts_at: datetime, ends_at: datetime, reason: str = ""
) -> ScheduleOverride:
    """`user` covers `schedule` from `starts_at` to `ends_at`, ahead of every rotation.
    Whoever may edit schedules may put anyone on call, at any time. A responder may take a
    shift (put themselves on call) or give one of theirs: put someone else on call for a time
    they are on call themselves, all of it; taking or giving the shift under way starts the
    override now (who was on call so far stays so). The person put on call must work incidents.
    The schedule is locked, so two people giving one shift at once cannot both give it."""
    _require(actor, "incidents.add_scheduleoverride")
    schedule = Schedule.objects.select_for_update().get(pk=schedule.pk)
    manages = actor.has_perm("incidents.change_schedule")
    if not manages and starts_at < timezone.now() < ends_at:
        starts_at = timezone.now()
    errors = {}
    if ends_at <= starts_at:
        errors["ends_at"] = "The override must end after it starts."
    if not _may_be_on_call(user):
        errors["user"] = f"{user.get_username()} cannot be on call: not an active responder."
    if errors:
        raise ValidationFailed.for_fields(errors)
    giving = user != actor and not manages
    if giving and not _on_call_throughout(schedule, actor, starts_at, ends_at):
        raise PermissionDeniedError(
            f"You may put yourself on call, or give away a shift of yours; you are not on call "
            f"for {schedule.name} for all of that time."
        )
    override = ScheduleOverride(
        schedule=schedule,
        user=user,
        starts_at=starts_at,
        ends_at=ends_at,
        reason=reason.strip(),
        created_by=actor,
    )
    override._history_user = actor
    override.save()
    return override
