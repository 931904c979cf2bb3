"""Permissions of the roles on customers and credit statements, and the monthly django-q2
schedule that freezes the statements (postmortems/credits/tasks.py). Customers' contracts and
statements are commercial: ITSM managers and super admins read and write them; responders and
stakeholders see neither. The job is idempotent, so a late or repeated run writes nothing twice."""

from datetime import UTC, datetime

from django.contrib.auth.management import create_permissions
from django.db import migrations
from django.utils import timezone

MANAGER = [
    "view_customer",
    "add_customer",
    "change_customer",
    "view_credittier",
    "add_credittier",
    "change_credittier",
    "delete_credittier",
    "view_creditstatement",
    "change_creditstatement",
    "approve_creditstatement",
]
CODENAMES = MANAGER + ["delete_customer", "add_creditstatement", "delete_creditstatement"]
FUNC = "postmortems.credits.tasks.freeze_credit_statements"
RUN_AT_HOUR = 3  # UTC, on the 1st: the month before is over everywhere by then


def grant(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    ours = apps.get_model("auth", "Permission").objects.filter(
        content_type__app_label="postmortems"
    )
    manager, _ = Group.objects.get_or_create(name="itsm_manager")
    manager.permissions.add(*ours.filter(codename__in=MANAGER))
    admin, _ = Group.objects.get_or_create(name="super_admin")
    admin.permissions.add(*ours.filter(codename__in=CODENAMES))


def schedule(apps, schema_editor):
    now = timezone.now()
    first = datetime(now.year + (now.month == 12), now.month % 12 + 1, 1, RUN_AT_HOUR, tzinfo=UTC)
    apps.get_model("django_q", "Schedule").objects.get_or_create(
        func=FUNC,
        defaults={
            "name": "Freeze last month's customer credit statements",
            "schedule_type": "M",
            "next_run": first,
        },
    )


def unschedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(func=FUNC).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("postmortems", "0009_customers_and_credits"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [
        migrations.RunPython(grant, migrations.RunPython.noop),
        migrations.RunPython(schedule, unschedule),
    ]
