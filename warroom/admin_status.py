"""The admin of the public status page (imported by warroom/admin.py).

Components and their groups are reference data, edited here like the CMDB's services (each
edit named in the component's history). Public incidents and their updates are read-only here:
they are posted from the war room, the incident page or the API (`warroom.status.services`).
A maintenance is scheduled, and moved on with a public note, through the services; whether the
clock starts and completes it (`auto_transition`) is chosen when it is scheduled and switched by
the list's actions. Subscribers are listed read-only: only their owners subscribe, confirm and
change them (double opt-in); managers unsubscribe or delete them.
"""

from django import forms
from django.contrib import admin, messages
from django.db.models import Prefetch

from incidents.admin import HistoryAdmin, ReadOnlyInline, ServiceWrittenAdmin, load_saved
from incidents.choices import ChangeSource
from incidents.services import change_reason
from itsm.admin_mixins import RefusesMalformedLists
from warroom.choices import MaintenanceStatus
from warroom.models import (
    STATUS_BODY_MAX_LENGTH,
    AffectedComponent,
    ComponentGroup,
    Maintenance,
    MaintenanceUpdate,
    StatusComponent,
    StatusIncident,
    StatusSubscriber,
    StatusUpdate,
)
from warroom.status import services, subscriptions

ADMIN = ChangeSource.ADMIN


@admin.register(ComponentGroup)
class ComponentGroupAdmin(admin.ModelAdmin):
    list_display = ("name", "position")
    list_editable = ("position",)


@admin.register(StatusComponent)
class StatusComponentAdmin(HistoryAdmin):
    list_display = ("name", "slug", "group", "position", "public", "status_override", "service")
    list_filter = ("public", "group")
    list_select_related = ("group", "service")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    fields = (
        "name",
        "slug",
        "description",
        "service",
        "group",
        "position",
        "public",
        "status_override",
    )
    history_list_display = ("public", "status_override")

    def save_model(self, request, obj, form, change):
        reason = "edit " + ", ".join(form.changed_data) if change else "create"
        obj._change_reason = change_reason(reason, request.user, ADMIN)
        super().save_model(request, obj, form, change)


class StatusUpdateInline(ReadOnlyInline):
    model = StatusUpdate
    fields = ("created_at", "status", "body", "author")


@admin.register(StatusIncident)
class StatusIncidentAdmin(ServiceWrittenAdmin):
    list_display = ("name", "incident", "status", "impact", "created_at", "resolved_at")
    list_filter = ("status", "impact")
    list_select_related = ("incident",)
    search_fields = ("name", "incident__number")
    fields = (
        "incident",
        "name",
        "status",
        "impact",
        "started_at",
        "created_at",
        "monitoring_at",
        "resolved_at",
    )
    readonly_fields = fields
    inlines = [StatusUpdateInline]
    history_list_display = ("name", "status", "impact")

    def has_add_permission(self, request):
        """Posted from the war room, the incident page or the API."""
        return False


@admin.register(AffectedComponent)
class AffectedComponentAdmin(admin.ModelAdmin):
    """Read-only: which components each update named, before and after."""

    list_display = ("update", "component", "old_status", "new_status")
    list_select_related = ("update", "component")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class MaintenanceForm(forms.ModelForm):
    body = forms.CharField(
        widget=forms.Textarea,
        max_length=STATUS_BODY_MAX_LENGTH,
        help_text="The public note of this step (Markdown).",
    )

    class Meta:
        model = Maintenance
        fields = (
            "name",
            "status",
            "scheduled_for",
            "scheduled_until",
            "auto_transition",
            "components",
        )


class MaintenanceUpdateInline(ReadOnlyInline):
    model = MaintenanceUpdate
    fields = ("created_at", "status", "body", "author")


@admin.register(Maintenance)
class MaintenanceAdmin(ServiceWrittenAdmin):
    form = MaintenanceForm
    list_display = ("name", "status", "scheduled_for", "scheduled_until", "auto_transition")
    list_filter = ("status", "auto_transition")
    filter_horizontal = ("components",)
    inlines = [MaintenanceUpdateInline]
    history_list_display = ("status", "auto_transition")
    actions = ["transition_automatically", "transition_by_hand"]

    def get_readonly_fields(self, request, obj=None):
        """Once scheduled, a maintenance changes by its status and a note (and the clock by the
        list's actions)."""
        if obj is None:
            return ()
        return ("name", "scheduled_for", "scheduled_until", "auto_transition", "components")

    @admin.action(
        description="Start and complete the selected on the clock", permissions=["change"]
    )
    def transition_automatically(self, request, queryset):
        self._set_auto_transition(request, queryset, True)

    @admin.action(description="Leave the selected to people", permissions=["change"])
    def transition_by_hand(self, request, queryset):
        self._set_auto_transition(request, queryset, False)

    def _set_auto_transition(self, request, queryset, value: bool) -> None:
        for maintenance in queryset:
            services.maintenance_set_auto_transition(
                maintenance=maintenance, actor=request.user, source=ADMIN, auto_transition=value
            )
        self.message_user(request, f"{len(queryset)} maintenance(s) updated.", messages.SUCCESS)

    def has_change_permission(self, request, obj=None):
        done = obj is not None and obj.status == MaintenanceStatus.COMPLETED
        return super().has_change_permission(request, obj) and not done

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            services.maintenance_post_update(
                maintenance=obj,
                actor=request.user,
                source=ADMIN,
                status=data["status"],
                body=data["body"],
            )
            saved = obj
        else:
            saved = services.maintenance_create(
                actor=request.user,
                source=ADMIN,
                name=data["name"],
                body=data["body"],
                scheduled_for=data["scheduled_for"],
                scheduled_until=data["scheduled_until"],
                components=list(data["components"]),
                status=data["status"],
            )
            if not data["auto_transition"]:
                services.maintenance_set_auto_transition(
                    maintenance=saved, actor=request.user, source=ADMIN, auto_transition=False
                )
        load_saved(obj, saved)


class SubscriptionState(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [
            ("pending", "Waiting for confirmation"),
            ("confirmed", "Confirmed"),
            ("unsubscribed", "Unsubscribed"),
        ]

    def queryset(self, request, queryset):
        live = queryset.filter(unsubscribed_at__isnull=True)
        return {
            "pending": live.filter(confirmed_at__isnull=True),
            "confirmed": live.filter(confirmed_at__isnull=False),
            "unsubscribed": queryset.filter(unsubscribed_at__isnull=False),
        }.get(self.value(), queryset)


@admin.register(StatusSubscriber)
class StatusSubscriberAdmin(RefusesMalformedLists, admin.ModelAdmin):
    """Read-only but for removal: an address is subscribed, confirmed and its components chosen
    only by its owner, through the emailed link (double opt-in); an admin who could add,
    confirm or widen a subscription could mail people who never agreed. The secret of the
    links is never shown (it would let its reader confirm for the owner)."""

    list_display = ("email", "confirmed", "subscribed_to", "created_at", "unsubscribed_at")
    list_filter = (SubscriptionState, "components", "created_at")
    search_fields = ("email",)
    date_hierarchy = "created_at"
    fields = (
        "email",
        "components",
        "created_at",
        "confirmation_sent_at",
        "confirmed_at",
        "unsubscribed_at",
    )
    readonly_fields = fields
    actions = ["unsubscribe"]

    def get_queryset(self, request):
        by_name = Prefetch("components", queryset=StatusComponent.objects.order_by("name"))
        return super().get_queryset(request).prefetch_related(by_name)

    @admin.display(boolean=True, description="confirmed", ordering="confirmed_at")
    def confirmed(self, subscriber: StatusSubscriber) -> bool:
        return subscriber.confirmed_at is not None

    @admin.display(description="components")
    def subscribed_to(self, subscriber: StatusSubscriber) -> str:
        return ", ".join(c.name for c in subscriber.components.all()) or "The whole page"

    def has_add_permission(self, request):
        """People subscribe themselves, on the status page."""
        return False

    def has_change_permission(self, request, obj=None):
        """Nothing is edited: see the class's docstring."""
        return False

    def has_unsubscribe_permission(self, request) -> bool:
        return request.user.has_perm("warroom.change_statussubscriber")

    @admin.action(
        description="Unsubscribe the selected (no more email)", permissions=["unsubscribe"]
    )
    def unsubscribe(self, request, queryset):
        for subscriber in queryset:
            subscriptions.subscriber_unsubscribe(subscriber=subscriber)
        self.message_user(request, f"{len(queryset)} address(es) unsubscribed.", messages.SUCCESS)
