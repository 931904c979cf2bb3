from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from itsm.services import token_create


class Command(BaseCommand):
    help = "Create an API token for USERNAME; the token is the last line of the output."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="cli", help="A label to tell tokens apart.")
        parser.add_argument("--expires-in-days", type=int, default=None)

    def handle(self, *args, username, name, expires_in_days, **options):
        user = get_user_model().objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(f"No active user {username!r}.")
        if expires_in_days is not None and expires_in_days <= 0:
            raise CommandError("--expires-in-days must be positive.")
        expires_at = timezone.now() + timedelta(days=expires_in_days) if expires_in_days else None
        token, raw = token_create(user=user, name=name, expires_at=expires_at)
        expiry = f"expires {token.expires_at:%Y-%m-%d %H:%M %Z}" if expires_at else "no expiry"
        self.stdout.write(f"Token {token.hint}… for {username} ({expiry}). It is shown once:")
        self.stdout.write(raw)
