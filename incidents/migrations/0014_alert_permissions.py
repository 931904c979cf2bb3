"""Who may do what with monitoring integrations and their alerts: managers manage
integrations and read received payloads; responders and stakeholders read alerts."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ALERTS = ["view_alertgroup", "view_alert"]
MANAGER = ALERTS + [
    "view_integration",
    "add_integration",
    "change_integration",
    "delete_integration",
    "view_receivedpayload",
]


def grant(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ours = Permission.objects.filter(content_type__app_label="incidents")
    for name, codenames in (
        ("responder", ALERTS),
        ("stakeholder", ALERTS),
        ("itsm_manager", MANAGER),
        ("super_admin", MANAGER + ["change_receivedpayload", "delete_receivedpayload"]),
    ):
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.add(*ours.filter(codename__in=codenames))


class Migration(migrations.Migration):
    dependencies = [("incidents", "0013_alert_integrations")]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
