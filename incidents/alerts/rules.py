"""Alert routing rules: where a newly firing group's incident goes (SPEC §7; the reference's
automated declaration triggers, e.g. a SEV1 on `severity="critical"` for authentication or
payment services). The first enabled rule, by position, whose matchers hold for one of the
group's firing alerts decides; without one, the integration's service and the severity do.
"""

from dataclasses import dataclass

from django.db.models import Q

from incidents.alerts import matchers
from incidents.alerts.parsing import AlertIn, Notification
from incidents.choices import AlertStatus
from incidents.models import Integration, RoutingRule, Service, Team


@dataclass(frozen=True)
class Route:
    service: Service
    team: Team | None
    priority: str
    declare_major: bool = False
    rule: RoutingRule | None = None

    def describe(self) -> str:
        """The timeline's line about a rule's routing."""
        parts = [self.service.name, self.priority]
        if self.team is not None:
            parts.append(self.team.name)
        major = "; declared a major incident" if self.declare_major else ""
        return f"Routed by the rule “{self.rule}”: {', '.join(parts)}{major}"


def route_for(integration: Integration, notification: Notification) -> Route:
    for rule in _rules_of(integration):
        if _holds_for_one(rule, notification):
            service = rule.service or integration.service
            return Route(
                service=service,
                team=rule.team or service.owner_team,
                priority=rule.priority or notification.priority,
                declare_major=rule.declare_major,
                rule=rule,
            )
    service = integration.service
    return Route(service=service, team=service.owner_team, priority=notification.priority)


def _rules_of(integration: Integration):
    return (
        RoutingRule.objects.filter(enabled=True)
        .filter(Q(integration__isnull=True) | Q(integration=integration))
        .select_related("service__owner_team", "team")
    )


def _holds_for_one(rule: RoutingRule, notification: Notification) -> bool:
    parsed = matchers.parse(rule.matchers)
    return any(
        matchers.all_hold(parsed, _labels(alert, notification))
        for alert in notification.alerts
        if alert.status == AlertStatus.FIRING
    )


def _labels(alert: AlertIn, notification: Notification) -> dict:
    """What a rule matches: the alert's labels, with the payload's severity when the alert
    carries none (Grafana's and the generic mapping's severity are not labels)."""
    if notification.severity and not alert.labels.get("severity"):
        return {**alert.labels, "severity": notification.severity}
    return alert.labels
