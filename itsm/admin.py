"""The itsm package in the admin: API tokens, notifications and chat webhooks.

API tokens are listed by hint, created and revoked through `itsm.services`. Only a token's hash
is stored, so no page can show a raw key; the one created here is shown once, in the success
message after adding it.
"""

from django.contrib import admin, messages
from django.utils import timezone
from django.utils.text import Truncator
from django.utils.translation import ngettext

from itsm.models import ApiToken, ChatWebhook, Notification
from itsm.notifications import notifications_retry_now
from itsm.services import token_create, token_revoke


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = (
        "hint",
        "user",
        "name",
        "created_at",
        "expires_at",
        "revoked_at",
        "last_used_at",
    )
    list_select_related = ("user",)
    search_fields = ("hint", "name", "user__username")
    readonly_fields = ("hint", "created_at", "revoked_at", "last_used_at")
    actions = ("revoke_tokens",)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("user", "name", "expires_at")
        return ("user", "name", "hint", "created_at", "expires_at", "revoked_at", "last_used_at")

    def has_change_permission(self, request, obj=None):
        """A token never changes after it is made, except by being revoked (the action)."""
        return False

    def has_revoke_permission(self, request):
        return request.user.has_perm("itsm.change_apitoken")

    def save_model(self, request, obj, form, change):
        token, raw = token_create(
            user=form.cleaned_data["user"],
            name=form.cleaned_data["name"],
            expires_at=form.cleaned_data["expires_at"],
        )
        obj.pk = token.pk
        obj.refresh_from_db()
        self.message_user(
            request,
            f"New token for {token.user}: {raw} — copy it now; it will not be shown again.",
            messages.SUCCESS,
        )

    @admin.action(description="Revoke selected tokens", permissions=["revoke"])
    def revoke_tokens(self, request, queryset):
        tokens = list(queryset.filter(revoked_at__isnull=True))
        for token in tokens:
            token_revoke(token=token)
        self.message_user(
            request,
            ngettext("Revoked %d token.", "Revoked %d tokens.", len(tokens)) % len(tokens),
            messages.SUCCESS,
        )


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    """The record of every message sent. Read-only: the only change is "Retry now"."""

    list_display = (
        "subject",
        "channel",
        "addressee",
        "status",
        "attempts",
        "error",
        "created_at",
        "sent_at",
    )
    list_filter = ("status", "channel")
    list_select_related = ("recipient", "webhook")
    search_fields = ("subject", "recipient__username", "webhook__name", "dedupe_key")
    date_hierarchy = "created_at"
    fields = (
        "channel",
        "recipient",
        "webhook",
        "subject",
        "body",
        "link",
        "context",
        "dedupe_key",
        "status",
        "attempts",
        "last_error",
        "next_attempt_at",
        "created_at",
        "sent_at",
        "read_at",
    )
    readonly_fields = fields
    actions = ("retry_now",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_retry_permission(self, request):
        return request.user.has_perm("itsm.change_notification")

    @admin.display(description="to")
    def addressee(self, obj):
        return obj.recipient or obj.webhook or "—"

    @admin.display(description="last error")
    def error(self, obj):
        return Truncator(obj.last_error).chars(80)

    @admin.action(description="Retry now", permissions=["retry"])
    def retry_now(self, request, queryset):
        count = notifications_retry_now(notifications=queryset, now=timezone.now())
        self.message_user(
            request,
            ngettext(
                "Queued %d notification to be sent again.",
                "Queued %d notifications to be sent again.",
                count,
            )
            % count,
            messages.SUCCESS,
        )


@admin.register(ChatWebhook)
class ChatWebhookAdmin(admin.ModelAdmin):
    """Slack and Teams channels. The URL is a secret kept in the environment; the admin only
    says whether the variable is set."""

    list_display = ("name", "slug", "kind", "url_env", "url_is_set", "active")
    list_filter = ("kind", "active")
    search_fields = ("name", "slug", "url_env")
    prepopulated_fields = {"slug": ("name",)}
    fields = ("name", "slug", "kind", "url_env", "url_is_set", "active")
    readonly_fields = ("url_is_set",)

    @admin.display(description="URL set", boolean=True)
    def url_is_set(self, obj):
        return bool(obj.url()) if obj.pk else None
