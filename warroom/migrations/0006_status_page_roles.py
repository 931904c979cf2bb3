"""Permissions of the roles on the public status page: everyone with a role reads it in the
portal; ITSM managers (and super admins) manage its components and maintenances and post
incidents' updates. The communications lead and incident commander of a war room may post
their incident's updates without the permission (warroom.status.services)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

MODELS = [
    "componentgroup",
    "statuscomponent",
    "statusincident",
    "statusupdate",
    "affectedcomponent",
    "statusimpact",
    "maintenance",
    "maintenanceupdate",
]
VIEW = [f"view_{model}" for model in MODELS]
MANAGER = VIEW + [
    "add_componentgroup",
    "change_componentgroup",
    "add_statuscomponent",
    "change_statuscomponent",
    "add_statusupdate",
    "add_maintenance",
    "change_maintenance",
]


def grant(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ours = Permission.objects.filter(content_type__app_label="warroom")
    for name, codenames in (
        ("responder", VIEW),
        ("itsm_manager", MANAGER),
        ("stakeholder", VIEW),
    ):
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.add(*ours.filter(codename__in=codenames))
    admin, _ = Group.objects.get_or_create(name="super_admin")
    admin.permissions.add(*ours)


class Migration(migrations.Migration):
    dependencies = [("warroom", "0005_status_page")]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
