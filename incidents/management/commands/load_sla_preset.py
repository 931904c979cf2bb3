from django.core.management.base import BaseCommand

from incidents.sla.presets import PRESETS, load_preset


class Command(BaseCommand):
    help = "Create or update the SLA policy of a preset (SPEC §2), with its targets."

    def add_arguments(self, parser):
        parser.add_argument("preset", choices=sorted(PRESETS))
        parser.add_argument(
            "--default", action="store_true", help="Make it the default SLA policy."
        )

    def handle(self, *args, preset, default, **options):
        policy = load_preset(preset, make_default=default)
        targets = policy.targets.count()
        role = "the default policy" if policy.is_default else "not the default"
        self.stdout.write(f"Loaded {policy.name} ({policy.slug}): {targets} targets, {role}.")
