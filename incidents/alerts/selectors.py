"""Reads of alert groups and their alerts that the API and the incident page share."""

from dataclasses import dataclass

from django.db.models import F, Prefetch, QuerySet, Window
from django.db.models.functions import RowNumber

from incidents.models import Alert, AlertGroup, Incident

# The incident page lists at most this many alerts of a group (firing first), then "and N more".
CARD_ALERTS = 20


def alert_group_queryset() -> QuerySet[AlertGroup]:
    """Alert groups, newest last seen first, with their integration and incident."""
    return AlertGroup.objects.select_related("integration", "incident").order_by(
        "-last_seen_at", "-id"
    )


def alert_group_detail_queryset() -> QuerySet[AlertGroup]:
    """Alert groups with every alert (one more query for any number of groups)."""
    return alert_group_queryset().prefetch_related(
        Prefetch("alerts", queryset=Alert.objects.order_by("first_seen_at", "id"))
    )


def incident_alert_groups(*, incident: Incident) -> QuerySet[AlertGroup]:
    return alert_group_detail_queryset().filter(incident=incident)


@dataclass
class AlertCard:
    """One group on the incident page: its first alerts and how many more it has."""

    group: AlertGroup
    alerts: list[Alert]

    @property
    def more(self) -> int:
        return max(self.group.alert_count - len(self.alerts), 0)


def incident_alert_cards(*, incident: Incident) -> list[AlertCard]:
    """The incident's alert groups, newest last seen first, each with its first CARD_ALERTS
    alerts (firing first): one query, however many groups and alerts (a group always has
    an alert: it is opened by one)."""
    ranked = Window(
        RowNumber(),
        partition_by=[F("group_id")],
        order_by=[F("status").asc(), F("first_seen_at").asc(), F("id").asc()],
    )
    alerts = (
        Alert.objects.filter(group__incident=incident)
        .select_related("group__integration")
        .annotate(rank=ranked)
        .filter(rank__lte=CARD_ALERTS)
        .order_by("-group__last_seen_at", "-group_id", "rank")
    )
    cards: dict[int, AlertCard] = {}
    for alert in alerts:
        card = cards.setdefault(alert.group_id, AlertCard(group=alert.group, alerts=[]))
        card.alerts.append(alert)
    return list(cards.values())
