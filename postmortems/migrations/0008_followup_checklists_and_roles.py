"""The default follow-up checklists of the war-room roles (post-incident-follow-up.txt) and the
roles' permissions on follow-ups and review meetings: everyone who reads reviews reads them;
managers tick anyone's follow-ups, move any meeting and edit the checklists."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

CHECKLISTS = {
    "incident_commander": [
        "Set the final severity of the incident.",
        "Resolve the incident.",
        "Create the postmortem, and assign an owner to the postmortem for the incident.",
        "Send out an internal message to the relevant stakeholders explaining that we had an "
        "incident, and provide a link to the postmortem.",
        "Occasionally check on the progress of the postmortem to ensure that it is completed "
        "within the desired time frame.",
    ],
    "scribe": [
        "Review the war room's communications and extract any relevant items from key events.",
        "Collect all TODO items and add them to the postmortem.",
    ],
    "sme": ["Add any notes you think are relevant to the postmortem."],
    "communications_lead": [
        "Reply to any user or partner enquiries we received about the incident.",
        "Follow the postmortem progress, and update status pages and community channels with "
        "the external message once it is available.",
    ],
}
READ = ["view_followup", "view_reviewmeeting"]
TEMPLATES = [
    f"{verb}_{model}"
    for verb in ("view", "add", "change", "delete")
    for model in ("followuptemplate", "followuptemplateitem")
]
MANAGER = READ + ["change_followup", "change_reviewmeeting"] + TEMPLATES


def seed_checklists(apps, schema_editor):
    Template = apps.get_model("postmortems", "FollowUpTemplate")
    Item = apps.get_model("postmortems", "FollowUpTemplateItem")
    for role, steps in CHECKLISTS.items():
        template, created = Template.objects.get_or_create(role=role)
        if created:
            Item.objects.bulk_create(
                Item(template=template, position=position, text=text)
                for position, text in enumerate(steps, start=1)
            )


def grant(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ours = Permission.objects.filter(content_type__app_label="postmortems")
    for name, codenames in (
        ("responder", READ),
        ("itsm_manager", MANAGER),
        ("stakeholder", READ),
    ):
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.add(*ours.filter(codename__in=codenames))
    admin, _ = Group.objects.get_or_create(name="super_admin")
    admin.permissions.add(*ours)


class Migration(migrations.Migration):
    dependencies = [("postmortems", "0007_followups_and_meeting")]

    operations = [
        migrations.RunPython(seed_checklists, migrations.RunPython.noop),
        migrations.RunPython(grant, migrations.RunPython.noop),
    ]
