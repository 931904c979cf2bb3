"""Maintenances start and end on the clock unless told not to (`auto_transition`)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("warroom", "0012_status_page_drafts")]

    operations = [
        migrations.AddField(
            model_name="historicalmaintenance",
            name="auto_transition",
            field=models.BooleanField(
                default=True,
                help_text="The clock moves it to in progress at scheduled_for and to completed at scheduled_until, each with a public note by the system. Off: people move it.",
            ),
        ),
        migrations.AddField(
            model_name="maintenance",
            name="auto_transition",
            field=models.BooleanField(
                default=True,
                help_text="The clock moves it to in progress at scheduled_for and to completed at scheduled_until, each with a public note by the system. Off: people move it.",
            ),
        ),
        migrations.AddIndex(
            model_name="maintenance",
            index=models.Index(fields=["status", "scheduled_until"], name="maintenance_end_idx"),
        ),
    ]
