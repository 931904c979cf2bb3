"""The Django admin for ITSM managers: incidents, services, teams and the priority matrix.

Incident writes go through `incidents.services` like every other write: the change form edits
fields with `incident_update`, the add form logs with `incident_create`, and each transition
allowed now has a button leading to a small form that runs `incident_transition`. Status and
number are never editable here, and the timeline and checklist are shown read-only.
"""

import re

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import flatten_fieldsets, quote, unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Count, prefetch_related_objects
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse
from django.utils.text import capfirst
from django.utils.timesince import timesince
from simple_history.admin import SimpleHistoryAdmin
from simple_history.models import DeletedObject
from simple_history.template_utils import HistoricalRecordContextHelper

from incidents import selectors, services
from incidents.choices import ChangeSource, Priority, Transition
from incidents.forms import TransitionForm, not_in_future
from incidents.history import shown_value
from incidents.models import (
    WORK_PERMISSION,
    ChecklistEntry,
    ClockClaim,
    Incident,
    IncidentEvent,
    PriorityMatrixEntry,
    Service,
    Team,
)
from itsm.admin_mixins import EstimatedCountPaginator, ReadOnlyRecords, RefusesMalformedLists
from itsm.errors import ApplicationError

SHORT_NUMBER = re.compile(r"^(?:INC)?0*(\d{1,7})$", re.IGNORECASE)


def _canonical_number(term: str) -> str | None:
    """The full number for a search term such as "inc42" or "42"; None for other terms."""
    match = SHORT_NUMBER.match(term.strip())
    if match is None:
        return None
    return f"INC{int(match.group(1)):0{services.NUMBER_WIDTH}d}"


def load_saved(obj, saved) -> None:
    """Point the admin's form instance at the row a service wrote, so the admin's log entry,
    messages and redirect describe what was actually saved."""
    obj.pk = saved.pk
    obj.refresh_from_db()


class HistoryContextHelper(HistoricalRecordContextHelper):
    def prepare_delta_change_value(self, change, value):
        """Values as the portal's history shows them (choice labels, people by name, records by
        number or slug); simple-history shows an empty foreign key as a deleted object: show
        it empty."""
        if value is None or (isinstance(value, DeletedObject) and value.pk is None):
            return "—"
        value = super().prepare_delta_change_value(change, value)
        return shown_value(self.model, change.field, value)


class HistoryAdmin(SimpleHistoryAdmin):
    def get_historical_record_context_helper(self, request, historical_record):
        return HistoryContextHelper(self.model, historical_record)

    def get_history_list_display(self, request):
        """Each column (`history_list_display`, field names) under its field's verbose name,
        which is also the attribute `set_history_delta_changes` gives its shown value."""
        return [self._column(name) for name in self.history_list_display]

    def _column(self, name: str) -> str:
        return capfirst(self.model._meta.get_field(name).verbose_name)

    def set_history_delta_changes(self, request, historical_records, foreign_keys_are_objs=True):
        """After the diffs (of the stored values), each column's value as the portal shows it,
        set apart from the field itself (an FSM field may not be assigned)."""
        super().set_history_delta_changes(request, historical_records, foreign_keys_are_objs)
        for record in historical_records:
            for name in self.history_list_display:
                shown = shown_value(self.model, name, getattr(record, name))
                setattr(record, self._column(name), shown)


class RefusesMalformedUrls(RefusesMalformedLists):
    """The URLs that Django's admin and simple-history's pages would turn into a 500,
    answered as the admin answers any bad lookup: malformed lists as `RefusesMalformedLists`;
    an object or version id that is not a number gets a 404."""

    def history_view(self, request, object_id, extra_context=None):
        _require_id(unquote(object_id))
        return super().history_view(request, object_id, extra_context)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        _require_id(unquote(object_id))
        _require_id(version_id)
        return super().history_form_view(request, object_id, version_id, extra_context)


def _require_id(value: str) -> None:
    if not (value.isascii() and value.isdigit()):
        raise Http404("No such record.")


class ServiceWrittenAdmin(RefusesMalformedUrls, HistoryAdmin):
    """The admin of records that only services write (`save_model` calls one, then
    `load_saved`): history shown, never reverted (a revert would bypass the services); nothing
    deleted; the read-only inlines never saved; a service's refusal shown as an error. Its
    actions (a transition, a demotion) are small forms on pages of their own."""

    def revert_disabled(self, request, obj=None):
        return True

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if request.method != "GET":
            return HttpResponseNotAllowed(["GET"])
        return super().history_form_view(request, object_id, version_id, extra_context)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        """A service that refuses the write (a race the form could not see) rolls the admin's
        transaction back and is shown as an error instead of a server error."""
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ApplicationError as error:
            self.message_user(request, error.message, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def has_delete_permission(self, request, obj=None):
        """Records: they are closed, cancelled or switched off, never deleted."""
        return False

    def save_related(self, request, form, formsets, change):
        """Nothing to do: `save_model` wrote everything through the service, and the inlines
        are read-only."""

    def construct_change_message(self, request, form, formsets, add=False):
        """The read-only inlines are never saved, so only the form's changes are logged."""
        return super().construct_change_message(request, form, [], add)

    # --- the page of one action on one object ---

    def object_action_path(self, route: str, view, name: str):
        """The URL pattern of `view` at `<object_id>/<route>`, behind the admin's sign-in,
        named like the admin's own pages."""
        return path(
            f"<path:object_id>/{route}",
            self.admin_site.admin_view(view),
            name=f"{self.opts.app_label}_{self.opts.model_name}_{name}",
        )

    def admin_url(self, name: str, *args) -> str:
        opts = self.opts
        return reverse(
            f"{self.admin_site.name}:{opts.app_label}_{opts.model_name}_{name}", args=args
        )

    def change_url(self, obj) -> str:
        return self.admin_url("change", quote(obj.pk))

    def object_or_404(self, request, object_id):
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404(f"No such {self.opts.verbose_name}.")
        return obj

    def back_to_change_page(self, request, obj, message: str, level=messages.SUCCESS):
        self.message_user(request, message, level)
        return HttpResponseRedirect(self.change_url(obj))

    def render_action_form(self, request, obj, form, *, template: str, action: str, title: str):
        """`form` in the admin's look, on `template` (which extends
        admin/object_action_form.html): `action` names the page and its button."""
        adminform = helpers.AdminForm(
            form, [(None, {"fields": list(form.fields)})], {}, model_admin=self
        )
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.opts,
            "original": obj,
            "action": action,
            "adminform": adminform,
            "errors": helpers.AdminErrorList(form, []),
            "media": self.media + adminform.media,
            "change_url": self.change_url(obj),
        }
        return render(request, template, context)


# --- incidents ---------------------------------------------------------------------------------


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ChecklistInline(ReadOnlyInline):
    model = ChecklistEntry
    fields = ("item", "ticked_by", "ticked_at")
    verbose_name_plural = "closure checklist (ticked items)"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("incident", "ticked_by")


class TimelineInline(ReadOnlyInline):
    model = IncidentEvent
    fields = ("at", "type", "summary", "actor", "source", "public", "pinned")
    ordering = ("at", "id")
    verbose_name_plural = "timeline"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")


class IncidentAddForm(forms.ModelForm):
    """The model's priority is derived; this optional field lets the creator set it instead."""

    explicit_priority = forms.ChoiceField(
        label="Priority",
        required=False,
        choices=[("", "Derive from impact × urgency"), *Priority.choices],
    )


ADD_FIELDSETS = (
    (None, {"fields": ("title", "description")}),
    ("Priority", {"fields": ("impact", "urgency", "explicit_priority")}),
    ("Assignment", {"fields": ("services", "team", "assignee")}),
    (
        "Details",
        {
            "fields": (
                "source",
                "affected_users",
                "detected_at",
                "started_at",
                "related_problem",
                "related_change",
            )
        },
    ),
)
CHANGE_FIELDSETS = (
    (None, {"fields": ("number", "status", "title", "description")}),
    ("Priority", {"fields": ("impact", "urgency", "priority", "priority_overridden")}),
    ("Assignment", {"fields": ("services", "team", "assignee", "reporter")}),
    (
        "Details",
        {"fields": ("source", "affected_users", "related_problem", "related_change")},
    ),
    (
        "Timestamps",
        {"fields": Incident.TIMESTAMP_FIELDS},
    ),
    (
        "Resolution",
        {
            "classes": ("collapse",),
            "fields": (
                "hold_reason",
                "mitigation_note",
                "resolution_code",
                "resolution_notes",
                "cancel_reason",
                "duplicate_of",
                "reopen_count",
            ),
        },
    ),
)
CHANGE_READONLY_FIELDS = tuple(
    name for name in flatten_fieldsets(CHANGE_FIELDSETS) if name not in services.EDITABLE_FIELDS
)


@admin.register(Incident)
class IncidentAdmin(ServiceWrittenAdmin):
    list_display = (
        "number",
        "title",
        "priority",
        "status",
        "team",
        "assignee",
        "service_names",
        "created_at",
        "age",
    )
    list_filter = ("status", "priority", "team", "source", "services")
    list_select_related = ("team", "assignee")
    search_fields = ("=number", "title")
    search_help_text = "An incident number (INC0001234 or 1234), or words from the title."
    date_hierarchy = "created_at"
    filter_horizontal = ("services",)
    history_list_display = ("status", "priority")
    # The whole list's count is an estimate on a big table: no second exact count of it.
    paginator = EstimatedCountPaginator
    show_full_result_count = False

    # --- the changelist ---

    def get_queryset(self, request):
        return selectors.incident_queryset()

    @admin.display(description="services")
    def service_names(self, incident):
        return ", ".join(service.name for service in incident.services.all())

    @admin.display(description="age", ordering="created_at")
    def age(self, incident):
        return timesince(incident.created_at, depth=1)

    def get_search_results(self, request, queryset, search_term):
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        number = _canonical_number(search_term)
        if number is not None:
            results |= queryset.filter(number=number)
        return results, may_have_duplicates

    # --- the form ---

    def get_fieldsets(self, request, obj=None):
        return CHANGE_FIELDSETS if obj else ADD_FIELDSETS

    def get_readonly_fields(self, request, obj=None):
        return CHANGE_READONLY_FIELDS if obj else ()

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = IncidentAddForm
        return super().get_form(request, obj, **kwargs)

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name in ("detected_at", "started_at"):
            field.validators.append(not_in_future)
        return field

    def get_inlines(self, request, obj):
        return (ChecklistInline, TimelineInline) if obj else ()

    def save_model(self, request, obj, form, change):
        saved = self._update(request, obj, form) if change else self._create(request, form)
        load_saved(obj, saved)

    def _create(self, request, form) -> Incident:
        data = form.cleaned_data
        return services.incident_create(
            actor=request.user,
            source=ChangeSource.ADMIN,
            title=data["title"],
            description=data["description"],
            impact=data["impact"],
            urgency=data["urgency"],
            priority=data["explicit_priority"] or None,
            services=[service.slug for service in data["services"]],
            team=data["team"],
            assignee=data["assignee"],
            incident_source=data["source"],
            affected_users=data["affected_users"],
            detected_at=data["detected_at"],
            started_at=data["started_at"],
            related_problem=data["related_problem"],
            related_change=data["related_change"],
        )

    def _update(self, request, obj, form) -> Incident:
        changes = {name: form.cleaned_data[name] for name in form.changed_data}
        if "services" in changes:
            changes["services"] = [service.slug for service in changes["services"]]
        return services.incident_update(
            incident=obj, actor=request.user, source=ChangeSource.ADMIN, **changes
        )

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context["transition_links"] = self._transition_links(request, obj)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def _transition_links(self, request, incident) -> list[dict]:
        prefetch_related_objects([incident], "checklist")  # what transition_blocker reads
        return [
            {
                "name": name,
                "label": Transition(name).label,
                "url": self.admin_url("transition", quote(incident.pk), name),
                "blocker": services.transition_blocker(incident, name),
            }
            for name in services.allowed_transitions(incident, request.user)
        ]

    # --- transition forms ---

    def get_urls(self):
        transition = self.object_action_path(
            "transition/<str:name>/", self.transition_view, "transition"
        )
        return [transition, *super().get_urls()]

    def transition_view(self, request, object_id, name):
        """The guard's form for one transition; on POST it runs the transition service."""
        if not request.user.has_perm(WORK_PERMISSION):
            raise PermissionDenied
        if name not in Transition.values:
            raise Http404(f"No transition {name!r}.")
        incident = self.object_or_404(request, object_id)
        label = Transition(name).label
        if name not in services.allowed_transitions(incident, request.user):
            return self.back_to_change_page(
                request,
                incident,
                f"“{label}” is not possible now: {incident.number} is "
                f"{incident.get_status_display().lower()}.",
                messages.ERROR,
            )

        form = TransitionForm(name, request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                incident = services.incident_transition(
                    incident=incident,
                    name=name,
                    actor=request.user,
                    source=ChangeSource.ADMIN,
                    **form.cleaned_data,
                )
            except ApplicationError as error:
                self.message_user(request, error.message, messages.ERROR)
                form.add_application_error(error)
            else:
                return self.back_to_change_page(
                    request,
                    incident,
                    f"{incident.number} is now {incident.get_status_display().lower()}.",
                )
        return self.render_action_form(
            request,
            incident,
            form,
            template="admin/incidents/incident/transition_form.html",
            action=label,
            title=f"{label}: {incident}",
        )


# --- the CMDB and the matrix ---------------------------------------------------------------------


@admin.register(Service)
class ServiceAdmin(HistoryAdmin):
    list_display = ("name", "slug", "tier", "owner_team", "user_count")
    list_filter = ("tier", "owner_team")
    list_select_related = ("owner_team",)
    search_fields = ("slug", "name")
    prepopulated_fields = {"slug": ("name",)}
    filter_horizontal = ("depends_on",)

    def save_model(self, request, obj, form, change):
        """Name the edit and the user in the history row, as incident services do."""
        reason = "edit " + ", ".join(form.changed_data) if change else "create"
        obj._change_reason = services.change_reason(reason, request.user, ChangeSource.ADMIN)
        super().save_model(request, obj, form, change)


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "email", "member_count")
    search_fields = ("name", "slug", "email")
    prepopulated_fields = {"slug": ("name",)}
    filter_horizontal = ("members",)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(member_count=Count("members"))

    @admin.display(description="members", ordering="member_count")
    def member_count(self, team):
        return team.member_count


@admin.register(PriorityMatrixEntry)
class PriorityMatrixEntryAdmin(admin.ModelAdmin):
    list_display = ("impact", "urgency", "priority")
    list_editable = ("priority",)


# The sub-domains' admin pages, in their packages, register themselves when imported.
@admin.register(ClockClaim)
class ClockClaimAdmin(ReadOnlyRecords, admin.ModelAdmin):
    """Deadlines the clock handed to the worker and not yet fired: a row here for long, with
    failures, is a deadline whose firing keeps failing (its traceback is among the Django Q
    failed tasks, named "clock <work> <row>")."""

    list_display = ("work", "row", "until", "failures")
    list_filter = ("work",)
    search_fields = ("=row",)
    ordering = ("-failures", "until")


from incidents.alerts import admin as admin_alerts  # noqa: E402, F401
from incidents.oncall import admin as admin_oncall  # noqa: E402, F401
from incidents.sla import admin as admin_sla  # noqa: E402, F401
