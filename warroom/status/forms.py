"""The "Post status page update" form of the war room: the update's status, body and public
name, and one choice per public component (left unchanged unless chosen). It only validates;
the view hands the values to `warroom.status.services.status_update_post`."""

from django import forms

from incidents.forms import ApplicationErrorMixin
from warroom.choices import ComponentStatus, StatusIncidentStatus
from warroom.models import STATUS_BODY_MAX_LENGTH, STATUS_NAME_MAX_LENGTH, StatusIncident
from warroom.status.services import ComponentState

PREFIX = "component_"


class StatusUpdateForm(ApplicationErrorMixin, forms.Form):
    status = forms.ChoiceField(choices=StatusIncidentStatus.choices)
    body = forms.CharField(
        max_length=STATUS_BODY_MAX_LENGTH,
        label="Public message",
        help_text="Anyone can read it on the status page (Markdown). No internal details.",
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    name = forms.CharField(
        max_length=STATUS_NAME_MAX_LENGTH,
        required=False,
        label="Public name",
        help_text="The incident's name on the status page.",
    )

    def __init__(self, *args, components, public: StatusIncident | None, title: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.components = {f"{PREFIX}{c.slug}": c for c in components}
        self.fields["name"].widget.attrs["placeholder"] = public.name if public else title
        if public is not None:
            self.fields["status"].initial = public.status
        for name, component in self.components.items():
            unchanged = ("", f"Unchanged ({ComponentStatus(component.state).label.lower()})")
            self.fields[name] = forms.ChoiceField(
                label=component.name,
                required=False,
                choices=[unchanged, *ComponentStatus.choices],
            )

    def component_states(self) -> list[ComponentState]:
        return [
            ComponentState(component, self.cleaned_data[name])
            for name, component in self.components.items()
            if self.cleaned_data.get(name)
        ]
