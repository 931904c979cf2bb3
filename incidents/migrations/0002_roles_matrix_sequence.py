"""The four role groups with their permissions, the default priority matrix, and (on
PostgreSQL) the sequence that numbers incidents."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

RESPONDER = [
    "view_incident",
    "add_incident",
    "change_incident",
    "work_incident",
    "view_incidentevent",
    "add_incidentevent",
    "view_checklistentry",
    "view_service",
    "view_team",
    "view_prioritymatrixentry",
]
MANAGER = RESPONDER + [
    "override_priority",
    "add_service",
    "change_service",
    "add_team",
    "change_team",
    "change_prioritymatrixentry",
    "view_historicalincident",
    "view_historicalservice",
]
STAKEHOLDER = ["view_incident", "view_incidentevent", "view_service", "view_team"]
SUPER_ADMIN_APPS = ["incidents", "itsm", "auth"]

MATRIX = {
    (1, 1): "P1",
    (1, 2): "P2",
    (2, 1): "P2",
    (2, 2): "P3",
    (1, 3): "P3",
    (3, 1): "P3",
    (2, 3): "P4",
    (3, 2): "P4",
    (3, 3): "P4",
}


def _ensure_permissions(apps):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None


def create_roles(apps, schema_editor):
    _ensure_permissions(apps)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    incidents = Permission.objects.filter(content_type__app_label="incidents")
    for name, codenames in (
        ("responder", RESPONDER),
        ("itsm_manager", MANAGER),
        ("stakeholder", STAKEHOLDER),
    ):
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.add(*incidents.filter(codename__in=codenames))
    admin, _ = Group.objects.get_or_create(name="super_admin")
    admin.permissions.add(*Permission.objects.filter(content_type__app_label__in=SUPER_ADMIN_APPS))


def create_matrix(apps, schema_editor):
    Entry = apps.get_model("incidents", "PriorityMatrixEntry")
    for (impact, urgency), priority in MATRIX.items():
        Entry.objects.get_or_create(impact=impact, urgency=urgency, defaults={"priority": priority})


def create_sequence(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("CREATE SEQUENCE IF NOT EXISTS incidents_incident_number_seq")


def drop_sequence(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP SEQUENCE IF EXISTS incidents_incident_number_seq")


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0001_initial"),
        ("itsm", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.RunPython(create_roles, migrations.RunPython.noop),
        migrations.RunPython(create_matrix, migrations.RunPython.noop),
        migrations.RunPython(create_sequence, drop_sequence),
    ]
