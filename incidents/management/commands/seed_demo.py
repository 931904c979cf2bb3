"""Demo data: a service dependency graph, teams, one login per role, and ~50 incidents in every
state, each with a timeline that unfolds over the last 30 days.

Incidents are written only through incidents.services, each call at the moment it "happened"
(time-machine moves the clock around the call), so timestamps, timelines and history read as
they would after a month of real use. The same --seed gives the same stories.
"""

import contextlib
import os
import random
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from incidents import services, signals
from incidents.choices import ChangeSource, ChecklistItem, IncidentStatus, Priority, Transition
from incidents.management.commands._demo_data import (
    ALERT,
    CLOSE_NOTES,
    CUSTOMER,
    DUPLICATES,
    EMAIL,
    FALSE_POSITIVES,
    HOLD_REASONS,
    LADDER_SCHEDULES,
    LADDER_USERS,
    LOGINS,
    MANAGER_USER,
    ONCALL_SCHEDULES,
    PRIORITY_REASONS,
    REOPEN_REASONS,
    RESUME_NOTES,
    SCENARIOS,
    SERVICE_DESK_USER,
    SERVICE_TEAM,
    SERVICES,
    START_NOTES,
    TEAMS,
    USERS,
    FalsePositive,
    Scenario,
)
from incidents.models import EscalationPolicy, Incident, Schedule, Service, Team
from incidents.oncall.services import schedule_create
from itsm.roles import Role

S = IncidentStatus
CLI = ChangeSource.CLI
DEFAULT_SEED = 2026

# How many regular scenarios end in each state; the cancelled ones are the false positives
# and the duplicates.
STATUS_COUNTS = {
    S.NEW: 6,
    S.ACKNOWLEDGED: 5,
    S.INVESTIGATING: 7,
    S.ON_HOLD: 4,
    S.MITIGATED: 5,
    S.RESOLVED: 6,
    S.CLOSED: 11,
}
# How long ago (in days) an incident that ends in each state was logged.
AGE_DAYS = {
    S.NEW: (0.03, 0.2),
    S.ACKNOWLEDGED: (0.05, 0.8),
    S.INVESTIGATING: (0.2, 3),
    S.ON_HOLD: (1, 7),
    S.MITIGATED: (0.5, 4),
    S.RESOLVED: (1, 8),
    S.CLOSED: (6, 30),
    S.CANCELLED: (0.5, 25),
}
# Minutes between steps are multiplied by this: a P1 moves fast, a P4 takes its time.
PACE = {2: 1, 3: 2, 4: 4, 5: 8, 6: 12}
SAFETY_MARGIN = timedelta(minutes=45)


# --- stories: what happens to one incident, and when -------------------------------------------


class Story:
    """One incident's life: service calls, each some minutes after the one before."""

    def __init__(self, ends_in: str):
        self.ends_in = ends_in
        self.steps: list[tuple[float, Callable[[], object]]] = []
        self.minutes = 0.0
        self.incident: Incident | None = None
        self.logged_at = None

    def then(self, minutes: float, call: Callable[[], object]) -> None:
        self.minutes += minutes
        self.steps.append((self.minutes, call))

    def after(self, minutes: float, function, **kwargs) -> None:
        """Call an incident service on this story's incident, `minutes` after the last step."""
        self.then(minutes, lambda: function(incident=self.incident, source=CLI, **kwargs))

    def transition(self, minutes: float, name: Transition, actor, **fields) -> None:
        self.after(minutes, services.incident_transition, name=name, actor=actor, **fields)

    def note(self, minutes: float, actor, text: str, **fields) -> None:
        self.after(minutes, services.incident_add_note, actor=actor, text=text, **fields)

    def log(self, actor, *, lead_minutes: tuple[float, float], **fields) -> None:
        """The first step: the incident is logged; its impact started and was detected a few
        minutes earlier."""
        started, detected = lead_minutes

        def create():
            now = timezone.now()
            self.incident = services.incident_create(
                actor=actor,
                source=CLI,
                started_at=now - timedelta(minutes=started),
                detected_at=now - timedelta(minutes=detected),
                **fields,
            )

        self.then(0, create)

    @property
    def duration(self) -> timedelta:
        return timedelta(minutes=self.minutes)


class StoryWriter:
    """Writes each incident's story; a seeded random.Random picks people, paths and pace."""

    def __init__(self, *, rng: random.Random, now, users: dict, teams: dict):
        self.rng = rng
        self.now = now
        self.users = users
        self.teams = teams
        self.manager = users[MANAGER_USER]

    def _wait(self, low: float, high: float, pace: float = 1) -> float:
        return self.rng.uniform(low, high) * pace

    def _lead(self) -> tuple[float, float]:
        return self._wait(2, 25), self._wait(0, 2)

    def _reporter(self, source: str):
        """Monitoring logs alerts itself (no person); the service desk takes calls and email."""
        if source == ALERT:
            return None
        if source in (CUSTOMER, EMAIL):
            names = [SERVICE_DESK_USER, SERVICE_DESK_USER, MANAGER_USER]
        else:
            names = ["responder", "priya", "chen", "tomas", MANAGER_USER]
        return self.users[self.rng.choice(names)]

    def _owner(self, service_slug: str):
        """The service's owner team, and the team member who will pick the incident up."""
        slug = SERVICE_TEAM[service_slug]
        members = next(team.members for team in TEAMS if team.slug == slug)
        return self.teams[slug], self.users[self.rng.choice(members)]

    def place(self, story: Story) -> None:
        """Set when the story starts: at an age fitting where it ends, and never so late that
        a step would fall in the future."""
        low, high = AGE_DAYS[story.ends_in]
        age = max(timedelta(days=self.rng.uniform(low, high)), story.duration + SAFETY_MARGIN)
        story.logged_at = self.now - age

    def regular(self, scenario: Scenario, ends_in: str) -> Story:
        """A scenario that runs along the lifecycle until it reaches `ends_in`."""
        rng, story = self.rng, Story(ends_in)
        pace = PACE[scenario.impact + scenario.urgency]
        team, owner = self._owner(scenario.services[0])
        story.log(
            self._reporter(scenario.source),
            lead_minutes=self._lead(),
            title=scenario.title,
            description=scenario.description,
            impact=scenario.impact,
            urgency=scenario.urgency,
            services=list(scenario.services),
            team=team,
            incident_source=scenario.source,
            affected_users=scenario.affected_users,
            related_change=scenario.related_change,
        )
        if ends_in == S.NEW:
            return story
        story.transition(self._wait(2, 12, pace), Transition.ACKNOWLEDGE, owner)
        if ends_in == S.ACKNOWLEDGED:
            return story
        story.transition(
            self._wait(1, 8, pace), Transition.START, owner, note=rng.choice(START_NOTES)
        )
        story.note(self._wait(10, 40, pace), owner, scenario.finding)
        self._maybe_raise_priority(story, scenario, pace)
        if ends_in == S.ON_HOLD:
            self._hold(story, owner, pace)
        elif ends_in == S.INVESTIGATING:
            self._detour(story, scenario, owner, pace)
        else:
            self._restore(story, scenario, owner, pace)
        return story

    def _maybe_raise_priority(self, story: Story, scenario: Scenario, pace: float) -> None:
        derived = services.priority_for(scenario.impact, scenario.urgency)
        position = Priority.values.index(derived)
        if position == 0 or self.rng.random() > 0.3:
            return
        story.after(
            self._wait(5, 20, pace),
            services.incident_change_priority,
            actor=self.manager,
            priority=Priority.values[position - 1],
            reason=self.rng.choice(PRIORITY_REASONS),
        )

    def _hold(self, story: Story, owner, pace: float) -> None:
        story.transition(
            self._wait(10, 60, pace), Transition.HOLD, owner, reason=self.rng.choice(HOLD_REASONS)
        )

    def _detour(self, story: Story, scenario: Scenario, owner, pace: float) -> None:
        """An incident still under investigation has often been somewhere first: on hold,
        re-assessed as wider, or resolved too early and reopened."""
        rng, turn = self.rng, self.rng.random()
        if turn < 0.35:
            self._hold(story, owner, pace)
            story.transition(
                self._wait(60, 300), Transition.RESUME, owner, note=rng.choice(RESUME_NOTES)
            )
        elif turn < 0.6:
            story.after(
                self._wait(10, 60, pace),
                services.incident_update,
                actor=owner,
                impact=max(1, scenario.impact - 1),
                affected_users=scenario.affected_users * 3 + 10,
            )
        elif turn < 0.8:
            self._resolve(story, scenario, owner, pace)
            story.transition(
                self._wait(60, 600), Transition.REOPEN, owner, reason=rng.choice(REOPEN_REASONS)
            )
        story.note(self._wait(5, 30, pace), owner, "Still digging; next update within the hour.")

    def _resolve(self, story: Story, scenario: Scenario, owner, pace: float) -> None:
        story.transition(
            self._wait(30, 240, pace),
            Transition.RESOLVE,
            owner,
            resolution_code=scenario.resolution_code,
            resolution_notes=scenario.resolution_notes,
        )

    def _restore(self, story: Story, scenario: Scenario, owner, pace: float) -> None:
        """Mitigated, resolved or closed: service comes back, then the paperwork."""
        rng = self.rng
        if story.ends_in == S.MITIGATED or scenario.impact == 1 or rng.random() < 0.4:
            story.transition(
                self._wait(15, 60, pace), Transition.MITIGATE, owner, note=scenario.mitigation
            )
            if scenario.impact == 1:
                story.note(
                    self._wait(2, 10),
                    self.manager,
                    "Status update: the service is restored; we keep monitoring it.",
                    public=True,
                )
        if story.ends_in == S.MITIGATED:
            return
        self._resolve(story, scenario, owner, pace)
        closing = story.ends_in == S.CLOSED
        items = ChecklistItem.values if closing else ChecklistItem.values[: rng.randint(0, 4)]
        for item in items:
            story.after(
                self._wait(15, 240),
                services.incident_tick_checklist,
                actor=rng.choice([owner, owner, self.manager]),
                item=item,
            )
        if closing:
            story.transition(
                self._wait(5, 60), Transition.CLOSE, owner, note=rng.choice(CLOSE_NOTES)
            )

    def false_positive(self, alert: FalsePositive) -> Story:
        story = Story(S.CANCELLED)
        team, owner = self._owner(alert.service)
        story.log(
            self._reporter(alert.source),
            lead_minutes=self._lead(),
            title=alert.title,
            description=alert.description,
            impact=3,
            urgency=2,
            services=[alert.service],
            team=team,
            incident_source=alert.source,
        )
        if self.rng.random() < 0.5:
            story.transition(self._wait(5, 30), Transition.ACKNOWLEDGE, owner)
        story.transition(self._wait(5, 30), Transition.CANCEL, owner, reason=alert.reason)
        return story

    def duplicate(self, original: Story, scenario: Scenario, title: str, description: str):
        """A second report of an open incident, logged by the service desk minutes after the
        first and cancelled as its duplicate."""
        story = Story(S.CANCELLED)
        desk = self.users[SERVICE_DESK_USER]
        team, _ = self._owner(scenario.services[0])
        story.log(
            desk,
            lead_minutes=self._lead(),
            title=title,
            description=description,
            impact=2,
            urgency=1,
            services=list(scenario.services),
            team=team,
            incident_source=CUSTOMER,
        )

        def cancel():
            number = original.incident.number
            services.incident_cancel(
                incident=story.incident,
                actor=desk,
                source=CLI,
                duplicate_of=number,
                reason=f"Same problem as {number}; the caller was added to its updates.",
            )

        story.then(self._wait(5, 20), cancel)
        story.logged_at = original.logged_at + timedelta(minutes=self._wait(3, 15))
        return story


def _ensure_oncall(users: dict) -> None:
    """The demo's on-call schedules (weekly, hand-off Monday 09:00, running since before the
    oldest demo incident) and the default escalation ladder pointed at them, the manager and the
    admin, so that a new incident pages someone."""
    start = timezone.localtime() - timedelta(weeks=6)
    monday = start.replace(hour=9, minute=0, second=0, microsecond=0) - timedelta(
        days=start.weekday()
    )
    for slug, (name, members) in ONCALL_SCHEDULES.items():
        if Schedule.objects.filter(slug=slug).exists():
            continue
        schedule_create(
            actor=users["admin"],
            slug=slug,
            name=name,
            description="Responders take turns, a week each.",
            time_zone=settings.TIME_ZONE,
            rotations=[
                {
                    "name": "Weekly",
                    "layer": 1,
                    "handoff_at": monday,
                    "shift_length": timedelta(weeks=1),
                    "members": [users[username] for username in members],
                }
            ],
        )
    policy = EscalationPolicy.objects.filter(is_default=True).first()
    if policy is None:
        return
    schedules = {schedule.slug: schedule for schedule in Schedule.objects.all()}
    for level in policy.levels.all():
        if level.position in LADDER_SCHEDULES:
            level.target_schedules.add(schedules[LADDER_SCHEDULES[level.position]])
        if level.position in LADDER_USERS:
            level.target_users.add(users[LADDER_USERS[level.position]])


# --- the command -------------------------------------------------------------------------------


class Command(BaseCommand):
    help = (
        "Seed demo data: services, teams, one login per role and ~50 incidents in every state. "
        "Refuses to run with DEBUG off unless --force is given."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--if-empty", action="store_true", help="Do nothing when any incident exists."
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="Seed even with DEBUG off. Demo logins share a published password: never in "
            "production.",
        )
        parser.add_argument(
            "--seed",
            type=int,
            default=DEFAULT_SEED,
            help="Random seed; the same seed tells the same stories.",
        )

    def handle(self, *args, if_empty, force, seed, **options):
        if not settings.DEBUG and not force:
            raise CommandError(
                "Refusing to seed demo data with DEBUG off: the demo logins share a published "
                "password. Use --force only on a database that is not production."
            )
        if if_empty and Incident.objects.exists():
            self.stdout.write("The database already has incidents; not seeding demo data.")
            self._print_logins()
            return
        began = time.monotonic()
        with transaction.atomic():
            users = self._ensure_users()
            teams = self._ensure_teams(users)
            self._ensure_services(teams)
            _ensure_oncall(users)
            signals.demo_directory_seeded.send(
                sender=self.__class__,
                users=users,
                schedules={schedule.slug: schedule for schedule in Schedule.objects.all()},
            )
        rng = random.Random(seed)  # noqa: S311 (demo data, not secrets)
        writer = StoryWriter(rng=rng, now=timezone.now(), users=users, teams=teams)
        stories = self._write_stories(writer)
        self._play(stories)
        signals.demo_seeded.send(sender=self.__class__, users=users)
        statuses = Counter(
            Incident.objects.filter(pk__in=[s.incident.pk for s in stories]).values_list(
                "status", flat=True
            )
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"Seeded {len(SERVICES)} services, {len(TEAMS)} teams, {len(USERS)} users and "
                f"{len(stories)} incidents in {time.monotonic() - began:.1f} s."
            )
        )
        self.stdout.write(
            "  " + ", ".join(f"{statuses[s]} {label.lower()}" for s, label in S.choices)
        )
        self._print_logins()

    # --- the directory (get-or-create, so a second run adds no people, teams or services) --

    @staticmethod
    def _ensure_users() -> dict:
        User = get_user_model()
        users = {
            u.username: u for u in User.objects.filter(username__in=[u.username for u in USERS])
        }
        missing = [demo for demo in USERS if demo.username not in users]
        if not missing:
            return users
        password = make_password(settings.DEMO_PASSWORD)  # hashed once: hashing is slow
        groups = {group.name: group for group in Group.objects.filter(name__in=Role.values)}
        for demo in missing:
            user = User.objects.create(
                username=demo.username,
                first_name=demo.first_name,
                last_name=demo.last_name,
                email=f"{demo.username}@example.org",
                is_staff=demo.is_staff,
                is_superuser=demo.is_superuser,
                password=password,
            )
            user.groups.add(groups[demo.role])
            users[demo.username] = user
        return users

    @staticmethod
    def _ensure_teams(users: dict) -> dict:
        teams = {}
        for demo in TEAMS:
            team, _ = Team.objects.get_or_create(
                slug=demo.slug,
                defaults={
                    "name": demo.name,
                    "description": demo.description,
                    "email": f"{demo.slug}@example.org",
                    "default_bridge_link": f"https://meet.example.com/{demo.slug}-bridge",
                },
            )
            team.members.add(*(users[name] for name in demo.members))
            teams[demo.slug] = team
        return teams

    @staticmethod
    def _ensure_services(teams: dict) -> None:
        by_slug = {}
        for demo in SERVICES:
            service, _ = Service.objects.get_or_create(
                slug=demo.slug,
                defaults={
                    "name": demo.name,
                    "description": demo.description,
                    "tier": demo.tier,
                    "owner_team": teams[demo.team],
                    "user_count": demo.user_count,
                },
            )
            service.depends_on.add(*(by_slug[slug] for slug in demo.depends_on))
            by_slug[demo.slug] = service

    # --- incidents -------------------------------------------------------------------------

    @staticmethod
    def _write_stories(writer: StoryWriter) -> list[Story]:
        endings = [status for status, count in STATUS_COUNTS.items() for _ in range(count)]
        writer.rng.shuffle(endings)
        stories, by_title = [], {}
        for scenario, ends_in in zip(SCENARIOS, endings, strict=True):
            story = writer.regular(scenario, ends_in)
            writer.place(story)
            stories.append(story)
            by_title[scenario.title] = (scenario, story)
        for alert in FALSE_POSITIVES:
            story = writer.false_positive(alert)
            writer.place(story)
            stories.append(story)
        for original_title, title, description in DUPLICATES:
            scenario, original = by_title[original_title]
            stories.append(writer.duplicate(original, scenario, title, description))
        return stories

    def _play(self, stories: list[Story]) -> None:
        """Run every step of every story in the order they happened, each at its moment, so
        numbers follow creation time and timelines interleave as they would have."""
        clock = self._clock()
        steps = sorted(
            (story.logged_at + timedelta(minutes=minutes), i, j, call)
            for i, story in enumerate(stories)
            for j, (minutes, call) in enumerate(story.steps)
        )
        for at, _, _, call in steps:
            with clock(at):
                call()

    def _clock(self) -> Callable:
        """time-machine is a development dependency; without it every step happens now."""
        try:
            import time_machine
        except ImportError:
            self.stderr.write("time-machine is not installed: every demo event is dated now.")
            return lambda at: contextlib.nullcontext()
        return lambda at: time_machine.travel(at, tick=False)

    def _print_logins(self) -> None:
        present = set(
            get_user_model()
            .objects.filter(username__in=[u.username for u in LOGINS])
            .values_list("username", flat=True)
        )
        logins = [demo for demo in LOGINS if demo.username in present]
        if not logins:
            return
        password = settings.DEMO_PASSWORD
        width = max(len(password), len("password"))
        self.stdout.write("")
        self.stdout.write(self.style.MIGRATE_HEADING("Demo logins"))
        self.stdout.write(f"  {'username':<12} {'password':<{width}}  role")
        for demo in logins:
            self.stdout.write(f"  {demo.username:<12} {password:<{width}}  {demo.role.label}")
        host = os.environ.get("HOST", "127.0.0.1")
        port = os.environ.get("PORT", "8000")
        self.stdout.write(f"Sign in at http://{host}:{port}/login/ (admin site: /admin/).")
