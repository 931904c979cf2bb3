"""API tokens in the admin: listed by hint, created and revoked through `itsm.services`.

Only a token's hash is stored, so no page can show a raw key; the one created here is shown
once, in the success message after adding it.
"""

from django.contrib import admin, messages
from django.utils.translation import ngettext

from itsm.models import ApiToken
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
