"""The status page's subscribers in the admin: ITSM managers (and super admins) see them and
may unsubscribe or delete them; the help texts say why nobody confirms for their owners."""

from django.contrib.auth.management import create_permissions
from django.db import migrations, models

SUBSCRIBER_PERMISSIONS = [
    "view_statussubscriber",
    "change_statussubscriber",
    "delete_statussubscriber",
]


def grant(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    allowed = Permission.objects.filter(
        content_type__app_label="warroom", codename__in=SUBSCRIBER_PERMISSIONS
    )
    for name in ("itsm_manager", "super_admin"):
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.add(*allowed)


class Migration(migrations.Migration):
    dependencies = [("warroom", "0013_maintenance_auto_transition")]

    operations = [
        migrations.AlterField(
            model_name="statussubscriber",
            name="confirmation_sent_at",
            field=models.DateTimeField(
                blank=True, help_text="When the last confirmation link was emailed.", null=True
            ),
        ),
        migrations.AlterField(
            model_name="statussubscriber",
            name="confirmed_at",
            field=models.DateTimeField(
                blank=True,
                help_text="Set only when the owner of the address follows the link emailed to it (double opt-in). Nobody can confirm an address for them: that would email people who never agreed to it.",
                null=True,
            ),
        ),
        migrations.AlterField(
            model_name="statussubscriber",
            name="unsubscribed_at",
            field=models.DateTimeField(
                blank=True,
                help_text="No email is sent after this; subscribing again starts anew.",
                null=True,
            ),
        ),
        migrations.RunPython(grant, migrations.RunPython.noop),
    ]
