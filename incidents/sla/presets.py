"""The three SLA presets of SPEC §2, one per reference procedure, as data, and their loader.

`load_preset` creates or updates the policy (its slug is the preset's name) with exactly the
preset's targets. Business-time targets count the "Business hours" calendar (Mon–Fri 09:00–17:00
in settings.TIME_ZONE), created when missing and left alone when it exists, so holidays an
administrator added survive a reload. The loader takes the model classes as an argument, so the
data migration runs it on its historical models.
"""

from dataclasses import dataclass
from datetime import time, timedelta
from types import SimpleNamespace

from django.conf import settings
from django.db import transaction

from incidents.choices import Priority, SlaKind, Weekday

ACK, RESPOND, MITIGATE, RESOLVE, UPDATE = (
    SlaKind.ACKNOWLEDGE,
    SlaKind.RESPOND,
    SlaKind.MITIGATE,
    SlaKind.RESOLVE,
    SlaKind.UPDATE,
)
P1, P2, P3, P4 = Priority.P1, Priority.P2, Priority.P3, Priority.P4


@dataclass(frozen=True)
class Target:
    kind: str
    duration: timedelta
    business_time: bool = False


@dataclass(frozen=True)
class Preset:
    slug: str
    name: str
    description: str
    targets: dict[str, tuple[Target, ...]]

    @property
    def needs_calendar(self) -> bool:
        return any(t.business_time for targets in self.targets.values() for t in targets)


def minutes(n: int) -> timedelta:
    return timedelta(minutes=n)


def hours(n: int) -> timedelta:
    return timedelta(hours=n)


def days(n: int) -> timedelta:
    return timedelta(days=n)


def business(kind: str, duration: timedelta) -> Target:
    """A target counted in the working hours of the policy's calendar."""
    return Target(kind, duration, business_time=True)


PRESETS = {
    preset.slug: preset
    for preset in (
        Preset(
            slug="response-workflow",
            name="Incident response workflow",
            description="Acknowledge, mitigate and resolve on the wall clock "
            "(reference: incident-response-workflow).",
            targets={
                P1: (
                    Target(ACK, minutes(15)),
                    Target(MITIGATE, hours(1)),
                    Target(RESOLVE, hours(4)),
                ),
                P2: (Target(ACK, hours(1)), Target(MITIGATE, hours(4)), Target(RESOLVE, hours(24))),
                P3: (Target(ACK, hours(4)), Target(MITIGATE, hours(24)), Target(RESOLVE, days(7))),
                P4: (Target(ACK, hours(24)), Target(MITIGATE, days(7)), Target(RESOLVE, days(30))),
            },
        ),
        Preset(
            slug="techflow",
            name="TechFlow incident management",
            description="Acknowledge, respond, resolve and a stakeholder-update cadence; P3 and "
            "P4 resolve in business time (reference: incident-management-procedures).",
            targets={
                P1: (
                    Target(ACK, minutes(5)),
                    Target(RESPOND, minutes(10)),
                    Target(RESOLVE, minutes(45)),
                    Target(UPDATE, minutes(30)),
                ),
                P2: (
                    Target(ACK, minutes(15)),
                    Target(RESPOND, minutes(20)),
                    Target(RESOLVE, hours(2)),
                    Target(UPDATE, minutes(60)),
                ),
                P3: (
                    Target(ACK, hours(1)),
                    Target(RESPOND, hours(2)),
                    business(RESOLVE, hours(8)),
                    Target(UPDATE, hours(24)),
                ),
                # Updates "as needed": no update timer.
                P4: (
                    Target(ACK, hours(24)),
                    Target(RESPOND, hours(48)),
                    business(RESOLVE, hours(40)),
                ),
            },
        ),
        Preset(
            slug="workflow-guide",
            name="Incident workflow guide",
            description="Respond and resolve; P4 responds within one business day "
            "(reference: incident-workflow-guide).",
            targets={
                P1: (Target(RESPOND, minutes(15)), Target(RESOLVE, hours(4))),
                P2: (Target(RESPOND, hours(1)), Target(RESOLVE, hours(8))),
                P3: (Target(RESPOND, hours(4)), Target(RESOLVE, days(3))),
                P4: (business(RESPOND, hours(8)), Target(RESOLVE, days(5))),
            },
        ),
    )
}
DEFAULT_PRESET = "response-workflow"

BUSINESS_CALENDAR_SLUG = "business-hours"
BUSINESS_CALENDAR_NAME = "Business hours"
BUSINESS_DAYS = (
    Weekday.MONDAY,
    Weekday.TUESDAY,
    Weekday.WEDNESDAY,
    Weekday.THURSDAY,
    Weekday.FRIDAY,
)
BUSINESS_OPENS, BUSINESS_CLOSES = time(9), time(17)


def current_models() -> SimpleNamespace:
    from incidents.models import BusinessCalendar, SlaPolicy, SlaTarget, WorkingHours

    return SimpleNamespace(
        BusinessCalendar=BusinessCalendar,
        WorkingHours=WorkingHours,
        SlaPolicy=SlaPolicy,
        SlaTarget=SlaTarget,
    )


def business_calendar(models):
    """The "Business hours" calendar, created (Mon–Fri 09:00–17:00) when missing."""
    calendar, created = models.BusinessCalendar.objects.get_or_create(
        slug=BUSINESS_CALENDAR_SLUG,
        defaults={"name": BUSINESS_CALENDAR_NAME, "time_zone": settings.TIME_ZONE},
    )
    if created:
        models.WorkingHours.objects.bulk_create(
            models.WorkingHours(
                calendar=calendar, weekday=day, start=BUSINESS_OPENS, end=BUSINESS_CLOSES
            )
            for day in BUSINESS_DAYS
        )
    return calendar


@transaction.atomic
def load_preset(name: str, *, make_default: bool = False, models=None):
    """Create or update the policy of preset `name` so its targets are exactly the preset's;
    with `make_default`, it becomes the default policy. Running it again changes nothing."""
    preset = PRESETS[name]
    models = models or current_models()
    calendar = business_calendar(models) if preset.needs_calendar else None
    policy, _ = models.SlaPolicy.objects.update_or_create(
        slug=preset.slug,
        defaults={
            "name": preset.name,
            "description": preset.description,
            "warning_percent": 75,
            "pause_on_hold": True,
            "calendar": calendar,
        },
    )
    wanted = {
        (priority, target.kind): target
        for priority, targets in preset.targets.items()
        for target in targets
    }
    for (priority, kind), target in wanted.items():
        models.SlaTarget.objects.update_or_create(
            policy=policy,
            priority=priority,
            kind=kind,
            defaults={"duration": target.duration, "business_time": target.business_time},
        )
    for extra in models.SlaTarget.objects.filter(policy=policy):
        if (extra.priority, extra.kind) not in wanted:
            extra.delete()
    if make_default and not policy.is_default:
        models.SlaPolicy.objects.filter(is_default=True).update(is_default=False)
        policy.is_default = True
        policy.save(update_fields=["is_default"])
    return policy
