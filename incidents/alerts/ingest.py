"""Alerts in: every write applying a payload makes (the worker applies them: drain.py).

A payload's alerts belong to one group (Alertmanager's groupKey, PagerDuty's dedup_key). The
firing group of an integration and key is locked first, then its incident, so concurrent
payloads about one group queue up instead of opening an incident each; a group that does not
exist yet is inserted under the partial unique constraint `alert_group_one_firing_per_key`,
and the insert that loses the race waits for the winner and then takes its group.

Repeats only count: the timeline gets one line per change of an alert's status, never one per
repeat. When every alert of a group has resolved, its incident is mitigated or resolved (the
integration's `on_clear`), as the system, from source `alert`.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Count, Q

from incidents import services, signals
from incidents.alerts import rules
from incidents.alerts.parsing import AlertIn, Notification
from incidents.choices import (
    AlertStatus,
    ChangeSource,
    EventType,
    IncidentSource,
    IncidentStatus,
    PayloadOutcome,
    RefireAction,
    Transition,
)
from incidents.models import (
    TEXT_MAX_LENGTH,
    TITLE_MAX_LENGTH,
    Alert,
    AlertGroup,
    Incident,
    Integration,
    ReceivedPayload,
)
from incidents.timeline import incident_record_event

logger = logging.getLogger(__name__)
SOURCE = ChangeSource.ALERT
# Insert attempts before giving up (each lost race means a group opened and resolved meanwhile).
OPEN_ATTEMPTS = 3
# The clearing transition each setting runs, and the statuses it runs from.
CLEARS_FROM = {
    Transition.MITIGATE: {
        IncidentStatus.NEW,
        IncidentStatus.ACKNOWLEDGED,
        IncidentStatus.INVESTIGATING,
    },
    Transition.RESOLVE: {
        IncidentStatus.NEW,
        IncidentStatus.ACKNOWLEDGED,
        IncidentStatus.INVESTIGATING,
        IncidentStatus.MITIGATED,
    },
}


@dataclass(frozen=True)
class Received:
    """A payload as it arrived: what ReceivedPayload keeps of it."""

    body: str
    headers: dict
    replay_of: int | None = None  # the ReceivedPayload a replay read its body from


def payload_record(
    *, integration: Integration, received: Received, outcome: str, error: str = "", group_key=""
) -> ReceivedPayload:
    return ReceivedPayload.objects.create(
        integration=integration,
        body=received.body,
        headers=received.headers,
        outcome=outcome,
        error=error,
        group_key=group_key,
        replay_of_id=received.replay_of,
    )


@dataclass(frozen=True)
class Seen:
    """When the payloads applied as one arrived: the first, the last, and how many repeats
    of the first came after it (the worker applies a run of identical payloads once)."""

    first: datetime
    last: datetime
    repeats: int = 0

    @classmethod
    def once(cls, at: datetime) -> "Seen":
        return cls(at, at)


@transaction.atomic
def alerts_ingest(
    *, integration: Integration, notification: Notification, seen: Seen
) -> AlertGroup | None:
    """Apply one payload: open, update or clear its group and its incident. None when it only
    resolves alerts of no firing group (nothing to do, as PagerDuty answers such a resolve)."""
    group = _firing_group(integration, notification.group_key)
    if group is not None:
        _lock_incident(group)
    if group is not None and _fires_anew(group, notification):
        _close(group, seen.first)  # its incident is over: this firing starts another
        group = None
    if group is None and notification.firing:
        group = _open(integration, notification, seen.first)
    if group is not None:
        _apply(group, notification, seen)
    return group


@transaction.atomic
def alerts_acknowledge(*, integration: Integration, key: str) -> AlertGroup | None:
    """The sender acknowledged the group (PagerDuty's `acknowledge`): its new incident is
    acknowledged when someone is assigned (acknowledging needs an assignee); else the
    timeline says so and it stays new. The group, None when none fires."""
    group = _firing_group(integration, key)
    if group is not None:
        incident = _lock_incident(group)
        if incident.status == IncidentStatus.NEW and incident.assignee_id is not None:
            services.incident_acknowledge(
                incident=incident, actor=None, source=SOURCE, note=f"in {integration.name}"
            )
        elif incident.status == IncidentStatus.NEW and not _acknowledged_before(incident, group):
            _line(
                incident,
                group,
                f"Acknowledged in {integration.name}; nobody is assigned, so it stays new",
                acknowledged=True,
            )
    return group


def _acknowledged_before(incident: Incident, group: AlertGroup) -> bool:
    """The sender's acknowledge is on the timeline already: a repeat adds no line."""
    lines = incident.events.filter(type=EventType.ALERT, data__group=group.pk)
    return lines.filter(data__acknowledged=True).exists()


# --- the group --------------------------------------------------------------------------------


def _firing_group(integration: Integration, key: str) -> AlertGroup | None:
    """The firing group of the key, locked; its integration is the one given (already loaded
    with its service and team), not read again."""
    group = (
        AlertGroup.objects.select_for_update()
        .filter(integration=integration, key=key, status=AlertStatus.FIRING)
        .first()
    )
    if group is not None:
        group.integration = integration
    return group


def _lock_incident(group: AlertGroup) -> Incident:
    incident = Incident.objects.select_for_update().get(pk=group.incident_id)
    group.incident = incident
    return incident


def _fires_anew(group: AlertGroup, notification: Notification) -> bool:
    """A firing group whose incident is over (resolved, closed or cancelled by a person)
    fires anew when an alert starts again: one it was not firing, one with a new start, or
    any trigger of a sender whose repeats mean a new firing (PagerDuty)."""
    if not notification.firing or group.incident.is_open:
        return False
    if notification.refire_on_repeat:
        return True
    firing = {
        alert.fingerprint: alert.starts_at
        for alert in group.alerts.filter(status=AlertStatus.FIRING)
    }
    return any(
        alert.status == AlertStatus.FIRING
        and (alert.fingerprint not in firing or firing[alert.fingerprint] != alert.starts_at)
        for alert in notification.alerts
    )


def _close(group: AlertGroup, now) -> None:
    group.status = AlertStatus.RESOLVED
    group.resolved_at = now
    group.save(update_fields=["status", "resolved_at"])


def _open(integration: Integration, notification: Notification, now) -> AlertGroup:
    """The firing group of this key: a new one with its incident, or, when a concurrent
    payload opened it first, that one (locked)."""
    for _ in range(OPEN_ATTEMPTS):
        try:
            with transaction.atomic():
                group = AlertGroup.objects.create(
                    integration=integration,
                    key=notification.group_key,
                    title=notification.title[:TITLE_MAX_LENGTH],
                    first_seen_at=now,
                    last_seen_at=now,
                )
        except IntegrityError:
            group = _firing_group(integration, notification.group_key)
            if group is not None:
                _lock_incident(group)
                return group
            continue
        group.incident = _incident_for(group, notification)
        group.save(update_fields=["incident"])
        return group
    raise IntegrityError(f"Could not open an alert group for {notification.group_key!r}.")


def _incident_for(group: AlertGroup, notification: Notification) -> Incident:
    """The incident a newly firing group belongs to: the previous group's while it is still
    open (mitigated, say), the previous one reopened when the integration says so, else a new
    incident logged as any other is (SLA timers, escalation, declaration rules)."""
    integration = group.integration
    previous = (
        AlertGroup.objects.filter(integration=integration, key=group.key)
        .exclude(pk=group.pk)
        .order_by("-pk")
        .first()
    )
    incident = _lock_incident(previous) if previous else None
    if incident is not None and incident.is_open:
        _line(incident, group, f"Firing again: {notification.title}")
        return incident
    if (
        incident is not None
        and incident.status == IncidentStatus.RESOLVED
        and integration.on_refire == RefireAction.REOPEN
    ):
        return services.incident_reopen(
            incident=incident,
            actor=None,
            source=SOURCE,
            reason=f"{notification.title[:TITLE_MAX_LENGTH]} firing again ({integration.name})",
        )
    return _incident_open(group, notification)


def _incident_open(group: AlertGroup, notification: Notification) -> Incident:
    """A new incident where the routing rules send it, declared major when its rule says so."""
    route = rules.route_for(group.integration, notification)
    incident = services.incident_create(
        actor=None,
        source=SOURCE,
        incident_source=IncidentSource.ALERT,
        title=notification.title[:TITLE_MAX_LENGTH],
        description=notification.description[:TEXT_MAX_LENGTH],
        priority=route.priority,
        services=[route.service.slug],
        team=route.team,
    )
    if route.rule is not None:
        _line(incident, group, route.describe(), rule=route.rule.name)
    if route.declare_major:
        _declare_major(incident, group, route)
    return incident


def _declare_major(incident: Incident, group: AlertGroup, route: rules.Route) -> None:
    """Ask the war room to declare, in this transaction, so the declaration commits with the
    incident. A declaration that fails leaves the incident opened (the alert must not be
    refused for it) and says so on the timeline; the unacknowledged rule still applies."""
    try:
        with transaction.atomic():
            signals.alert_rule_declares_major.send(
                sender=Incident, incident_id=incident.pk, rule=route.rule.name
            )
    except Exception:
        logger.exception("rule %s could not declare %s major", route.rule, incident.number)
        _line(
            incident,
            group,
            f"The rule “{route.rule}” could not declare it a major incident: declare it by hand",
            rule=route.rule.name,
        )


# --- the alerts -------------------------------------------------------------------------------


def _apply(group: AlertGroup, notification: Notification, seen: Seen) -> None:
    """Record the payload's alerts, count, and write one timeline line if any alert changed
    status; clear the incident when no alert of the group fires any more."""
    started, ended = _upsert(group, notification.alerts, seen)
    counts = group.alerts.aggregate(
        alerts=Count("pk"), firing=Count("pk", filter=Q(status=AlertStatus.FIRING))
    )
    group.alert_count, group.firing_count = counts["alerts"], counts["firing"]
    group.received_count += 1 + seen.repeats
    group.last_seen_at = seen.last
    clears = group.firing_count == 0 and not notification.truncated
    if clears:
        group.status = AlertStatus.RESOLVED
        group.resolved_at = seen.first
    group.save(update_fields=GROUP_FIELDS)
    incident = group.incident
    if clears and incident.status in CLEARS_FROM[group.integration.on_clear]:
        count = group.alert_count
        alerts = f"all {count} alerts" if count > 1 else "its alert"
        _clear(group, incident, f"{alerts} resolved in {group.integration.name}")
    elif started or ended:
        _line(incident, group, _change_summary(group, started, ended), started, ended)


def _upsert(group: AlertGroup, alerts: list[AlertIn], seen: Seen) -> tuple[list[str], list[str]]:
    """Create or update the payload's alerts; the fingerprints that started and ended."""
    incoming = {alert.fingerprint: alert for alert in alerts}  # the last one of a key wins
    known = {a.fingerprint: a for a in group.alerts.filter(fingerprint__in=incoming)}
    started, ended, new, changed = [], [], [], []
    for fingerprint, alert in incoming.items():
        row = known.get(fingerprint)
        if row is None:
            row = Alert(group=group, fingerprint=fingerprint, first_seen_at=seen.first)
            new.append(row)
            if alert.status == AlertStatus.FIRING and group.alert_count:
                started.append(fingerprint)
        elif row.status == alert.status:
            row.repeat_count += 1
            changed.append(row)
        else:
            (started if alert.status == AlertStatus.FIRING else ended).append(fingerprint)
            changed.append(row)
        row.repeat_count += seen.repeats
        row.status = alert.status
        row.labels = alert.labels or row.labels
        row.annotations = alert.annotations or row.annotations
        row.starts_at = alert.starts_at or row.starts_at
        row.ends_at = alert.ends_at
        row.generator_url = alert.generator_url or row.generator_url
        row.last_seen_at = seen.last
    Alert.objects.bulk_create(new)
    _save_alerts(changed)
    return started, ended


def _save_alerts(changed: list[Alert]) -> None:
    """One alert (Alertmanager's usual notification of one, every PagerDuty event) is a plain
    UPDATE: bulk_update's CASE per field costs more to build than it saves for one row."""
    if len(changed) == 1:
        changed[0].save(update_fields=UPDATED_FIELDS)
    elif changed:
        Alert.objects.bulk_update(changed, UPDATED_FIELDS)


GROUP_FIELDS = [
    "alert_count",
    "firing_count",
    "received_count",
    "last_seen_at",
    "status",
    "resolved_at",
]
UPDATED_FIELDS = [
    "status",
    "labels",
    "annotations",
    "starts_at",
    "ends_at",
    "generator_url",
    "last_seen_at",
    "repeat_count",
]


def _change_summary(group: AlertGroup, started: list, ended: list) -> str:
    parts = []
    if started:
        parts.append(f"{len(started)} alert{'s' if len(started) > 1 else ''} firing")
    if ended:
        parts.append(f"{len(ended)} resolved")
    return f"{group.title}: {', '.join(parts)} ({group.firing_count} of {group.alert_count} firing)"


def _line(
    incident: Incident, group: AlertGroup, summary: str, started=(), ended=(), **extra
) -> None:
    incident_record_event(
        incident=incident,
        type=EventType.ALERT,
        source=SOURCE,
        summary=summary,
        data={
            "integration": group.integration.name,
            "group": group.pk,
            "started": list(started),
            "ended": list(ended),
            **extra,
        },
    )


def _clear(group: AlertGroup, incident: Incident, why: str) -> None:
    integration = group.integration
    services.incident_alerts_cleared(
        incident=incident,
        action=integration.on_clear,
        note=f"{group.title}: {why}",
        data={"integration": integration.name, "group": group.pk},
    )


# --- resolving after N minutes without a new payload -------------------------------------------


def _named_by_pending(group: AlertGroup) -> bool:
    return ReceivedPayload.objects.filter(
        integration_id=group.integration_id, outcome=PayloadOutcome.PENDING, group_key=group.key
    ).exists()


@transaction.atomic
def alert_group_expire(*, group_id: int, now) -> bool:
    """Resolve a firing group that no payload has named for its integration's
    `resolve_after_minutes`, as if its alerts had all resolved: the same clear. A group
    another worker (or a payload) holds is skipped, not waited for, so concurrent runs clear
    it once; whether this run did."""
    group = (
        AlertGroup.objects.select_for_update(of=("self",), skip_locked=True)
        .select_related("integration")
        .filter(pk=group_id, status=AlertStatus.FIRING)
        .first()
    )
    minutes = group.integration.resolve_after_minutes if group else None
    if minutes is None or group.last_seen_at > now - timedelta(minutes=minutes):
        return False
    if _named_by_pending(group):
        return False  # silent only because the worker has not applied its payloads yet
    incident = _lock_incident(group)
    firing = group.alerts.filter(status=AlertStatus.FIRING)
    ended = list(firing.values_list("fingerprint", flat=True))
    firing.update(status=AlertStatus.RESOLVED, ends_at=now, last_seen_at=now)
    group.firing_count = 0
    group.status = AlertStatus.RESOLVED
    group.resolved_at = now
    group.save(update_fields=["firing_count", "status", "resolved_at"])
    why = f"no new alert in {group.integration.name} for {minutes} minutes"
    if incident.status in CLEARS_FROM[group.integration.on_clear]:
        _clear(group, incident, why)
    else:
        _line(incident, group, f"{group.title}: {why}", ended=ended)
    return True
