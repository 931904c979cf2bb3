"""War-room forms: declaring a major incident and demoting one. Everything else in a war room
is written over its websocket (static/js/warroom.js). Like the incident forms, these only
validate; the views hand the cleaned values to warroom.services."""

from django import forms

from incidents.forms import ApplicationErrorMixin, UserChoiceField, assignable_users
from warroom.models import BRIDGE_LINK_MAX_LENGTH, REASON_MAX_LENGTH, STATEMENT_MAX_LENGTH


class DeclareForm(ApplicationErrorMixin, forms.Form):
    # The names are the service's error fields, so its messages land on the right field.
    major_incident_manager = UserChoiceField(
        queryset=assignable_users().only("username", "first_name", "last_name"),
        to_field_name="username",
        label="Major incident manager",
    )
    bridge_link = forms.CharField(
        max_length=BRIDGE_LINK_MAX_LENGTH,
        required=False,
        label="Bridge link",
        help_text="The conference call everyone joins (an https:// link).",
        widget=forms.TextInput(
            attrs={"inputmode": "url", "placeholder": "https://meet.example.com/…"}
        ),
    )
    initial_impact_statement = forms.CharField(
        max_length=STATEMENT_MAX_LENGTH,
        label="Initial impact statement",
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": "Who cannot do what, since when?"}),
    )

    def service_arguments(self) -> dict:
        data = dict(self.cleaned_data)
        data["manager"] = data.pop("major_incident_manager")
        return data


class DemoteForm(ApplicationErrorMixin, forms.Form):
    reason = forms.CharField(
        max_length=REASON_MAX_LENGTH,
        label="Reason for demoting",
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "Why this is not a major incident"}),
    )
