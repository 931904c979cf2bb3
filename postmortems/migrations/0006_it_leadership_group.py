"""The "IT leadership" group: who hears, with the ITSM managers, that a post-incident review
was published (postmortems.summary). No permissions: membership names an audience, not a role;
an admin adds people to it in the admin."""

from django.db import migrations

LEADERSHIP_GROUP = "IT leadership"


def create_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.get_or_create(name=LEADERSHIP_GROUP)


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("postmortems", "0005_section_revisions"),
    ]

    operations = [
        # Going back keeps the group and whoever an admin put in it.
        migrations.RunPython(create_group, migrations.RunPython.noop),
    ]
