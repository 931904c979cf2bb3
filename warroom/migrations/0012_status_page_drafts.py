"""Status page updates drafted on each state change of a public incident: the draft's state
change (`Communication.drafted_on`, unique), drafts and sends by the system (no person),
superseded drafts, the status page template's `auto_post`; and the shipped status page update
says what its public status says (the new `public_status` variable), now that it is drafted on
each state change; a template an admin has edited is left as it is."""

import importlib

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models
from django.utils import timezone

SHIPPED = importlib.import_module("warroom.migrations.0009_communication_templates").STATUS_PAGE
STATUS_PAGE = """{% if public_status == "Resolved" %}This incident has been resolved.{% elif public_status == "Monitoring" %}A fix has been implemented and we are monitoring the results.{% else %}We are aware of an issue affecting {{ services_text }} and are working on it.{% endif %}

{{ impact }}
{% if next_update and public_status != "Resolved" %}
Next update: {{ next_update }}.{% endif %}
"""


def update_text(apps, schema_editor):
    Template = apps.get_model("warroom", "CommunicationTemplate")
    History = apps.get_model("warroom", "HistoricalCommunicationTemplate")
    template = Template.objects.filter(kind="status_page", body_template=SHIPPED).first()
    if template is None:
        return
    template.body_template = STATUS_PAGE
    template.version += 1
    template.updated_at = timezone.now()
    template.save()
    fields = {
        field.attname: getattr(template, field.attname) for field in Template._meta.concrete_fields
    }
    History.objects.create(
        **fields,
        history_date=template.updated_at,
        history_type="~",
        history_change_reason="shipped default: says its public status",
    )


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0012_incident_resolved_at_index"),
        ("warroom", "0011_it_leadership_and_pir_summary"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="communication",
            name="drafted_on",
            field=models.ForeignKey(
                blank=True,
                help_text="The state change (its timeline event) this status page update was drafted on by the system; empty for a person's draft.",
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="incidents.incidentevent",
            ),
        ),
        migrations.AddField(
            model_name="communicationtemplate",
            name="auto_post",
            field=models.BooleanField(
                default=False,
                help_text="Status page update only. Checked: the update drafted on each state change of a public incident is sent at once by the system (posted on the status page, subscribers emailed), as a person's send would. Unchecked: it waits as a draft for a person to edit and send.",
            ),
        ),
        migrations.AddField(
            model_name="historicalcommunicationtemplate",
            name="auto_post",
            field=models.BooleanField(
                default=False,
                help_text="Status page update only. Checked: the update drafted on each state change of a public incident is sent at once by the system (posted on the status page, subscribers emailed), as a person's send would. Unchecked: it waits as a draft for a person to edit and send.",
            ),
        ),
        migrations.AlterField(
            model_name="communication",
            name="created_by",
            field=models.ForeignKey(
                help_text="Empty when drafted by the system.",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AlterField(
            model_name="communication",
            name="sent_by",
            field=models.ForeignKey(
                help_text="Empty when sent by the system (a template that posts by itself).",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AlterField(
            model_name="communication",
            name="status",
            field=models.CharField(
                choices=[("draft", "Draft"), ("sent", "Sent"), ("superseded", "Superseded")],
                default="draft",
                max_length=10,
            ),
        ),
        migrations.AddConstraint(
            model_name="communication",
            constraint=models.UniqueConstraint(
                fields=("drafted_on",), name="communication_once_per_change"
            ),
        ),
        migrations.AddConstraint(
            model_name="communicationtemplate",
            constraint=models.CheckConstraint(
                condition=models.Q(("auto_post", False), ("kind", "status_page"), _connector="OR"),
                name="template_auto_post_status_page_only",
            ),
        ),
        migrations.RunPython(update_text, migrations.RunPython.noop),
    ]
