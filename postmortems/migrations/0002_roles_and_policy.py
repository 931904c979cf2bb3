"""Permissions of the roles on post-incident reviews, and the default review policy: P1
required (due 48 h after resolution), P2 required (7 days), P3 and P4 optional, and every
major incident required (48 h)."""

from datetime import timedelta

from django.contrib.auth.management import create_permissions
from django.db import migrations

VIEW = ["view_postincidentreview", "view_reviewpolicy"]
RESPONDER = VIEW + ["add_postincidentreview", "change_postincidentreview"]
MANAGER = RESPONDER + ["publish_review", "change_reviewpolicy"]
STAKEHOLDER = ["view_postincidentreview"]
POLICY = {
    "P1": (True, timedelta(hours=48)),
    "P2": (True, timedelta(days=7)),
    "P3": (False, timedelta(days=14)),
    "P4": (False, timedelta(days=30)),
    "major": (True, timedelta(hours=48)),
}


def grant(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ours = Permission.objects.filter(content_type__app_label="postmortems")
    for name, codenames in (
        ("responder", RESPONDER),
        ("itsm_manager", MANAGER),
        ("stakeholder", STAKEHOLDER),
    ):
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.add(*ours.filter(codename__in=codenames))
    admin, _ = Group.objects.get_or_create(name="super_admin")
    admin.permissions.add(*ours)


def default_policy(apps, schema_editor):
    ReviewPolicy = apps.get_model("postmortems", "ReviewPolicy")
    for scope, (required, due_after) in POLICY.items():
        ReviewPolicy.objects.get_or_create(
            scope=scope, defaults={"required": required, "due_after": due_after}
        )


class Migration(migrations.Migration):
    dependencies = [
        ("postmortems", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(grant, migrations.RunPython.noop),
        migrations.RunPython(default_policy, migrations.RunPython.noop),
    ]
