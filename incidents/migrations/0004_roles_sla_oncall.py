"""Permissions of the roles on SLA, on-call and escalation models, and the default escalation
ladder of SPEC §3 (its targets are filled in by an administrator, or by the demo seed)."""

from datetime import timedelta

from django.contrib.auth.management import create_permissions
from django.db import migrations

VIEW = [
    "view_slapolicy",
    "view_slatarget",
    "view_slatimer",
    "view_sladeadline",
    "view_businesscalendar",
    "view_workinghours",
    "view_holiday",
    "view_schedule",
    "view_rotation",
    "view_rotationmember",
    "view_scheduleoverride",
    "view_escalationpolicy",
    "view_escalationlevel",
    "view_escalationstep",
]
RESPONDER = VIEW + ["add_scheduleoverride"]
MANAGER = RESPONDER + [
    f"{action}_{model}"
    for action in ("add", "change", "delete")
    for model in (
        "slapolicy",
        "slatarget",
        "businesscalendar",
        "workinghours",
        "holiday",
        "schedule",
        "rotation",
        "rotationmember",
        "scheduleoverride",
        "escalationpolicy",
        "escalationlevel",
    )
]
STAKEHOLDER = ["view_slapolicy", "view_slatimer", "view_schedule"]
NOTIFICATIONS = ["view_notification"]

LADDER = [
    # position, name, delay, priorities
    (1, "Primary on-call", timedelta(0), []),
    (2, "Secondary on-call", timedelta(minutes=10), []),
    (3, "Engineering manager", timedelta(minutes=20), []),
    (4, "Director of operations", timedelta(minutes=30), []),
    (5, "VP of engineering", timedelta(minutes=45), ["P1"]),
]


def grant(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ours = Permission.objects.filter(content_type__app_label__in=["incidents", "itsm"])
    for name, codenames in (
        ("responder", RESPONDER + NOTIFICATIONS),
        ("itsm_manager", MANAGER + NOTIFICATIONS + ["add_chatwebhook", "change_chatwebhook"]),
        ("stakeholder", STAKEHOLDER + NOTIFICATIONS),
    ):
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.add(*ours.filter(codename__in=codenames))
    admin, _ = Group.objects.get_or_create(name="super_admin")
    admin.permissions.add(*ours)


def default_ladder(apps, schema_editor):
    Policy = apps.get_model("incidents", "EscalationPolicy")
    Level = apps.get_model("incidents", "EscalationLevel")
    if Policy.objects.exists():
        return
    policy = Policy.objects.create(
        slug="default",
        name="Default escalation",
        description="Primary at once; secondary after 10 min; engineering manager after 20; "
        "director after 30; VP after 45 for P1 only. Stops at acknowledgement.",
        is_default=True,
    )
    for position, name, delay, priorities in LADDER:
        Level.objects.create(
            policy=policy, position=position, name=name, delay=delay, priorities=priorities
        )


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0003_sla_oncall_escalation"),
        ("itsm", "0002_notifications"),
    ]

    operations = [
        migrations.RunPython(grant, migrations.RunPython.noop),
        migrations.RunPython(default_ladder, migrations.RunPython.noop),
    ]
