"""The Communications card's forms (incident page and war room): draft one of a kind, and edit a
draft's subject and body before it is saved, sent or improved. They only validate; the views
hand the values to warroom.communications.services."""

from django import forms

from incidents.forms import ApplicationErrorMixin
from warroom.choices import CommunicationKind
from warroom.models import (
    COMMUNICATION_BODY_MAX_LENGTH,
    COMMUNICATION_SUBJECT_MAX_LENGTH,
    Communication,
)


class DraftForm(ApplicationErrorMixin, forms.Form):
    # Named as the service's error field, so its message lands here.
    template = forms.ChoiceField(choices=CommunicationKind.choices, label="Draft")


class BodyField(forms.CharField):
    """A textarea's text with the browser's CRLF line breaks as the drafts have them (LF),
    before its length is checked."""

    def to_python(self, value):
        return super().to_python(value).replace("\r\n", "\n")


class CommunicationForm(ApplicationErrorMixin, forms.Form):
    subject = forms.CharField(max_length=COMMUNICATION_SUBJECT_MAX_LENGTH)
    body = BodyField(
        max_length=COMMUNICATION_BODY_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 12, "spellcheck": "true"}),
    )

    @classmethod
    def for_draft(cls, communication: Communication, data=None) -> "CommunicationForm":
        """The draft's form, ids of its own (a page lists several drafts)."""
        form = cls(
            data,
            initial={"subject": communication.subject, "body": communication.body},
            auto_id=f"id_communication_{communication.pk}_%s",
        )
        form.communication_pk = communication.pk
        return form

    def changes(self, communication: Communication) -> dict:
        """The fields whose value differs from the stored draft's (the form, like the service,
        strips the text: a rendered draft's last line break is no change)."""
        return {
            name: value
            for name, value in self.cleaned_data.items()
            if value != getattr(communication, name).strip()
        }
