"""A hand-built month of incidents with known metrics (tests/postmortems/test_metrics*.py).

Every incident is moved through its lifecycle by the services under time-machine, so each
timestamp is one the product recorded. The expected figures are worked out in the comments.
"""

from datetime import UTC, date, datetime, time, timedelta

import time_machine

from incidents.choices import SlaKind
from incidents.models import BusinessCalendar, SlaPolicy, SlaTarget, WorkingHours
from tests.factories import ServiceFactory, TeamFactory, make_incident
from tests.postmortems.reviews import T0

FIRST_DAY, LAST_DAY = date(2026, 3, 1), date(2026, 3, 31)
MINUTE = 60


def _policy(slug: str, *, targets, calendar=None, business=False) -> SlaPolicy:
    policy = SlaPolicy.objects.create(slug=slug, name=slug, pause_on_hold=True, calendar=calendar)
    SlaTarget.objects.bulk_create(
        SlaTarget(
            policy=policy,
            priority=priority,
            kind=kind,
            duration=timedelta(minutes=minutes),
            business_time=business,
        )
        for priority, kind, minutes in targets
    )
    return policy


def _office_hours() -> BusinessCalendar:
    calendar = BusinessCalendar.objects.create(slug="office", name="Office", time_zone="UTC")
    WorkingHours.objects.bulk_create(
        WorkingHours(calendar=calendar, weekday=day, start=time(9), end=time(17))
        for day in range(5)
    )
    return calendar


def build(traveller, drive, actor) -> dict:
    """Seven incidents in March 2026; returns them by name.

    - a  P1 checkout, impact 2 min before logging; ack +3 min, start +5, mitigate +20,
         resolve +40. MTTD 120 s, MTTA 180, response 300, mitigate 1200, resolve 2400.
    - b  P1 checkout, impact 4 min before; ack +1, start +2, hold +10 → resume +30 (20 min
         paused), resolve +70. MTTD 240, MTTA 60, response 120, mitigate = resolve =
         70 − 20 = 50 min = 3000 s. Its resolve SLA (1 h) is met: the hold pushed it to 1 h 20.
    - c  P3 search, same problem as nothing; ack +10 (its 5 min ack SLA breached), start +10,
         resolve +30, reopen +40, resolve +60. MTTA 600, response 600, mitigate and resolve
         3600 (the last resolution). Reopened.
    - d  P3 search, cancelled as a false positive at +4 (its ack SLA cancelled, not due).
    - e  P2 checkout, still new: every duration but MTTD missing.
    - f  P3 checkout, problem PRB-1 like a, logged 3 days after a: a recurrence.
    - g  P2 on the business-hours service, logged Friday 16:30; acknowledged Monday 09:30:
         60 business minutes, so its 2 business-hour ack SLA is met; MTTA 65 h wall clock.
    """
    checkout = ServiceFactory(slug="checkout", name="Checkout")
    search = ServiceFactory(slug="search", name="Search")
    hours = ServiceFactory(slug="payroll", name="Payroll")
    team = TeamFactory(slug="payments", name="Payments")
    wall = _policy(
        "wall",
        targets=[
            ("P1", SlaKind.ACKNOWLEDGE, 15),
            ("P1", SlaKind.RESOLVE, 60),
            ("P2", SlaKind.ACKNOWLEDGE, 15),
            ("P3", SlaKind.ACKNOWLEDGE, 5),
        ],
    )
    business = _policy(
        "business",
        targets=[("P2", SlaKind.ACKNOWLEDGE, 120)],
        calendar=_office_hours(),
        business=True,
    )
    checkout.sla_policy = search.sla_policy = wall
    hours.sla_policy = business
    for service in (checkout, search, hours):
        service.save()

    def log(moment, **fields):
        traveller.move_to(moment)
        return make_incident(actor=actor, assignee=actor, **fields)

    def then(incident, moment, *names):
        traveller.move_to(moment)
        return drive(incident, actor, *names)

    made = {}
    a = log(
        T0,
        priority="P1",
        services=["checkout"],
        team=team,
        related_problem="PRB-1",
        started_at=T0 - timedelta(minutes=2),
    )
    then(a, T0 + timedelta(minutes=3), "acknowledge")
    then(a, T0 + timedelta(minutes=5), "start")
    then(a, T0 + timedelta(minutes=20), "mitigate")
    made["a"] = then(a, T0 + timedelta(minutes=40), "resolve")

    t1 = T0 + timedelta(hours=1)
    b = log(
        t1, priority="P1", services=["checkout"], team=team, started_at=t1 - timedelta(minutes=4)
    )
    then(b, t1 + timedelta(minutes=1), "acknowledge")
    then(b, t1 + timedelta(minutes=2), "start")
    then(b, t1 + timedelta(minutes=10), "hold")
    then(b, t1 + timedelta(minutes=30), "resume")
    made["b"] = then(b, t1 + timedelta(minutes=70), "resolve")

    t2 = T0 + timedelta(hours=3)
    c = log(t2, priority="P3", services=["search"])
    then(c, t2 + timedelta(minutes=10), "acknowledge", "start")
    then(c, t2 + timedelta(minutes=30), "resolve")
    then(c, t2 + timedelta(minutes=40), "reopen")
    made["c"] = then(c, t2 + timedelta(minutes=60), "resolve")

    t3 = T0 + timedelta(hours=5)
    d = log(t3, priority="P3", services=["search"])
    made["d"] = then(d, t3 + timedelta(minutes=4), "cancel")

    made["e"] = log(T0 + timedelta(hours=6), priority="P2", services=["checkout"], team=team)
    made["f"] = log(
        T0 + timedelta(days=3), priority="P3", services=["checkout"], related_problem="PRB-1"
    )

    friday = datetime(2026, 3, 6, 16, 30, tzinfo=UTC)
    g = log(friday, priority="P2", services=["payroll"], incident_source="api")
    made["g"] = then(g, datetime(2026, 3, 9, 9, 30, tzinfo=UTC), "acknowledge")
    traveller.move_to(datetime(2026, 4, 15, tzinfo=UTC))
    return made


def more_incidents(drive, actor, count: int) -> None:
    """`count` more P2s, acknowledged, started and resolved at once: data to grow a report."""
    with time_machine.travel(T0, tick=False):
        for _ in range(count):
            incident = make_incident(actor=actor, assignee=actor, priority="P2")
            drive(incident, actor, "acknowledge", "start", "resolve")
