"""The admin's alert pages: integrations (their key and the URL to paste, read-only; a
"Regenerate key" action; settings and the generic mapping editable), and read-only received
payloads, alert groups and alerts, each linked to its incident."""

import json

from django.conf import settings
from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import ngettext

from incidents.alerts.services import (
    REPLAY_PERMISSION,
    integration_regenerate_key,
    received_payload_replay,
)
from incidents.choices import PayloadOutcome
from incidents.models import Alert, AlertGroup, Integration, ReceivedPayload, RoutingRule
from incidents.models.alerts import ALERT_FIELDS
from itsm.admin_mixins import ReadOnlyRecords
from itsm.errors import ConflictError


def _incident_link(incident):
    if incident is None:
        return "—"
    url = reverse("admin:incidents_incident_change", args=[incident.pk])
    return format_html('<a href="{}">{}</a>', url, incident.number)


@admin.register(Integration)
class IntegrationAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "service", "active", "rate_limit", "created_at")
    list_filter = ("kind", "active")
    list_select_related = ("service",)
    search_fields = ("name",)
    readonly_fields = ("key", "sender_url", "created_at")
    actions = ("regenerate_keys",)
    fieldsets = (
        (None, {"fields": ("name", "kind", "service", "active", "key", "sender_url")}),
        (
            "Behaviour",
            {"fields": ("on_refire", "on_clear", "resolve_after_minutes", "rate_limit")},
        ),
        ("Grafana signature", {"fields": ("signature_header", "signature_secret")}),
        (
            "Generic JSON mapping",
            {"fields": ("title_path", "dedup_key_path", "severity_path", "resolve_when")},
        ),
        (None, {"fields": ("created_at",)}),
    )

    @admin.display(description="URL to paste into the sender")
    def sender_url(self, integration):
        if integration.pk is None:
            return "Shown once the integration is saved."
        return settings.PORTAL_BASE_URL + integration.path

    @admin.action(
        description="Regenerate the key (senders need the new URL)", permissions=["change"]
    )
    def regenerate_keys(self, request, queryset):
        for integration in queryset:
            integration_regenerate_key(actor=request.user, integration=integration)
        count = len(queryset)
        self.message_user(
            request,
            ngettext(
                "Regenerated %d key: the old one answers 404 now.",
                "Regenerated %d keys: the old ones answer 404 now.",
                count,
            )
            % count,
            messages.SUCCESS,
        )


@admin.register(RoutingRule)
class RoutingRuleAdmin(admin.ModelAdmin):
    """Ordered rules: the first enabled one whose matchers hold routes a new alert incident."""

    list_display = (
        "position",
        "name",
        "enabled",
        "integration",
        "matchers",
        "service",
        "team",
        "priority",
        "declare_major",
    )
    list_display_links = ("name",)
    list_editable = ("position", "enabled")
    list_filter = ("enabled", "declare_major", "integration")
    list_select_related = ("integration", "service", "team")
    search_fields = ("name", "matchers")
    autocomplete_fields = ("service", "team")
    fieldsets = (
        (None, {"fields": ("position", "name", "enabled")}),
        ("When", {"fields": ("integration", "matchers")}),
        ("Then", {"fields": ("service", "team", "priority", "declare_major")}),
    )


@admin.register(ReceivedPayload)
class ReceivedPayloadAdmin(ReadOnlyRecords, admin.ModelAdmin):
    list_display = ("received_at", "integration", "outcome", "group")
    list_filter = ("outcome", "integration")
    search_fields = ("group_key",)
    list_select_related = ("integration", "group__integration")
    date_hierarchy = "received_at"
    fields = (
        "integration",
        "received_at",
        "outcome",
        "error",
        "group_key",
        "group",
        "replay_of",
        "headers",
        "raw_body",
    )
    readonly_fields = fields
    actions = ("replay",)

    def has_replay_permission(self, request):
        return request.user.has_perm(REPLAY_PERMISSION)

    @admin.action(description="Replay selected payloads", permissions=["replay"])
    def replay(self, request, queryset):
        """Each payload read again through its integration's current mapping: a message
        per payload with the incident it went to, or why it was refused."""
        for payload in queryset.order_by("received_at", "pk"):
            try:
                replayed = received_payload_replay(payload=payload, actor=request.user)
            except ConflictError as refused:
                self.message_user(request, f"Payload #{payload.pk}: {refused}", messages.ERROR)
                continue
            self.message_user(request, *_replay_message(payload, replayed))

    def get_queryset(self, request):
        """The list leaves the bodies (up to 512 KB each) in the database."""
        queryset = super().get_queryset(request)
        if request.resolver_match.url_name.endswith("_changelist"):
            return queryset.defer("body")
        return queryset

    @admin.display(description="body")
    def raw_body(self, payload):
        """The body as received, pretty-printed when it is JSON, escaped."""
        try:
            text = json.dumps(json.loads(payload.body), indent=2, ensure_ascii=False)
        except ValueError:
            text = payload.body
        return format_html("<pre>{}</pre>", text)


def _replay_message(payload: ReceivedPayload, replayed: ReceivedPayload) -> tuple[str, str]:
    if replayed.outcome == PayloadOutcome.PENDING:
        return (
            f"Payload #{payload.pk} replayed as #{replayed.pk}: pending, the worker applying "
            f"this integration's payloads applies it next.",
            messages.INFO,
        )
    if replayed.outcome == PayloadOutcome.FAILED:
        return f"Payload #{payload.pk} failed again: {replayed.error}", messages.ERROR
    if replayed.outcome != PayloadOutcome.ACCEPTED:
        reason = replayed.error or replayed.get_outcome_display()
        return f"Payload #{payload.pk} was refused again: {reason}", messages.ERROR
    incident = replayed.group.incident.number if replayed.group else "no incident"
    return f"Payload #{payload.pk} replayed: accepted ({incident}).", messages.SUCCESS


class AlertInline(admin.TabularInline):
    model = Alert
    extra = 0
    fields = ("fingerprint", "status", "labels", "starts_at", "ends_at", "last_seen_at")
    readonly_fields = fields
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(AlertGroup)
class AlertGroupAdmin(ReadOnlyRecords, admin.ModelAdmin):
    list_display = (
        "title",
        "integration",
        "status",
        "incident_link",
        "alert_count",
        "firing_count",
        "received_count",
        "last_seen_at",
    )
    list_filter = ("status", "integration")
    list_select_related = ("integration", "incident")
    search_fields = ("title", "key", "=incident__number")
    date_hierarchy = "last_seen_at"
    fields = (
        "integration",
        "key",
        "title",
        "status",
        "incident_link",
        "alert_count",
        "firing_count",
        "received_count",
        "first_seen_at",
        "last_seen_at",
        "resolved_at",
    )
    readonly_fields = fields
    inlines = (AlertInline,)

    @admin.display(description="incident", ordering="incident__number")
    def incident_link(self, group):
        return _incident_link(group.incident)


@admin.register(Alert)
class AlertAdmin(ReadOnlyRecords, admin.ModelAdmin):
    list_display = ("fingerprint", "status", "group", "incident_link", "last_seen_at")
    list_filter = ("status",)
    list_select_related = ("group__integration", "group__incident")
    search_fields = ("fingerprint", "=group__incident__number")
    fields = ("group", "incident_link", *ALERT_FIELDS)
    readonly_fields = fields

    @admin.display(description="incident")
    def incident_link(self, alert):
        return _incident_link(alert.group.incident)
