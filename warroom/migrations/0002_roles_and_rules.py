"""Permissions of the roles in war rooms, and the two declaration rules of SPEC §4."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

MODELS = [
    "majorincident",
    "scratchpadrevision",
    "roleassignment",
    "bridgeattendance",
    "warroomtask",
    "presence",
    "declarationrule",
]
VIEW = [f"view_{model}" for model in MODELS]
RESPONDER = VIEW + ["work_warroom"]
MANAGER = RESPONDER + ["declare_majorincident", "change_declarationrule"]
STAKEHOLDER = VIEW


def grant(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ours = Permission.objects.filter(content_type__app_label="warroom")
    for name, codenames in (
        ("responder", RESPONDER),
        ("itsm_manager", MANAGER),
        ("stakeholder", STAKEHOLDER),
    ):
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.add(*ours.filter(codename__in=codenames))
    admin, _ = Group.objects.get_or_create(name="super_admin")
    admin.permissions.add(*ours)


def default_rules(apps, schema_editor):
    Rule = apps.get_model("warroom", "DeclarationRule")
    Rule.objects.get_or_create(kind="unacknowledged", defaults={"priority": "P1", "threshold": 15})
    Rule.objects.get_or_create(kind="affected_users", defaults={"priority": "P1", "threshold": 50})


class Migration(migrations.Migration):
    dependencies = [
        ("warroom", "0001_initial"),
        ("incidents", "0006_team_chat_webhooks"),
    ]

    operations = [
        migrations.RunPython(grant, migrations.RunPython.noop),
        migrations.RunPython(default_rules, migrations.RunPython.noop),
    ]
