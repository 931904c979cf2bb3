"""The itsm package in the admin: API tokens, notifications, chat webhooks and the
authentication audit log.

API tokens are listed by hint, created and revoked through `itsm.services`. Only a token's hash
is stored, so no page can show a raw key; the one created here is shown once, in the success
message after adding it.
"""

import csv
import json

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect, StreamingHttpResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.text import Truncator
from django.utils.translation import ngettext

from itsm.admin_mixins import ReadOnlyRecords, RefusesMalformedLists
from itsm.choices import WebhookEvent
from itsm.models import (
    ApiToken,
    AuthEvent,
    ChatWebhook,
    IdempotencyKey,
    Notification,
    OutboxItem,
    WebhookDelivery,
    WebhookSubscription,
)
from itsm.notifications import notifications_retry_now
from itsm.outbox import outbox_items_retry_now
from itsm.services import token_create, token_revoke
from itsm.spreadsheet import spreadsheet_cell
from itsm.webhooks import (
    rotating,
    webhook_deliveries_retry_now,
    webhook_previous_secret_drop,
    webhook_secret_rotate,
    webhook_subscription_enable,
)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = (
        "hint",
        "user",
        "name",
        "created_at",
        "expires_at",
        "revoked_at",
        "first_used_at",
        "last_used_at",
    )
    list_select_related = ("user",)
    search_fields = ("hint", "name", "user__username")
    readonly_fields = ("hint", "created_at", "revoked_at", "first_used_at", "last_used_at")
    actions = ("revoke_tokens",)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("user", "name", "expires_at")
        return (
            "user",
            "name",
            "hint",
            "created_at",
            "expires_at",
            "revoked_at",
            "first_used_at",
            "last_used_at",
        )

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
class NotificationAdmin(ReadOnlyRecords, admin.ModelAdmin):
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


class WebhookSubscriptionForm(forms.ModelForm):
    # The model's validators (public addresses only) run in the model's clean.
    url = forms.URLField(label="URL", max_length=500, assume_scheme="https")
    event_types = forms.MultipleChoiceField(
        choices=WebhookEvent.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="The events to send; none while no box is ticked.",
    )

    class Meta:
        model = WebhookSubscription
        fields = ("name", "url", "event_types", "active")


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(admin.ModelAdmin):
    """Outbound webhooks. The secret is shown once, when made (on saving a new subscription,
    or by "Rotate secret"); the page only says whether a rotation is under way."""

    form = WebhookSubscriptionForm
    list_display = ("name", "url", "active", "rotating", "disabled_at", "disabled_reason")
    list_filter = ("active",)
    search_fields = ("name", "url")
    readonly_fields = ("rotating", "secret_rotated_at", "disabled_at", "disabled_reason")
    actions = ("rotate_secret", "drop_previous_secret", "enable")

    def get_fields(self, request, obj=None):
        fields = ("name", "url", "event_types", "active")
        return fields if obj is None else fields + self.readonly_fields

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change:
            self._show_secret(request, obj)
        elif obj.active and obj.disabled_at:  # ticked on again: as the enable action does
            webhook_subscription_enable(subscription=obj)

    def _show_secret(self, request, subscription):
        self.message_user(
            request,
            f"Secret of {subscription}: {subscription.secret} — give it to the receiver now; "
            "it will not be shown again.",
            messages.SUCCESS,
        )

    @admin.display(description="previous secret still signs", boolean=True)
    def rotating(self, obj):
        return rotating(obj)

    @admin.action(
        description="Rotate secret (the old one signs too for 24 h)", permissions=["change"]
    )
    def rotate_secret(self, request, queryset):
        now = timezone.now()
        for subscription in queryset:
            self._show_secret(request, webhook_secret_rotate(subscription=subscription, now=now))

    @admin.action(description="Drop the previous secret", permissions=["change"])
    def drop_previous_secret(self, request, queryset):
        for subscription in queryset:
            webhook_previous_secret_drop(subscription=subscription)
        self.message_user(request, "The previous secrets no longer sign.", messages.SUCCESS)

    @admin.action(description="Re-enable", permissions=["change"])
    def enable(self, request, queryset):
        for subscription in queryset:
            webhook_subscription_enable(subscription=subscription)
        self.message_user(request, "Enabled: new events will be sent.", messages.SUCCESS)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(RefusesMalformedLists, ReadOnlyRecords, admin.ModelAdmin):
    """The outbound webhook log. Read-only: the only change is "Retry now"."""

    list_display = (
        "message_id",
        "event_type",
        "subscription",
        "status",
        "attempts",
        "last_response_code",
        "error",
        "created_at",
        "next_attempt_at",
    )
    list_filter = ("status", "event_type", "subscription")
    list_select_related = ("subscription",)
    search_fields = ("message_id",)
    date_hierarchy = "created_at"
    fields = (
        "subscription",
        "message_id",
        "event_type",
        "payload",
        "status",
        "attempts",
        "last_response_code",
        "last_error",
        "next_attempt_at",
        "created_at",
        "last_attempt_at",
        "finished_at",
    )
    readonly_fields = fields
    actions = ("retry_now",)

    def has_retry_permission(self, request):
        return request.user.has_perm("itsm.change_webhookdelivery")

    @admin.display(description="last error")
    def error(self, obj):
        return Truncator(obj.last_error).chars(80)

    @admin.action(description="Retry now", permissions=["retry"])
    def retry_now(self, request, queryset):
        count = webhook_deliveries_retry_now(deliveries=queryset, now=timezone.now())
        self.message_user(
            request,
            ngettext("Queued %d delivery to be sent again.", "Queued %d deliveries.", count)
            % count,
            messages.SUCCESS,
        )


@admin.register(OutboxItem)
class OutboxItemAdmin(RefusesMalformedLists, ReadOnlyRecords, admin.ModelAdmin):
    """The steps that follow committed writes (itsm/outbox.py). Read-only: the only change is
    "Retry now", which gives a failed item one more attempt."""

    list_display = ("pk", "kind", "status", "attempts", "error", "created_at", "due_at")
    list_filter = ("status", "kind")
    date_hierarchy = "created_at"
    fields = (
        "kind",
        "payload",
        "status",
        "attempts",
        "last_error",
        "due_at",
        "created_at",
        "done_at",
    )
    readonly_fields = fields
    actions = ("retry_now",)

    def has_retry_permission(self, request):
        return request.user.has_perm("itsm.change_outboxitem")

    @admin.display(description="last error")
    def error(self, obj):
        return Truncator(obj.last_error).chars(80)

    @admin.action(description="Retry now", permissions=["retry"])
    def retry_now(self, request, queryset):
        count = outbox_items_retry_now(items=queryset, now=timezone.now())
        self.message_user(
            request,
            ngettext("Queued %d item to be run again.", "Queued %d items.", count) % count,
            messages.SUCCESS,
        )


# What a spreadsheet would run as a formula at the start of a cell (CSV injection): the
# username column holds whatever a stranger typed into the sign-in form.
CSV_COLUMNS = ("at", "kind", "username", "user", "ip_address", "user_agent", "detail")


def _csv_row(event: AuthEvent) -> list[str]:
    values = (
        event.at.isoformat(),
        event.kind,
        event.username,
        event.user.get_username() if event.user else "",
        event.ip_address,
        event.user_agent,
        json.dumps(event.detail, sort_keys=True) if event.detail else "",
    )
    return [spreadsheet_cell(value) for value in values]


class _Echo:
    """csv.writer's file: hands each formatted line straight back for streaming."""

    def write(self, value):
        return value


def _csv_lines(events):
    writer = csv.writer(_Echo())
    yield writer.writerow(CSV_COLUMNS)
    for event in events.iterator(chunk_size=2000):
        yield writer.writerow(_csv_row(event))


def auth_events_csv(events) -> StreamingHttpResponse:
    response = StreamingHttpResponse(_csv_lines(events), content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="auth-events-{stamp}.csv"'
    return response


@admin.register(AuthEvent)
class AuthEventAdmin(RefusesMalformedLists, ReadOnlyRecords, admin.ModelAdmin):
    """The authentication audit log, read-only for whoever may view it (ITSM managers and super
    admins); "Export CSV" downloads the list as filtered and searched at the moment."""

    list_display = ("at", "kind", "username", "user", "ip_address", "short_agent", "detail")
    list_filter = ("kind", ("user", admin.RelatedOnlyFieldListFilter), "at")
    list_select_related = ("user",)
    search_fields = ("username", "user__username", "ip_address", "user_agent")
    date_hierarchy = "at"
    fields = ("at", "kind", "user", "username", "ip_address", "user_agent", "detail")
    readonly_fields = fields
    change_list_template = "admin/itsm/authevent/change_list.html"

    @admin.display(description="user agent")
    def short_agent(self, obj):
        return Truncator(obj.user_agent).chars(60)

    def get_urls(self):
        export = path(
            "export/",
            self.admin_site.admin_view(self.export_view),
            name="itsm_authevent_export",
        )
        return [export, *super().get_urls()]

    def export_view(self, request):
        """The list's events under its current filters and search, all pages, as CSV."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters:
            return HttpResponseRedirect(reverse("admin:itsm_authevent_changelist") + "?e=1")
        return auth_events_csv(changelist.get_queryset(request))


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(RefusesMalformedLists, ReadOnlyRecords, admin.ModelAdmin):
    """The API writes' Idempotency-Keys of the last 24 hours and what they answered, read-only,
    for superusers (no role is given it). The stored answer's body is not shown: it may hold a
    webhook's secret."""

    list_display = ("created_at", "user", "key", "method", "path", "status")
    list_filter = ("method", "status", ("user", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("user",)
    search_fields = ("key", "path", "user__username")
    date_hierarchy = "created_at"
    fields = (
        "created_at",
        "user",
        "key",
        "method",
        "path",
        "body_digest",
        "status",
        "content_type",
    )
    readonly_fields = fields
