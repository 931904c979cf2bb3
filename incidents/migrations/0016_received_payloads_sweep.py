"""The django-q2 schedule that deletes received alert payloads older than 30 days
(incidents/alerts/tasks.py), daily from 03:00 UTC the day after migrating."""

from datetime import UTC, datetime, time, timedelta

from django.db import migrations
from django.utils import timezone

FUNC = "incidents.alerts.tasks.received_payloads_sweep"
SWEEP_TIME = time(3, 0)  # UTC: a quiet hour in Europe and the Americas


def schedule_sweep(apps, schema_editor):
    tomorrow = timezone.now().date() + timedelta(days=1)
    apps.get_model("django_q", "Schedule").objects.get_or_create(
        func=FUNC,
        defaults={
            "name": "Delete received alert payloads older than 30 days",
            "schedule_type": "D",
            "next_run": datetime.combine(tomorrow, SWEEP_TIME, tzinfo=UTC),
        },
    )


def unschedule_sweep(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(func=FUNC).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0015_alert_generic_mapping_rate_limit"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(schedule_sweep, unschedule_sweep)]
