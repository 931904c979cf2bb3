"""The per-incident metrics rollup (postmortems/metrics/rollup.py), and the hourly django-q2
job that repairs it. Existing incidents get their rows from `manage.py metrics_rollup --all`
(or, batch by batch, from the job, which fills missing rows)."""

from datetime import timedelta

import django.db.models.deletion
from django.db import migrations, models
from django.utils import timezone

FUNC = "postmortems.tasks.repair_metrics_rollup"


def schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.get_or_create(
        func=FUNC,
        defaults={
            "name": "Repair the metrics rollup",
            "schedule_type": "H",
            "next_run": timezone.now() + timedelta(hours=1),
        },
    )


def unschedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(func=FUNC).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0020_sla_timer_open_idx"),
        ("postmortems", "0011_metric_targets"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [
        migrations.CreateModel(
            name="IncidentRollup",
            fields=[
                (
                    "incident",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="metric_rollup",
                        serialize=False,
                        to="incidents.incident",
                    ),
                ),
                ("created_at", models.DateTimeField(db_index=True)),
                (
                    "priority",
                    models.CharField(
                        choices=[
                            ("P1", "P1 – critical"),
                            ("P2", "P2 – high"),
                            ("P3", "P3 – moderate"),
                            ("P4", "P4 – low"),
                        ],
                        max_length=2,
                    ),
                ),
                (
                    "source",
                    models.CharField(
                        choices=[
                            ("portal", "Portal"),
                            ("api", "API"),
                            ("alert", "Monitoring alert"),
                            ("email", "Email"),
                            ("customer_report", "Customer report"),
                        ],
                        max_length=20,
                    ),
                ),
                ("mttd", models.FloatField(null=True)),
                ("mtta", models.FloatField(null=True)),
                ("mttr_response", models.FloatField(null=True)),
                ("mttr_mitigate", models.FloatField(null=True)),
                ("mttr_resolve", models.FloatField(null=True)),
                ("false_positive", models.BooleanField()),
                ("reopened", models.BooleanField()),
                ("ever_resolved", models.BooleanField()),
                ("recurs_after", models.DateTimeField(db_index=True, null=True)),
                ("refreshed_at", models.DateTimeField()),
                (
                    "team",
                    models.ForeignKey(
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="incidents.team",
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="RollupService",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
            ],
            options={
                "db_table": "incidents_incident_services",
                "managed": False,
            },
        ),
        migrations.RunPython(schedule, unschedule),
    ]
