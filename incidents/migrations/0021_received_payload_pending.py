"""Payloads kept pending for the worker (incidents/alerts/drain.py), the group key each
names, and the django-q2 schedule that drains every minute whatever a lost wake left."""

from django.db import migrations, models
from django.utils import timezone

FUNC = "incidents.alerts.drain.payloads_drain"


def schedule_drain(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.get_or_create(
        func=FUNC,
        defaults={
            "name": "Apply the alert payloads still pending",
            "schedule_type": "I",
            "minutes": 1,
            "next_run": timezone.now(),
        },
    )


def unschedule_drain(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(func=FUNC).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0020_sla_timer_open_idx"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [
        migrations.AddField(
            model_name="receivedpayload",
            name="group_key",
            field=models.CharField(
                blank=True,
                help_text="The group it names (Alertmanager's groupKey, PagerDuty's dedup_key, or the key PagerDuty's answer gave a trigger that had none).",
                max_length=1000,
            ),
        ),
        migrations.AlterField(
            model_name="receivedpayload",
            name="outcome",
            field=models.CharField(
                choices=[
                    ("pending", "Pending"),
                    ("accepted", "Accepted"),
                    ("failed", "Failed"),
                    ("invalid", "Invalid"),
                    ("bad_signature", "Bad signature"),
                    ("throttled", "Throttled"),
                ],
                max_length=20,
            ),
        ),
        migrations.AddIndex(
            model_name="receivedpayload",
            index=models.Index(
                condition=models.Q(("outcome", "pending")),
                fields=["integration", "id"],
                name="received_payload_pending_idx",
            ),
        ),
        migrations.RunPython(schedule_drain, unschedule_drain),
    ]
