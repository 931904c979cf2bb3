"""A fresh install measures incidents against the `response-workflow` preset (SPEC §2)."""

from types import SimpleNamespace

from django.db import migrations

from incidents.sla.presets import DEFAULT_PRESET, load_preset


def load_default_preset(apps, schema_editor):
    models = SimpleNamespace(
        **{
            name: apps.get_model("incidents", name)
            for name in ("BusinessCalendar", "WorkingHours", "SlaPolicy", "SlaTarget")
        }
    )
    if not models.SlaPolicy.objects.filter(is_default=True).exists():
        load_preset(DEFAULT_PRESET, make_default=True, models=models)


class Migration(migrations.Migration):
    dependencies = [("incidents", "0004_roles_sla_oncall")]

    operations = [migrations.RunPython(load_default_preset, migrations.RunPython.noop)]
