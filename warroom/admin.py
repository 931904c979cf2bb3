"""The Django admin of the war room: major incidents and the rules that declare them.

Writes go through `warroom.services`, as in the incident admin: the add form declares with
`major_incident_declare`; the change form edits the manager (managers only), the bridge link
and the chat channels with `major_incident_update` and `major_incident_set_chat_webhooks`; the
"Demote" button leads to a small form that runs `major_incident_demote`. A room that is no
longer live is shown read-only; nothing is deleted. The two declaration rules (created by the
migration) are edited through `declaration_rule_update`.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import quote
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import URLValidator
from django.db import connection

from incidents.admin import ReadOnlyInline, ServiceWrittenAdmin, load_saved
from incidents.choices import OPEN_STATUSES, ChangeSource
from incidents.models import Incident
from itsm.errors import ApplicationError
from warroom import services
from warroom.choices import MajorIncidentState
from warroom.models import (
    DECLARE_PERMISSION,
    REASON_MAX_LENGTH,
    WORK_PERMISSION,
    BridgeAttendance,
    DeclarationRule,
    MajorIncident,
    RoleAssignment,
    ScratchpadRevision,
    WarRoomTask,
)

ADMIN = ChangeSource.ADMIN
S = MajorIncidentState
WEB_LINK = URLValidator(schemes=["http", "https"], message="Enter an http:// or https:// link.")


def _active_users():
    return get_user_model().objects.filter(is_active=True).order_by("username")


class ExistingIdsField(forms.ModelMultipleChoiceField):
    """Rows chosen by id. An id beyond what the id column holds is refused like any unknown
    one: Django's `in` lookup does not check the range (its `exact` lookup does), and SQLite
    raises OverflowError for it."""

    def clean(self, value):
        low, high = connection.ops.integer_field_range(
            self.queryset.model._meta.pk.get_internal_type()
        )
        for pk in value if isinstance(value, list | tuple) else ():
            try:
                in_range = low <= int(pk) <= high
            except (TypeError, ValueError):
                continue  # not a number: Django's own check refuses it
            if not in_range:
                raise ValidationError(
                    self.error_messages["invalid_pk_value"],
                    code="invalid_pk_value",
                    params={"pk": pk},
                )
        return super().clean(value)


class StaffManagerForm(forms.ModelForm):
    """A form whose `manager`, when it has one, must be someone who may work in war rooms."""

    def clean_manager(self):
        manager = self.cleaned_data["manager"]
        if manager is not None and not services.is_staff_user(manager):
            raise forms.ValidationError(f"{manager.get_username()} is not active staff.")
        return manager


# --- major incidents ---------------------------------------------------------------------------


class RoleInline(ReadOnlyInline):
    model = RoleAssignment
    fields = ("role", "user", "assigned_by", "assigned_at", "ended_at", "ended_by")
    verbose_name_plural = "roles (current and past)"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user", "assigned_by", "ended_by")


class TaskInline(ReadOnlyInline):
    model = WarRoomTask
    fields = ("title", "assignee", "done", "created_by", "created_at", "done_at")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("assignee", "created_by")


class BridgeInline(ReadOnlyInline):
    model = BridgeAttendance
    fields = ("user", "joined_at", "left_at")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user")


class RevisionInline(ReadOnlyInline):
    model = ScratchpadRevision
    fields = ("version", "author", "at", "merged")
    ordering = ("-version",)
    verbose_name_plural = "scratchpad revisions"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("author").defer("text")


class DeclareForm(StaffManagerForm):
    """Declaring: an open incident that is not a major incident now (a demoted one may be
    declared again), its manager, the bridge and the impact. The admin builds its fields."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["incident"].queryset = (
            Incident.objects.filter(status__in=OPEN_STATUSES)
            .exclude(major_incident__state__in=[S.ACTIVE, S.RESOLVED, S.CLOSED])
            .order_by("-number")
        )
        self.fields["manager"].required = True

    def validate_unique(self):
        """A demoted major incident keeps its row: declaring it again reopens that row, which
        the service decides, not the unique constraint."""


class DemoteForm(forms.Form):
    reason = forms.CharField(
        max_length=REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Why this is no longer a major incident. It goes on the timeline.",
    )


ADD_FIELDSETS = (
    (None, {"fields": ("incident", "manager", "bridge_link", "initial_impact_statement")}),
)
CHANGE_FIELDSETS = (
    (None, {"fields": ("number", "title", "state", "manager", "bridge_link", "chat_webhooks")}),
    (
        "Declaration",
        {
            "fields": (
                "initial_impact_statement",
                "trigger",
                "trigger_detail",
                "declared_by",
                "declared_at",
            )
        },
    ),
    (
        "Lifecycle",
        {
            "fields": (
                "resolved_at",
                "closed_at",
                "demoted_at",
                "demoted_by",
                "demotion_reason",
                "scratchpad_version",
            )
        },
    ),
)
EDITABLE = ("manager", "bridge_link", "chat_webhooks")
CHANGE_READONLY_FIELDS = tuple(
    name for _, options in CHANGE_FIELDSETS for name in options["fields"] if name not in EDITABLE
)


@admin.register(MajorIncident)
class MajorIncidentAdmin(ServiceWrittenAdmin):
    list_display = ("number", "title", "state", "manager", "declared_at")
    list_filter = ("state", "trigger")
    list_select_related = ("incident", "manager")
    search_fields = ("=incident__number", "incident__title")
    search_help_text = "An incident number (INC0001234), or words from its title."
    date_hierarchy = "declared_at"
    filter_horizontal = ("chat_webhooks",)
    inlines = (RoleInline, TaskInline, BridgeInline, RevisionInline)
    history_list_display = ("state", "manager")

    @admin.display(description="number", ordering="incident__number")
    def number(self, major):
        return major.incident.number

    @admin.display(description="title", ordering="incident__title")
    def title(self, major):
        return major.incident.title

    # --- who may do what ---

    def has_add_permission(self, request):
        return request.user.has_perm(DECLARE_PERMISSION)

    def has_change_permission(self, request, obj=None):
        """Those who work in war rooms edit a live one; a demoted or closed room is a record."""
        return request.user.has_perm(WORK_PERMISSION) and (obj is None or obj.is_live)

    # --- the form ---

    def get_fieldsets(self, request, obj=None):
        return CHANGE_FIELDSETS if obj else ADD_FIELDSETS

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        if request.user.has_perm(DECLARE_PERMISSION):
            return CHANGE_READONLY_FIELDS
        return (*CHANGE_READONLY_FIELDS, "manager")

    def get_form(self, request, obj=None, **kwargs):
        kwargs["form"] = StaffManagerForm if obj else DeclareForm
        return super().get_form(request, obj, **kwargs)

    def get_inlines(self, request, obj):
        return self.inlines if obj else ()

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "manager":
            kwargs["queryset"] = _active_users()
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        kwargs["form_class"] = ExistingIdsField
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name != "bridge_link":
            return super().formfield_for_dbfield(db_field, request, **kwargs)
        field = super().formfield_for_dbfield(db_field, request, assume_scheme="https", **kwargs)
        field.validators.append(WEB_LINK)
        return field

    def save_model(self, request, obj, form, change):
        saved = self._update(request, obj, form) if change else self._declare(request, form)
        load_saved(obj, saved)

    def _declare(self, request, form) -> MajorIncident:
        """The add form's fields (ADD_FIELDSETS) are the service's arguments."""
        return services.major_incident_declare(
            actor=request.user, source=ADMIN, **form.cleaned_data
        )

    def _update(self, request, obj, form) -> MajorIncident:
        changes = {
            name: form.cleaned_data[name]
            for name in ("manager", "bridge_link")
            if name in form.changed_data
        }
        if changes:
            services.major_incident_update(major=obj, actor=request.user, source=ADMIN, **changes)
        if "chat_webhooks" in form.changed_data:
            services.major_incident_set_chat_webhooks(
                major=obj,
                actor=request.user,
                source=ADMIN,
                webhooks=form.cleaned_data["chat_webhooks"],
            )
        return obj

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and self._may_demote(request, obj):
            context["demote_url"] = self.admin_url("demote", quote(obj.pk))
        return super().render_change_form(request, context, add, change, form_url, obj)

    # --- the demote form ---

    def get_urls(self):
        return [self.object_action_path("demote/", self.demote_view, "demote"), *super().get_urls()]

    @staticmethod
    def _may_demote(request, major) -> bool:
        return major.state == S.ACTIVE and request.user.has_perm(DECLARE_PERMISSION)

    def demote_view(self, request, object_id):
        """The reason asked for; on POST the demotion runs through the service."""
        if not request.user.has_perm(DECLARE_PERMISSION):
            raise PermissionDenied
        major = self.object_or_404(request, object_id)
        if major.state != S.ACTIVE:
            return self.back_to_change_page(
                request,
                major,
                f"{major.number} is {major.get_state_display().lower()}: only an active major "
                "incident can be demoted.",
                messages.ERROR,
            )
        form = DemoteForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                services.major_incident_demote(
                    major=major, actor=request.user, source=ADMIN, **form.cleaned_data
                )
            except ApplicationError as error:
                form.add_error("reason" if "reason" in error.fields else None, error.message)
            else:
                return self.back_to_change_page(
                    request, major, f"{major.number} is no longer a major incident."
                )
        return self.render_action_form(
            request,
            major,
            form,
            template="admin/warroom/majorincident/demote_form.html",
            action="Demote",
            title=f"Demote {major.number}",
        )


# --- declaration rules ---------------------------------------------------------------------------


class DeclarationRuleForm(StaffManagerForm):
    def clean_threshold(self):
        threshold = self.cleaned_data["threshold"]
        low, high = services.THRESHOLD_RANGES[self.instance.kind]
        if not low <= threshold <= high:
            raise forms.ValidationError(f"Must be from {low} to {high}.")
        return threshold


@admin.register(DeclarationRule)
class DeclarationRuleAdmin(ServiceWrittenAdmin):
    form = DeclarationRuleForm
    list_display = (
        "kind",
        "describe",
        "enabled",
        "priority",
        "threshold",
        "manager_schedule",
        "manager",
    )
    list_select_related = ("manager", "manager_schedule")
    fields = ("kind", "enabled", "priority", "threshold", "manager_schedule", "manager")
    readonly_fields = ("kind",)
    history_list_display = ("enabled", "priority", "threshold", "manager_schedule", "manager")

    @admin.display(description="rule")
    def describe(self, rule):
        return rule.describe()

    def has_add_permission(self, request):
        """The two rules come from the migration; they are switched off, never deleted."""
        return False

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "manager":
            kwargs["queryset"] = _active_users()
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        saved = services.declaration_rule_update(
            rule=obj,
            actor=request.user,
            source=ADMIN,
            **{name: form.cleaned_data[name] for name in form.changed_data},
        )
        load_saved(obj, saved)


# The status page's and the communication templates' admins.
from warroom import admin_communications, admin_status  # noqa: E402, F401
