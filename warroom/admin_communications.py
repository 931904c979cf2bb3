"""The admin of communications (imported by warroom/admin.py): templates, audiences, and the
communications sent (read-only, with who received them).

A template is edited here through `warroom.communications.services.template_update` (each save a
new version; a text that does not render in the sandbox is a form error), and so is whether the
status page update posts by itself (`auto_post`). Its page previews the saved version rendered
against an incident: the latest, or the one `?incident=<number>` names."""

from django import forms
from django.contrib import admin

from incidents.admin import ReadOnlyInline, ServiceWrittenAdmin, load_saved
from incidents.choices import ChangeSource
from incidents.models import Incident
from itsm.admin_mixins import ReadOnlyRecords
from itsm.errors import ValidationFailed
from warroom.choices import CommunicationKind
from warroom.communications import services
from warroom.communications.rendering import (
    incident_variables,
    render_template,
    sample_variables,
)
from warroom.models import Audience, Communication, CommunicationRecipient, CommunicationTemplate

PREVIEW_CHOICES = 10  # recent incidents offered to preview against


class CommunicationTemplateForm(forms.ModelForm):
    class Meta:
        model = CommunicationTemplate
        fields = ("subject_template", "body_template", "auto_post")

    def clean(self):
        """A text that does not render against example facts is an error of its field."""
        cleaned = super().clean()
        candidate = CommunicationTemplate(
            subject_template=cleaned.get("subject_template", ""),
            body_template=cleaned.get("body_template", ""),
        )
        try:
            render_template(candidate, sample_variables())
        except ValidationFailed as error:
            for field, messages in error.fields.items():
                self.add_error(field, messages)
        return cleaned


@admin.register(CommunicationTemplate)
class CommunicationTemplateAdmin(ServiceWrittenAdmin):
    form = CommunicationTemplateForm
    list_display = ("kind", "trigger", "audience_description", "version", "auto_post", "updated_at")
    fields = (
        "kind",
        "trigger",
        "audience_description",
        "version",
        "subject_template",
        "body_template",
        "auto_post",
    )
    readonly_fields = ("kind", "trigger", "audience_description", "version")
    history_list_display = ("version", "auto_post")

    def get_readonly_fields(self, request, obj=None):
        """Only the status page update posts by itself."""
        if obj is not None and obj.kind != CommunicationKind.STATUS_PAGE:
            return (*self.readonly_fields, "auto_post")
        return self.readonly_fields

    def has_add_permission(self, request):
        """One template per kind, shipped by the migrations."""
        return False

    def change_view(self, request, object_id, form_url="", extra_context=None):
        template = self.get_object(request, object_id)
        context = {**(extra_context or {})}
        if template is not None:
            context.update(self._preview(template, request.GET.get("incident", "")))
        return super().change_view(request, object_id, form_url, context)

    def _preview(self, template: CommunicationTemplate, number: str) -> dict:
        """The saved version rendered against the incident `number` (else the latest)."""
        incidents = Incident.objects.order_by("-created_at", "-id")
        incident = incidents.filter(number=number).first() or incidents.first()
        if incident is None:
            return {}
        context = {
            "preview_incident": incident,
            "preview_choices": list(incidents.values_list("number", flat=True)[:PREVIEW_CHOICES]),
        }
        try:
            subject, body = render_template(template, incident_variables(incident))
        except ValidationFailed as error:
            return {**context, "preview_error": error.message + " " + str(error.fields)}
        return {**context, "preview_subject": subject, "preview_body": body}

    def save_model(self, request, obj, form, change):
        saved = services.template_update(
            template=obj,
            actor=request.user,
            source=ChangeSource.ADMIN,
            subject_template=form.cleaned_data["subject_template"],
            body_template=form.cleaned_data["body_template"],
            auto_post=form.cleaned_data.get("auto_post", services.UNSET),
        )
        load_saved(obj, saved)


@admin.register(Audience)
class AudienceAdmin(admin.ModelAdmin):
    list_display = ("name", "affected_department_heads", "status_page", "external")
    filter_horizontal = ("users", "teams", "roles", "chat_webhooks")


class RecipientInline(ReadOnlyInline):
    model = CommunicationRecipient
    fields = ("kind", "user", "webhook", "address")


@admin.register(Communication)
class CommunicationAdmin(ReadOnlyRecords, admin.ModelAdmin):
    """Read-only: drafted and sent from the portal or the API."""

    list_display = ("incident", "kind", "status", "audience", "created_by", "sent_by", "sent_at")
    list_filter = ("kind", "status")
    list_select_related = ("incident", "audience", "created_by", "sent_by")
    search_fields = ("incident__number", "subject")
    inlines = [RecipientInline]
