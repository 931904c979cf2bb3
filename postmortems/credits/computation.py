"""The credit owed for one customer and one month, from the outage windows of its incidents:
pure arithmetic, no database (the selectors fetch the windows, the services freeze the result).

Definitions (docs/credits.md says the same):

- The month runs from 00:00 UTC on its first day to 00:00 UTC on the next month's first day.
- An incident's outage window runs from its impact start (`started_at`) to its mitigation
  (`mitigated_at`), or its resolution if it was never mitigated; a window with neither is still
  open and runs until `now`. Each window is clipped to the month (and to `now`).
- Downtime is the length of the union of the clipped windows: overlapping windows count once.
  It is counted in whole seconds (a fraction of a second is dropped).
- Availability = 100 × (month length − downtime) / month length, in percent; it is compared
  exactly and stored rounded down to 4 decimal places.
- Breached: availability below the contract's target.
- Credit: of the tiers whose threshold the availability is below, the deepest (lowest
  threshold, hence highest credit); none applies → 0 %. Amount = fee × credit %, to the cent
  (half up).
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from itertools import pairwise

CENT = Decimal("0.01")
AVAILABILITY_PLACES = Decimal("0.0001")
HUNDRED = Decimal(100)


@dataclass(frozen=True)
class Window:
    """An incident's outage window as recorded; `ended_at` None: still open."""

    incident: str
    priority: str
    started_at: datetime
    ended_at: datetime | None


@dataclass(frozen=True)
class Tier:
    below: Decimal
    credit_percent: Decimal


@dataclass(frozen=True)
class Contract:
    availability_target: Decimal
    tiers: tuple[Tier, ...]
    monthly_fee: Decimal


@dataclass(frozen=True)
class Figures:
    period_start: datetime
    period_end: datetime
    period_seconds: int
    downtime_seconds: int
    availability: Decimal
    breached: bool
    credit_percent: Decimal
    credit_amount: Decimal
    incidents: list[dict]


def month_bounds(month: date) -> tuple[datetime, datetime]:
    """The month of `month` (any day of it), as [start, end) in UTC."""
    start = datetime(month.year, month.month, 1, tzinfo=UTC)
    following = (start.month % 12) + 1, start.year + (start.month == 12)
    return start, datetime(following[1], following[0], 1, tzinfo=UTC)


def tier_problems(tiers: list[Tier], target: Decimal) -> list[str]:
    """What is wrong with `tiers` in the order given: thresholds must descend and credits
    ascend strictly, and no threshold may exceed the target (no credit without a breach)."""
    problems = []
    for earlier, later in pairwise(tiers):
        if later.below >= earlier.below:
            problems.append(
                f"Thresholds must descend: {later.below} % comes after {earlier.below} %."
            )
        if later.credit_percent <= earlier.credit_percent:
            problems.append(
                f"Credits must ascend: {later.credit_percent} % comes after "
                f"{earlier.credit_percent} %."
            )
    problems.extend(
        f"The threshold {tier.below} % is above the availability target {target} %."
        for tier in tiers
        if target is not None and tier.below > target
    )
    return problems


def _clipped(window: Window, start: datetime, end: datetime) -> tuple[datetime, datetime] | None:
    began = max(window.started_at, start)
    ended = min(window.ended_at or end, end)
    return (began, ended) if began < ended else None


def _union_seconds(spans: list[tuple[datetime, datetime]]) -> int:
    """The length of the union of `spans`, in whole seconds: overlaps count once."""
    total = 0
    current_start = current_end = None
    for began, ended in sorted(spans):
        if current_end is None or began > current_end:
            if current_end is not None:
                total += (current_end - current_start).total_seconds()
            current_start, current_end = began, ended
        else:
            current_end = max(current_end, ended)
    if current_end is not None:
        total += (current_end - current_start).total_seconds()
    return int(total)


def _credit_tier(up: Decimal, period: int, tiers: tuple[Tier, ...]) -> Tier | None:
    """The deepest tier whose threshold `up` / `period` (the availability) is below."""
    applicable = [tier for tier in tiers if up < tier.below * period]
    return min(applicable, key=lambda tier: tier.below, default=None)


def credit_figures(
    *, windows: list[Window], month: date, contract: Contract, now: datetime
) -> Figures:
    """The month's figures for a contract, from its incidents' outage windows."""
    start, end = month_bounds(month)
    period = int((end - start).total_seconds())
    counted = []
    spans = []
    for window in windows:
        span = _clipped(window, start, min(end, now))
        if span is None:
            continue
        spans.append(span)
        counted.append(_counted_row(window, span))
    downtime = _union_seconds(spans)
    up = HUNDRED * (period - downtime)  # availability × period, so comparisons stay exact
    tier = _credit_tier(up, period, contract.tiers)
    credit = tier.credit_percent if tier else Decimal(0)
    return Figures(
        period_start=start,
        period_end=end,
        period_seconds=period,
        downtime_seconds=downtime,
        availability=(up / period).quantize(AVAILABILITY_PLACES, rounding=ROUND_FLOOR),
        breached=up < contract.availability_target * period,
        credit_percent=credit,
        credit_amount=(contract.monthly_fee * credit / HUNDRED).quantize(
            CENT, rounding=ROUND_HALF_UP
        ),
        incidents=sorted(counted, key=lambda row: (row["counted_from"], row["number"])),
    )


def _iso(moment: datetime) -> str:
    """UTC, written as the API writes times (`2026-11-10T09:00:00Z`)."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _counted_row(window: Window, span: tuple[datetime, datetime]) -> dict:
    """An incident counted, as the statement freezes it (JSON)."""
    return {
        "number": window.incident,
        "priority": window.priority,
        "started_at": _iso(window.started_at),
        "ended_at": _iso(window.ended_at) if window.ended_at else None,
        "counted_from": _iso(span[0]),
        "counted_until": _iso(span[1]),
        "seconds": int((span[1] - span[0]).total_seconds()),
    }
