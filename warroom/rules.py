"""Automatic declaration (SPEC §4): the criteria in `DeclarationRule`, editable in the admin.

- `affected_users`: when an incident is created, changes priority or changes services, its
  services' users are counted through the dependency graph (`incidents.selectors`); more than
  the threshold declares it major.
- `unacknowledged`: every unacknowledged incident has a `DeclarationWatch` (written in the
  transaction that creates the incident or changes its priority) saying since when it
  has had its priority (created: its creation; raised later: the change). The SLA clock fires
  the watches of the rule's priority once `since` + threshold has passed (registered in
  `WarroomConfig.ready()`), so the declaration lands on time, and only once with any number of
  clocks: the watch is locked with SKIP LOCKED and marked fired in the same transaction.

A rule declares as the system (no actor) and never declares an incident that is or was a major
incident: a demoted one was demoted by a manager, who decided.

A room a rule opens starts staffed: its major incident manager is whoever is on call for the
rule's manager schedule, else the rule's fallback manager, and is paged with the room's link;
its bridge is the incident's services' (or team's) default bridge link. When nobody can be
named, the room still opens, and the timeline and every ITSM manager are told why.
"""

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import OuterRef, QuerySet, Subquery
from django.utils import timezone

from incidents.choices import ChangeSource, EventType, IncidentStatus
from incidents.models import Incident, IncidentEvent
from incidents.oncall.services import oncall_at
from incidents.selectors import affected_users_for
from itsm.templatetags.people import display_name
from warroom import selectors, services
from warroom.choices import DeclarationTrigger, RuleKind
from warroom.models import DeclarationRule, DeclarationWatch, MajorIncident

CLOCK_WORK = "declaration_watches"
NAMED_SERVICES = 10  # an impact statement names this many services, then counts the rest
RULE_PEOPLE = ("manager", "manager_schedule")


def _enabled_rule(kind: str) -> DeclarationRule | None:
    rules = DeclarationRule.objects.filter(kind=kind, enabled=True)
    return rules.select_related(*RULE_PEOPLE).first()


def _window(rule: DeclarationRule) -> timedelta:
    return timedelta(minutes=rule.threshold)


def _never_major(incident: Incident) -> bool:
    return not MajorIncident.objects.filter(incident=incident).exists()


def _on_call_manager(rule: DeclarationRule, now: datetime) -> tuple[object | None, str]:
    """Whoever is on call for the rule's manager schedule, and how they were found (or why
    nobody was)."""
    schedule = rule.manager_schedule
    if schedule is None:
        return None, "no manager schedule is set"
    user = oncall_at(schedule=schedule, at=now)
    if user is None:
        return None, f"nobody is on call for {schedule.name}"
    if not services.is_staff_user(user):
        return None, f"{display_name(user)}, on call for {schedule.name}, may not work in war rooms"
    return user, f"on call for {schedule.name}"


def _rule_manager(rule: DeclarationRule, now: datetime) -> tuple[object | None, str]:
    """The major incident manager a rule names, and how (or, when it names nobody, why):
    the on-call of its schedule, else its fallback manager. Someone who may not work in war
    rooms (who left, or lost the role) is passed over rather than the incident not being
    declared."""
    user, how = _on_call_manager(rule, now)
    if user is not None:
        return user, how
    fallback = rule.manager
    if fallback is None:
        return None, f"{how}, and no fallback manager is set"
    if not services.is_staff_user(fallback):
        who = display_name(fallback)
        return None, f"{how}, and the fallback manager {who} may not work in war rooms"
    return fallback, f"the rule's fallback manager: {how}"


def _declare(incident: Incident, rule: DeclarationRule, *, trigger: str, statement: str):
    manager, how = _rule_manager(rule, timezone.now())
    return _declare_naming(
        incident, manager, how, trigger=trigger, detail=rule.describe(), statement=statement
    )


def _declare_naming(incident: Incident, manager, how: str, *, trigger, detail, statement):
    major = services.major_incident_declare(
        incident=incident,
        actor=None,
        source=ChangeSource.JOB,
        manager=manager,
        bridge_link=selectors.default_bridge_link(incident),
        trigger=trigger,
        trigger_detail=detail,
        initial_impact_statement=statement,
    )
    services.major_incident_page_manager(major=major, how=how)
    return major


# --- an alert routing rule said so ------------------------------------------------------------


def declare_for_alert_rule(*, incident_id: int, rule: str) -> MajorIncident | None:
    """Declare an incident an alert routing rule opened as major, inside the transaction that
    opened it. Its manager is named as the declaration rules name one (the `unacknowledged`
    rule's schedule, else its fallback; that rule need not be enabled), so the room starts
    staffed; nobody named is said on the timeline, as for every rule."""
    incident = Incident.objects.select_for_update(of=("self",)).get(pk=incident_id)
    if not incident.is_open or not _never_major(incident):
        return None
    naming = (
        DeclarationRule.objects.select_related(*RULE_PEOPLE)
        .filter(kind__in=(RuleKind.UNACKNOWLEDGED, RuleKind.AFFECTED_USERS))
        .order_by("-kind")  # unacknowledged first
        .first()
    )
    if naming is None:
        manager, how = None, "no declaration rule names a manager schedule or a fallback manager"
    else:
        manager, how = _rule_manager(naming, timezone.now())
    statement = f"{incident.number} ({incident.priority}) opened from alerts: {incident.title}"
    return _declare_naming(
        incident,
        manager,
        how,
        trigger=DeclarationTrigger.ALERT_RULE,
        detail=f"alert routing rule “{rule}”"[:200],
        statement=statement,
    )


# --- more than N affected users ----------------------------------------------------------------


def _service_names(services_: list) -> str:
    names = [service.name for service in services_[:NAMED_SERVICES]]
    rest = len(services_) - len(names)
    return ", ".join(names + ([f"{rest} more"] if rest else []))


def affected_users_rule_covers(priority: str) -> bool:
    """Whether the enabled `affected_users` rule looks at incidents of this priority."""
    rules = DeclarationRule.objects.filter(kind=RuleKind.AFFECTED_USERS, enabled=True)
    return rules.filter(priority=priority).exists()


def check_affected_users(*, incident_id: int) -> MajorIncident | None:
    """Declare the incident major if the `affected_users` rule says so. Checked and declared
    under the incident's lock, so a manager declaring (or demoting) at the same moment is
    either seen here or sees this declaration."""
    rule = _enabled_rule(RuleKind.AFFECTED_USERS)
    if rule is None:
        return None
    with transaction.atomic():
        incident = Incident.objects.select_for_update(of=("self",)).filter(pk=incident_id).first()
        if incident is None or not incident.is_open or incident.priority != rule.priority:
            return None
        if not _never_major(incident):
            return None
        services_ = list(incident.services.order_by("name"))
        users = affected_users_for(services_)
        if users <= rule.threshold:
            return None
        them = "it" if len(services_) == 1 else "them"
        statement = (
            f"{users:,} users affected through {_service_names(services_)} "
            f"and the services that depend on {them}."
        )
        return _declare(
            incident, rule, trigger=DeclarationTrigger.AFFECTED_USERS, statement=statement
        )


# --- not acknowledged within N minutes: the watches ------------------------------------------


def _latest_priority_change():
    """When an incident (the outer query's) last changed priority, as a subquery."""
    changes = IncidentEvent.objects.filter(incident=OuterRef("pk"), type=EventType.PRIORITY_CHANGE)
    return Subquery(changes.order_by("-at", "-id").values("at")[:1])


def watch_arm(*, incident_id: int) -> None:
    """Count an unacknowledged incident's time at its priority from when it took it (its
    latest priority change, else its creation). A watch that fired stays fired; one the clock
    found stale (its priority had just changed) counts again from the change. Called inside
    the change's transaction, which holds the incident's lock: two arms never race."""
    incident = (
        Incident.objects.filter(pk=incident_id, status=IncidentStatus.NEW)
        .annotate(changed_at=_latest_priority_change())
        .values("priority", "created_at", "changed_at")
        .first()
    )
    if incident is None:
        return
    fields = {
        "priority": incident["priority"],
        "since": incident["changed_at"] or incident["created_at"],
        "cancelled_at": None,
    }
    watch = DeclarationWatch.objects.filter(incident_id=incident_id).first()
    if watch is None:
        watch_start(incident_id=incident_id, priority=fields["priority"], since=fields["since"])
    elif watch.fired_at is None:
        DeclarationWatch.objects.filter(pk=watch.pk).update(**fields)


def watch_start(*, incident_id: int, priority: str, since: datetime) -> None:
    """A new incident's watch, from its creation: nothing to read first."""
    DeclarationWatch.objects.create(incident_id=incident_id, priority=priority, since=since)


def watch_cancel(*, incident_id: int) -> None:
    """The incident left `new` (acknowledged, resolved, cancelled): nothing left to watch."""
    DeclarationWatch.objects.filter(
        incident_id=incident_id, fired_at__isnull=True, cancelled_at__isnull=True
    ).update(cancelled_at=timezone.now())


def _pending_watches(rule: DeclarationRule) -> QuerySet[DeclarationWatch]:
    """Watches the rule looks at: a range of the partial index on (priority, since)."""
    return DeclarationWatch.objects.filter(
        priority=rule.priority, fired_at__isnull=True, cancelled_at__isnull=True
    )


def due_watches(now: datetime) -> QuerySet[DeclarationWatch]:
    """The clock's `due`. The moment a watch is due is `since` + the rule's threshold, worked
    out here from the rule as it is now rather than stored, so an edited threshold applies to
    every pending watch at once, with nothing to rewrite."""
    rule = _enabled_rule(RuleKind.UNACKNOWLEDGED)
    if rule is None:
        return DeclarationWatch.objects.none()
    return (
        _pending_watches(rule)
        .filter(since__lte=now - _window(rule))
        .select_related("incident")
        .select_for_update(skip_locked=True, of=("self", "incident"))
        .order_by("since", "pk")
    )


def next_watch_due(after: datetime) -> datetime | None:
    """The clock's `next_due`: when the next pending watch falls due after `after`."""
    rule = _enabled_rule(RuleKind.UNACKNOWLEDGED)
    if rule is None:
        return None
    window = _window(rule)
    since = (
        _pending_watches(rule)
        .filter(since__gt=after - window)
        .order_by("since")
        .values_list("since", flat=True)
        .first()
    )
    return since + window if since is not None else None


def fire_watch(watch: DeclarationWatch, now: datetime) -> None:
    """The clock's `fire`, with the watch and its incident locked: declare the incident major
    if it is still unacknowledged, still of the watched priority and was never major. Either
    way the watch is done (fired or cancelled), so it is never scanned again."""
    incident = watch.incident
    still = (
        incident.status == IncidentStatus.NEW
        and incident.priority == watch.priority
        and _never_major(incident)
    )
    if not still:
        watch.cancelled_at = now
        watch.save(update_fields=["cancelled_at"])
        return
    rule = DeclarationRule.objects.select_related(*RULE_PEOPLE).get(kind=RuleKind.UNACKNOWLEDGED)
    minutes = int((now - watch.since).total_seconds() // 60)
    statement = (
        f"{incident.number} ({incident.priority}) has not been acknowledged "
        f"{minutes} minutes after it became {incident.priority}: {incident.title}"
    )
    _declare(incident, rule, trigger=DeclarationTrigger.UNACKNOWLEDGED, statement=statement)
    watch.fired_at = now
    watch.save(update_fields=["fired_at"])
