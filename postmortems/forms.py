"""Portal forms of the review pages. They validate and render input; the views hand the
cleaned values to postmortems/services.py and postmortems/action_items.py, which write."""

from django import forms
from django.conf import settings

from incidents.forms import ApplicationErrorMixin, UserChoiceField, assignable_users
from postmortems.choices import ActionItemPriority, ActionItemStatus, ActionItemType
from postmortems.models import REASON_MAX_LENGTH, REVENUE_MAX_DIGITS, SECTION_MAX_LENGTH
from postmortems.models.action_items import ACTION_TITLE_MAX_LENGTH, WONT_DO_REASON_MAX_LENGTH
from postmortems.services import TIMELINE_CELL_MAX_LENGTH, TIMELINE_MAX_ROWS


def _crlf_to_lf(text: str) -> str:
    """Browsers send CRLF; store LF so an untouched text never counts as edited."""
    return text.replace("\r\n", "\n")


def _people_field(**kwargs) -> UserChoiceField:
    return UserChoiceField(queryset=assignable_users(), to_field_name="username", **kwargs)


def offer_people(form: forms.Form, name: str, people: list) -> None:
    """Render field `name`'s options from `people` (read once for every form of the page)
    instead of one query per form; a posted value is still checked against the database."""
    field = form.fields[name]
    empty = [("", field.empty_label)] if field.empty_label is not None else []
    field.choices = empty + [
        (person.username, field.label_from_instance(person)) for person in people
    ]


class SectionForm(ApplicationErrorMixin, forms.Form):
    """One section, with the version its text was read at: saved through the same merge as a
    live edit, so a plain post never overwrites what others saved meanwhile."""

    base_version = forms.IntegerField(min_value=0, widget=forms.HiddenInput)
    text = forms.CharField(
        required=False,
        max_length=SECTION_MAX_LENGTH,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 8}),
        label="Markdown",
    )

    def clean_text(self):
        return _crlf_to_lf(self.cleaned_data["text"])


class PublicSummaryForm(ApplicationErrorMixin, forms.Form):
    public_summary = forms.CharField(
        required=False,
        max_length=SECTION_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 4}),
        label="Public summary",
        help_text="For the public status page: plain words, no internal detail.",
    )

    def clean_public_summary(self):
        return _crlf_to_lf(self.cleaned_data["public_summary"])


class RevenueImpactForm(ApplicationErrorMixin, forms.Form):
    revenue_impact = forms.DecimalField(
        required=False,
        min_value=0,
        max_digits=REVENUE_MAX_DIGITS,
        decimal_places=2,
        label=f"Revenue impact ({settings.REPORTS_CURRENCY})",
        help_text="Revenue lost, estimated; the reports add it up. Blank: not estimated.",
    )


class OwnerForm(ApplicationErrorMixin, forms.Form):
    owner = _people_field(required=False, empty_label="Nobody", label="Review owner")


class TimelineRowForm(forms.Form):
    at = forms.CharField(required=False, max_length=TIMELINE_CELL_MAX_LENGTH, label="Time")
    event = forms.CharField(required=False, max_length=TIMELINE_CELL_MAX_LENGTH)
    action = forms.CharField(required=False, max_length=TIMELINE_CELL_MAX_LENGTH)
    owner = forms.CharField(required=False, max_length=TIMELINE_CELL_MAX_LENGTH)


class BaseTimelineFormSet(ApplicationErrorMixin, forms.BaseFormSet):
    def add_error(self, field, message):
        """A service's refusal of the timeline, shown above its rows."""
        self._non_form_errors = self.error_class([*self.non_form_errors(), message])

    @property
    def fields(self) -> dict:
        return {}

    def rows(self) -> list[dict]:
        """The rows kept (neither deleted nor left empty), in the order shown."""
        rows = []
        for form in self.forms:
            cells = {name: form.cleaned_data.get(name, "") for name in TimelineRowForm.base_fields}
            if any(cells.values()) and not form.cleaned_data.get("DELETE"):
                rows.append(cells)
        return rows


TimelineFormSet = forms.formset_factory(
    TimelineRowForm,
    formset=BaseTimelineFormSet,
    extra=1,
    can_delete=True,
    max_num=TIMELINE_MAX_ROWS,
    validate_max=True,
)


class TransitionForm(ApplicationErrorMixin, forms.Form):
    """One transition's form: nothing to fill in, or the reason (return to draft, skip)."""

    def __init__(self, needs_reason: bool, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if needs_reason:
            self.fields["reason"] = forms.CharField(
                max_length=REASON_MAX_LENGTH, widget=forms.Textarea(attrs={"rows": 2})
            )


class ActionItemForm(ApplicationErrorMixin, forms.Form):
    title = forms.CharField(max_length=ACTION_TITLE_MAX_LENGTH)
    owner = _people_field(empty_label="Choose a person…")
    due_date = forms.DateField(
        label="Due date", widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"})
    )
    priority = forms.ChoiceField(choices=ActionItemPriority.choices, initial=ActionItemPriority.P1)
    type = forms.ChoiceField(choices=ActionItemType.choices, initial=ActionItemType.PREVENT)


class ActionItemStatusForm(ApplicationErrorMixin, forms.Form):
    status = forms.ChoiceField(choices=ActionItemStatus.choices)
    wont_do_reason = forms.CharField(
        required=False,
        max_length=WONT_DO_REASON_MAX_LENGTH,
        label="Reason (for won't do)",
    )
