"""The admin of the role follow-ups and review meetings.

The checklists (one per war-room role, its steps in order) are edited here; they are copied
into a major incident's follow-ups when it resolves, so an edit changes the next incidents,
not the ones already assigned. Follow-ups are ticked through postmortems/followups.py (the
actions below); meetings are moved through the API or the review page, and shown here."""

from django.contrib import admin, messages

from incidents.admin import HistoryAdmin
from incidents.choices import ChangeSource
from itsm.errors import ApplicationError
from postmortems import followups
from postmortems.models import FollowUp, FollowUpTemplate, FollowUpTemplateItem, ReviewMeeting


class FollowUpTemplateItemInline(admin.TabularInline):
    model = FollowUpTemplateItem
    fields = ("position", "text")
    extra = 1


@admin.register(FollowUpTemplate)
class FollowUpTemplateAdmin(HistoryAdmin):
    list_display = ("role", "steps")
    fields = ("role",)
    inlines = [FollowUpTemplateItemInline]

    @admin.display(description="Steps")
    def steps(self, template):
        return template.items.count()


def _set_done(modeladmin, request, queryset, *, done: bool) -> None:
    changed = 0
    for followup in queryset.select_related("review"):
        try:
            followups.followup_set_done(
                followup=followup, actor=request.user, source=ChangeSource.ADMIN, done=done
            )
            changed += 1
        except ApplicationError as error:
            modeladmin.message_user(request, error.message, messages.ERROR)
    modeladmin.message_user(request, f"{changed} follow-up(s) updated.")


@admin.action(description="Mark done", permissions=["change"])
def mark_done(modeladmin, request, queryset):
    _set_done(modeladmin, request, queryset, done=True)


@admin.action(description="Mark not done", permissions=["change"])
def mark_not_done(modeladmin, request, queryset):
    _set_done(modeladmin, request, queryset, done=False)


class ReadOnlyAdmin(HistoryAdmin):
    """Written by the services only: shown, never added, edited or deleted here."""

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        meta = self.model._meta
        return [field.name for field in [*meta.fields, *meta.many_to_many]]

    def revert_disabled(self, request, obj=None):
        return True


@admin.register(FollowUp)
class FollowUpAdmin(ReadOnlyAdmin):
    list_display = ("review", "role", "assignee", "position", "text", "done_at", "done_by")
    list_filter = ("role", ("done_at", admin.EmptyFieldListFilter))
    list_select_related = ("review__incident", "assignee", "done_by")
    search_fields = ("review__incident__number", "text", "assignee__username")
    actions = [mark_done, mark_not_done]
    history_list_display = ("done_at", "done_by")


@admin.register(ReviewMeeting)
class ReviewMeetingAdmin(ReadOnlyAdmin):
    list_display = ("review", "starts_at", "duration_minutes", "sequence", "location")
    list_select_related = ("review__incident",)
    search_fields = ("review__incident__number",)
    date_hierarchy = "starts_at"
    history_list_display = ("starts_at", "duration_minutes", "sequence")
