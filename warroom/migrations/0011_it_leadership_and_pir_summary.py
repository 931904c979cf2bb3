"""IT leadership is one group: the "IT leadership" Django group (no permissions; an admin adds
people to it) is who the leadership audiences reach, instead of everyone with the stakeholder
role; "All stakeholders" reaches both. And the shipped PIR summary template says the review's
root cause, its action items and its link (variables postmortems adds), because publishing a
review now sends it. Only what an admin has not changed is changed."""

from django.db import migrations
from django.utils import timezone

LEADERSHIP_GROUP = "IT leadership"
# audience: (the roles it shipped with, the roles it has now)
AUDIENCE_ROLES = {
    "IT leadership": (["stakeholder"], [LEADERSHIP_GROUP]),
    "IT leadership and affected department heads": (["stakeholder"], [LEADERSHIP_GROUP]),
    "All stakeholders": (["stakeholder"], ["stakeholder", LEADERSHIP_GROUP]),
    "IT leadership and ITSM manager": (
        ["itsm_manager", "stakeholder"],
        [LEADERSHIP_GROUP, "itsm_manager"],
    ),
}
OLD_ROOT_CAUSE = (
    'Root Cause: {{ resolution_notes or "Under investigation" }}\n\n'
    "The full review: {{ incident_url }}\n"
)
NEW_ROOT_CAUSE = (
    'Root Cause: {{ root_cause or resolution_notes or "Under investigation" }}\n\n'
    "Action Items:\n{{ action_items_text }}\n\n"
    "The full review: {{ review_url or incident_url }}\n"
)


def leadership_audiences(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Audience = apps.get_model("warroom", "Audience")
    for name, (shipped, now) in AUDIENCE_ROLES.items():
        audience = Audience.objects.filter(name=name).first()
        if audience is None or sorted(audience.roles.values_list("name", flat=True)) != shipped:
            continue
        audience.roles.set([Group.objects.get_or_create(name=role)[0] for role in now])


def pir_summary_text(apps, schema_editor):
    Template = apps.get_model("warroom", "CommunicationTemplate")
    History = apps.get_model("warroom", "HistoricalCommunicationTemplate")
    template = Template.objects.filter(kind="pir_summary", version=1).first()
    if template is None or not template.body_template.endswith(OLD_ROOT_CAUSE):
        return
    template.body_template = template.body_template.removesuffix(OLD_ROOT_CAUSE) + NEW_ROOT_CAUSE
    template.version, template.updated_at = 2, timezone.now()
    template.save()
    fields = {f.attname: getattr(template, f.attname) for f in Template._meta.concrete_fields}
    History.objects.create(
        **fields,
        history_date=template.updated_at,
        history_type="~",
        history_change_reason="shipped default: the review's root cause and action items",
    )


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("warroom", "0010_communications"),
    ]

    operations = [
        # Going back keeps the audiences and the template as they are now.
        migrations.RunPython(leadership_audiences, migrations.RunPython.noop),
        migrations.RunPython(pir_summary_text, migrations.RunPython.noop),
    ]
