"""Permissions of the roles on action items, and the django-q2 schedules of the nags about
overdue ones (postmortems/tasks.py): owners daily, review owners weekly. Each job is idempotent
for its day or week, so a schedule that runs late or twice sends nothing twice."""

from datetime import UTC, datetime, time, timedelta

from django.contrib.auth.management import create_permissions
from django.db import migrations
from django.utils import timezone

MODELS = ["actionitem", "actionitemnag"]
VIEW = [f"view_{model}" for model in MODELS]
WRITE = VIEW + ["add_actionitem", "change_actionitem"]
SCHEDULES = {
    "postmortems.tasks.nag_action_item_owners": ("Nag owners of overdue action items", "D"),
    "postmortems.tasks.nag_review_owners": ("Nag review owners about overdue action items", "W"),
}
NAG_TIME = time(8, 0)  # UTC: a morning reminder in Europe, early enough for the Americas


def grant(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ours = Permission.objects.filter(content_type__app_label="postmortems")
    for name, codenames in (
        ("responder", WRITE),
        ("itsm_manager", WRITE),
        ("stakeholder", VIEW),
    ):
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.add(*ours.filter(codename__in=codenames))
    admin, _ = Group.objects.get_or_create(name="super_admin")
    admin.permissions.add(*ours)


def schedule_nags(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    tomorrow = timezone.now().date() + timedelta(days=1)
    first_run = datetime.combine(tomorrow, NAG_TIME, tzinfo=UTC)
    for func, (name, schedule_type) in SCHEDULES.items():
        Schedule.objects.get_or_create(
            func=func,
            defaults={"name": name, "schedule_type": schedule_type, "next_run": first_run},
        )


def unschedule_nags(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(func__in=SCHEDULES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("postmortems", "0003_action_items"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [
        migrations.RunPython(grant, migrations.RunPython.noop),
        migrations.RunPython(schedule_nags, unschedule_nags),
    ]
