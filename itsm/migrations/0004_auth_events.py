"""The authentication audit log, a token's first use, and who may read the log: ITSM managers
and super admins (view only: nobody edits it)."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.contrib.auth.management import create_permissions
from django.db import migrations, models

READERS = ["itsm_manager", "super_admin"]


def grant(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    view = Permission.objects.get(content_type__app_label="itsm", codename="view_authevent")
    for name in READERS:
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.add(view)


class Migration(migrations.Migration):
    dependencies = [
        ("itsm", "0003_chatwebhook_url_env"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.AddField(
            model_name="apitoken",
            name="first_used_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AlterField(
            model_name="apitoken",
            name="last_used_at",
            field=models.DateTimeField(
                blank=True, editable=False, help_text="Kept to within five minutes.", null=True
            ),
        ),
        migrations.CreateModel(
            name="AuthEvent",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("login", "Signed in"),
                            ("logout", "Signed out"),
                            ("login_failed", "Sign-in failed"),
                            ("locked_out", "Locked out"),
                            ("token_used", "API token first used"),
                            ("token_created", "API token created"),
                            ("token_revoked", "API token revoked"),
                        ],
                        max_length=20,
                    ),
                ),
                ("username", models.CharField(blank=True, max_length=150)),
                (
                    "ip_address",
                    models.CharField(blank=True, max_length=45, verbose_name="IP address"),
                ),
                ("user_agent", models.CharField(blank=True, max_length=300)),
                ("at", models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
                ("detail", models.JSONField(blank=True, default=dict)),
                (
                    "user",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "verbose_name": "authentication event",
                "ordering": ["-at", "-id"],
                "indexes": [models.Index(fields=["kind", "at"], name="authevent_kind_at_idx")],
            },
        ),
        migrations.RunPython(grant, migrations.RunPython.noop),
    ]
