"""Demo data for the war room: the declaration rules name a manager (the secondary on-call, else
the demo manager), the shop's customer-facing services are the status page's components, and
the seed's most recent live major incident gets people in its roles, tasks, a scratchpad, a
bridge and a public update, so a first `make run` shows a room at work and a status page that
says so."""

from django.contrib.auth.models import Group

from incidents.choices import ChangeSource
from incidents.models import Service
from warroom import selectors, services
from warroom.choices import ComponentStatus, StatusIncidentStatus, WarRoomRole
from warroom.models import LEADERSHIP_GROUP, DeclarationRule, StatusComponent
from warroom.status import services as status_services

ROLES = (
    (WarRoomRole.INCIDENT_COMMANDER, "manager"),
    (WarRoomRole.TECHNICAL_LEAD, "priya"),
    (WarRoomRole.COMMUNICATIONS_LEAD, "admin"),
    (WarRoomRole.SCRIBE, "responder"),
    (WarRoomRole.SME, "chen"),
)
TASKS = (
    ("Fail over the connection pooler to the standby", "priya", True),
    ("Post the 30-minute stakeholder update", "admin", False),
    ("Collect pool metrics for the review", "responder", False),
)
SCRATCHPAD = (
    "Hypothesis: the 14:02 deploy raised the pool size per pod.\n"
    "Checked: pooler max_client_conn reached on both nodes.\n"
    "Next: roll back the deploy, then watch error rate for 10 minutes.\n"
    "TODO: alert when the pooler reaches 80% of max_client_conn\n"
    "ACTION: add a pool-size check to the deploy pipeline\n"
)
# The shop's customer-facing services, in the status page's groups and order.
STATUS_COMPONENTS = (
    ("web-storefront", "Shop"),
    ("checkout", "Shop"),
    ("search", "Shop"),
    ("payments-gateway", "Shop"),
    ("mobile-api", "Apps"),
)
PUBLIC_UPDATE = (
    "Some card payments fail at checkout. We have found the cause and are rolling back the "
    "change that introduced it."
)


MANAGER_SCHEDULE = "secondary-on-call"


def staff_declaration_rules(*, users: dict, schedules: dict) -> None:
    """Rooms the demo's rules open start with a manager: whoever is on the secondary on-call
    (the primary is fighting the incident), else the demo manager."""
    for rule in DeclarationRule.objects.filter(manager_schedule=None, manager=None):
        services.declaration_rule_update(
            rule=rule,
            actor=users["admin"],
            source=ChangeSource.CLI,
            manager_schedule=schedules.get(MANAGER_SCHEDULE),
            manager=users["manager"],
        )


def seed_status_components(*, users: dict) -> None:
    """The status page's components: the shop's customer-facing services."""
    for position, (slug, group) in enumerate(STATUS_COMPONENTS):
        service = Service.objects.filter(slug=slug).first()
        if service is None or StatusComponent.objects.filter(service=service).exists():
            continue
        status_services.component_create(
            actor=users["admin"],
            source=ChangeSource.CLI,
            name=service.name,
            service=service,
            group_name=group,
            position=position,
        )


def _post_public_update(major, *, actor) -> None:
    """The room's first status page update: its services' components partly out."""
    affected = StatusComponent.objects.filter(service__in=major.incident.services.all())
    status_services.status_update_post(
        incident=major.incident,
        actor=actor,
        source=ChangeSource.CLI,
        status=StatusIncidentStatus.IDENTIFIED,
        body=PUBLIC_UPDATE,
        components=[
            status_services.ComponentState(component, ComponentStatus.PARTIAL_OUTAGE)
            for component in affected
        ],
    )


def seed_war_room(*, users: dict) -> None:
    major = selectors.live_major_incidents().filter(state="active").first()
    if major is None or major.role_assignments.exists():
        return
    source = ChangeSource.CLI
    lead = users["manager"]
    services.major_incident_update(
        major=major,
        actor=users["admin"],
        source=source,
        manager=lead,
        bridge_link="https://meet.example.com/war-room-demo",
    )
    for role, username in ROLES:
        services.role_assign(
            major=major, actor=lead, source=source, role=role, user=users[username]
        )
    for title, username, done in TASKS:
        task = services.task_create(
            major=major, actor=lead, source=source, title=title, assignee=users[username]
        )
        if done:
            services.task_update(
                major=major, actor=users[username], source=source, task_id=task.pk, done=True
            )
    for username in ("manager", "priya", "chen"):
        services.bridge_join(major=major, actor=users[username], source=source)
    services.scratchpad_update(major=major, actor=users["priya"], base_version=0, text=SCRATCHPAD)
    services.note_add(
        major=major,
        actor=users["responder"],
        source=source,
        text="Error rate back under 1% after the rollback; watching.",
    )
    _post_public_update(major, actor=lead)


def name_it_leadership(*, users) -> None:
    """The demo's stakeholder is its IT leadership: the leadership audiences reach them."""
    Group.objects.get_or_create(name=LEADERSHIP_GROUP)[0].user_set.add(users["stakeholder"])
