"""An integration's `resolve_after_minutes`, and the django-q2 schedule that resolves the
groups silent for longer (incidents.alerts.tasks.alert_groups_expire), every minute."""

import django.core.validators
from django.db import migrations, models
from django.utils import timezone

FUNC = "incidents.alerts.tasks.alert_groups_expire"


def schedule_expiry(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.get_or_create(
        func=FUNC,
        defaults={
            "name": "Resolve alert groups silent for their integration's resolve_after_minutes",
            "schedule_type": "I",
            "minutes": 1,
            "next_run": timezone.now(),
        },
    )


def unschedule_expiry(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(func=FUNC).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0018_received_payload_replay_of"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [
        migrations.AddField(
            model_name="integration",
            name="resolve_after_minutes",
            field=models.PositiveIntegerField(
                blank=True,
                help_text="A firing group with no new payload for this many minutes is resolved "
                "as if its alerts had. Empty: only the sender resolves.",
                null=True,
                validators=[django.core.validators.MinValueValidator(1)],
            ),
        ),
        migrations.RunPython(schedule_expiry, unschedule_expiry),
    ]
