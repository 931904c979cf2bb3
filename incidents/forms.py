"""Portal forms. They validate and render input; the views hand the cleaned values to
services.py, which does every write. No form here saves anything itself."""

from datetime import timedelta

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone

from incidents.choices import (
    ChecklistItem,
    Impact,
    IncidentSource,
    Priority,
    ResolutionCode,
    Transition,
    Urgency,
)
from incidents.models import (
    MAX_AFFECTED_USERS,
    REASON_MAX_LENGTH,
    TEXT_MAX_LENGTH,
    TITLE_MAX_LENGTH,
    Incident,
    Service,
    Team,
)
from incidents.services import transition_fields
from itsm.roles import STAFF_ROLES

DATETIME_LOCAL = "%Y-%m-%dT%H:%M:%S"
CLOCK_SKEW = timedelta(minutes=5)


def not_in_future(moment) -> None:
    """When an incident was detected or started cannot be ahead of now (give or take a
    reporter's clock); a far-future start would also overflow its SLA deadlines."""
    if moment is not None and moment > timezone.now() + CLOCK_SKEW:
        raise ValidationError("Cannot be in the future.", code="future")


def assignable_users(*, current=None):
    """People who can work incidents: active holders of a staff role, and the `current`
    assignee, so that editing an incident never fails on who already holds it."""
    people = Q(is_active=True, groups__name__in=[str(role) for role in STAFF_ROLES])
    if current is not None:
        people |= Q(pk=current.pk)
    return get_user_model().objects.filter(people).distinct().order_by("username")


class UserChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        full_name = obj.get_full_name()
        return f"{full_name} ({obj.username})" if full_name else obj.username


def _text_area(rows: int, placeholder: str = "") -> forms.Textarea:
    return forms.Textarea(attrs={"rows": rows, "placeholder": placeholder})


def _datetime_field(label: str, **kwargs) -> forms.DateTimeField:
    return forms.DateTimeField(
        label=label,
        **kwargs,
        validators=[not_in_future],
        input_formats=[DATETIME_LOCAL, "%Y-%m-%dT%H:%M"],
        widget=forms.DateTimeInput(
            format=DATETIME_LOCAL, attrs={"type": "datetime-local", "step": "1"}
        ),
    )


class ApplicationErrorMixin:
    """Shows an ApplicationError's field messages on the fields they name."""

    def add_application_error(self, error) -> None:
        for name, messages in error.fields.items():
            for message in messages if isinstance(messages, list) else [messages]:
                self.add_error(name if name in self.fields else None, message)
        if not error.fields:
            self.add_error(None, error.message)


class IncidentFieldsForm(ApplicationErrorMixin, forms.Form):
    """The fields a responder sets when logging an incident or editing it."""

    title = forms.CharField(max_length=TITLE_MAX_LENGTH)
    description = forms.CharField(
        max_length=TEXT_MAX_LENGTH,
        required=False,
        widget=_text_area(5, "What is broken, for whom, since when?"),
    )
    impact = forms.TypedChoiceField(choices=Impact.choices, coerce=int, initial=Impact.MEDIUM)
    urgency = forms.TypedChoiceField(choices=Urgency.choices, coerce=int, initial=Urgency.MEDIUM)
    services = forms.ModelMultipleChoiceField(
        queryset=Service.objects.only("id", "slug", "name"),
        to_field_name="slug",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Services affected",
    )
    team = forms.ModelChoiceField(
        queryset=Team.objects.only("id", "slug", "name"),
        to_field_name="slug",
        required=False,
        empty_label="No team",
        label="Assignment group",
    )
    assignee = UserChoiceField(
        queryset=assignable_users(),
        to_field_name="username",
        required=False,
        empty_label="Unassigned",
    )
    affected_users = forms.IntegerField(
        min_value=0, max_value=MAX_AFFECTED_USERS, initial=0, label="Affected users"
    )

    def clean_description(self):
        """Browsers send CRLF; store LF so an untouched description never counts as edited."""
        return self.cleaned_data["description"].replace("\r\n", "\n")

    def service_arguments(self) -> dict:
        """The cleaned data as the service's keyword arguments (services by slug)."""
        data = dict(self.cleaned_data)
        if "services" in data:
            data["services"] = [service.slug for service in data["services"]]
        return data


class IncidentCreateForm(IncidentFieldsForm):
    source = forms.ChoiceField(
        choices=IncidentSource.choices, initial=IncidentSource.PORTAL, label="Reported via"
    )
    started_at = _datetime_field(
        "Impact started at",
        required=False,
        help_text="When users were first affected; the SLA clocks run from it. Empty: now.",
    )

    def service_arguments(self) -> dict:
        data = super().service_arguments()
        data["incident_source"] = data.pop("source")
        return data


class IncidentEditForm(IncidentFieldsForm):
    related_problem = forms.CharField(max_length=40, required=False, label="Related problem")
    related_change = forms.CharField(max_length=40, required=False, label="Related change")
    detected_at = _datetime_field("Detected at")
    started_at = _datetime_field("Impact started at")

    @classmethod
    def for_incident(cls, incident: Incident, data=None) -> "IncidentEditForm":
        related = {
            "services": [service.slug for service in incident.services.all()],
            "team": incident.team.slug if incident.team else None,
            "assignee": incident.assignee.username if incident.assignee else None,
        }
        initial = {name: getattr(incident, name) for name in cls.base_fields if name not in related}
        form = cls(data=data, initial={**initial, **related}, auto_id="id_edit_%s")
        form.fields["assignee"].queryset = assignable_users(current=incident.assignee)
        return form

    def changes(self) -> dict:
        """Only what the user changed, as the service's keyword arguments."""
        arguments = self.service_arguments()
        return {name: arguments[name] for name in self.changed_data}


GUARD_FIELDS = {
    "confirm": lambda required: forms.BooleanField(
        required=required,
        label="Resolve even if its alerts still fire",
        help_text="Asked only while monitoring still reports the problem.",
    ),
    "note": lambda required: forms.CharField(
        max_length=TEXT_MAX_LENGTH,
        required=required,
        label="Mitigation note" if required else "Note",
        widget=_text_area(3, "Service restored how, or which workaround?" if required else ""),
    ),
    "reason": lambda required: forms.CharField(
        max_length=REASON_MAX_LENGTH, required=required, widget=_text_area(2)
    ),
    "resolution_code": lambda required: forms.ChoiceField(
        choices=[("", "Choose…"), *ResolutionCode.choices], required=required
    ),
    "resolution_notes": lambda required: forms.CharField(
        max_length=TEXT_MAX_LENGTH, required=required, widget=_text_area(3)
    ),
    "duplicate_of": lambda required: forms.CharField(
        max_length=10,
        required=required,
        label="Duplicate of",
        widget=forms.TextInput(attrs={"placeholder": "INC0000000"}),
    ),
}


class TransitionForm(ApplicationErrorMixin, forms.Form):
    """The guard's fields of one transition, as services.transition_fields names them.
    `blocker`: why it cannot run now (services.transition_blocker), shown on a disabled button
    instead of the form."""

    blocker: str | None = None

    def __init__(self, name: str, *args, **kwargs):
        kwargs.setdefault("auto_id", f"id_{name}_%s")
        super().__init__(*args, **kwargs)
        self.name = name
        self.label = Transition(name).label
        for field, required in transition_fields(name).items():
            self.fields[field] = GUARD_FIELDS[field](required)


class NoteForm(ApplicationErrorMixin, forms.Form):
    text = forms.CharField(
        max_length=TEXT_MAX_LENGTH, label="Note", widget=_text_area(3, "What did you find or do?")
    )
    public = forms.BooleanField(required=False, label="Public (shown on the status page)")


class ChecklistForm(ApplicationErrorMixin, forms.Form):
    item = forms.ChoiceField(choices=ChecklistItem.choices)
    done = forms.BooleanField(required=False)


class PriorityForm(ApplicationErrorMixin, forms.Form):
    priority = forms.ChoiceField(choices=Priority.choices, label="New priority")
    reason = forms.CharField(
        max_length=REASON_MAX_LENGTH, widget=_text_area(2, "Why the matrix is wrong here")
    )
