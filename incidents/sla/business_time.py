"""Business-time arithmetic: SLA targets that count only working hours.

A `WorkingCalendar` is a time zone, the working intervals of each weekday (local wall-clock
times) and a set of holidays. Intervals are turned into aware datetimes day by day in the
calendar's zone, so a daylight-saving change shortens or lengthens the day as it does for the
people working it.
"""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

MAX_DAYS_SCANNED = 3 * 366
ZERO = timedelta(0)


@dataclass(frozen=True)
class WorkingCalendar:
    time_zone: ZoneInfo
    # weekday (Monday 0) -> ((start, end), ...) local times, start < end
    hours: dict[int, tuple[tuple[time, time], ...]]
    holidays: frozenset[date] = field(default_factory=frozenset)

    def __post_init__(self):
        if not any(self.hours.get(day) for day in range(7)):
            raise ValueError("A working calendar needs working hours on at least one weekday.")

    def intervals_on(self, day: date) -> list[tuple[datetime, datetime]]:
        """The day's working intervals in UTC (empty on holidays). Converted to UTC because
        Python compares and subtracts datetimes of one zone by wall time, which is wrong
        across a daylight-saving change."""
        if day in self.holidays:
            return []
        return [
            (self._utc(day, start), self._utc(day, end))
            for start, end in self.hours.get(day.weekday(), ())
        ]

    def _utc(self, day: date, moment: time) -> datetime:
        return datetime.combine(day, moment, tzinfo=self.time_zone).astimezone(UTC)


def _days_from(moment: datetime, calendar: WorkingCalendar):
    day = moment.astimezone(calendar.time_zone).date()
    for offset in range(MAX_DAYS_SCANNED):
        yield day + timedelta(days=offset)
    raise ValueError("No working time within three years: check the calendar's holidays.")


def add_business_time(start: datetime, duration: timedelta, calendar: WorkingCalendar) -> datetime:
    """The moment `duration` of working time after `start`."""
    if duration < ZERO:
        raise ValueError("duration must not be negative")
    remaining = duration
    for day in _days_from(start, calendar):
        for opens, closes in calendar.intervals_on(day):
            begin = max(opens, start)
            if begin >= closes:
                continue
            available = closes - begin
            if remaining <= available:
                return begin + remaining
            remaining -= available
    raise AssertionError("unreachable")  # _days_from raises first


def business_time_between(start: datetime, end: datetime, calendar: WorkingCalendar) -> timedelta:
    """Working time from `start` to `end` (zero if end is not after start)."""
    if end <= start:
        return ZERO
    total = ZERO
    for day in _days_from(start, calendar):
        for opens, closes in calendar.intervals_on(day):
            if opens >= end:
                return total
            begin, finish = max(opens, start), min(closes, end)
            if finish > begin:
                total += finish - begin
        if calendar._utc(day + timedelta(days=1), time()) >= end:
            return total
    raise AssertionError("unreachable")
