from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Seed demo data (stub)."

    def add_arguments(self, parser):
        parser.add_argument("--if-empty", action="store_true")

    def handle(self, *args, **options):
        self.stdout.write("seed stub")
