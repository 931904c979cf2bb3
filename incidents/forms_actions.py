"""Forms of the one-tap actions: whom to page or add as a responder, and an on-call override.
Their choices come from lists the view has loaded already, so a form costs no query of its
own; the views hand the cleaned values to the services."""

from django import forms

from incidents.forms import DATETIME_LOCAL, ApplicationErrorMixin
from incidents.models import REASON_MAX_LENGTH, ScheduleOverride
from itsm.templatetags.people import display_name

REASON_LENGTH = ScheduleOverride._meta.get_field("reason").max_length


def _person_choices(people) -> list[tuple[str, str]]:
    return [(person.get_username(), display_name(person)) for person in people]


class TargetForm(ApplicationErrorMixin, forms.Form):
    """Whom to page or add: a person, a team, or whoever is on call for a schedule now."""

    target = forms.ChoiceField(label="Who")
    message = forms.CharField(
        required=False,
        max_length=REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "What you need from them"}),
    )

    def __init__(self, *args, people, teams, schedules, on_call: dict, **kwargs):
        """`on_call` maps a schedule's pk to whoever is on call for it now (or None)."""
        super().__init__(*args, **kwargs)
        self.targets = {
            **{f"schedule:{s.slug}": ("schedules", s) for s in schedules},
            **{f"team:{t.slug}": ("teams", t) for t in teams},
            **{f"user:{p.get_username()}": ("users", p) for p in people},
        }

        def on_call_label(schedule):
            person = on_call.get(schedule.pk)
            return f"{schedule.name}: {display_name(person) if person else 'nobody on call'}"

        self.fields["target"].choices = [
            ("", "Choose…"),
            ("On call now", [(f"schedule:{s.slug}", on_call_label(s)) for s in schedules]),
            ("Teams (every member)", [(f"team:{t.slug}", t.name) for t in teams]),
            ("People", [(f"user:{u}", name) for u, name in _person_choices(people)]),
        ]

    def service_arguments(self) -> dict:
        kind, target = self.targets[self.cleaned_data["target"]]
        return {kind: [target], "message": self.cleaned_data["message"]}


def _moment(label: str) -> forms.DateTimeField:
    """A date and time in the viewer's time zone (or ISO 8601 with an offset, as the one-tap
    buttons send a shift's bounds)."""
    return forms.DateTimeField(
        label=label,
        input_formats=[DATETIME_LOCAL, "%Y-%m-%dT%H:%M"],
        widget=forms.DateTimeInput(format="%Y-%m-%dT%H:%M", attrs={"type": "datetime-local"}),
    )


class OverrideForm(ApplicationErrorMixin, forms.Form):
    """Someone covers a schedule for a while: a shift taken (yourself) or given (another)."""

    schedule = forms.ChoiceField()
    user = forms.ChoiceField(label="Who is on call")
    starts_at = _moment("From")
    ends_at = _moment("Until")
    reason = forms.CharField(required=False, max_length=REASON_LENGTH)

    def __init__(self, *args, schedules, people, **kwargs):
        super().__init__(*args, **kwargs)
        self.schedules = {schedule.slug: schedule for schedule in schedules}
        self.people = {person.get_username(): person for person in people}
        self.fields["schedule"].choices = [(s.slug, s.name) for s in schedules]
        self.fields["user"].choices = _person_choices(people)

    def service_arguments(self) -> dict:
        data = self.cleaned_data
        return {
            "schedule": self.schedules[data["schedule"]],
            "user": self.people[data["user"]],
            "starts_at": data["starts_at"],
            "ends_at": data["ends_at"],
            "reason": data["reason"],
        }
