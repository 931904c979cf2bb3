"""Every write of stakeholder communications (docs/communications.md): templates edited (each
edit a new version, checked by rendering it against example facts first)."""

from django.db import transaction
from django.utils import timezone

from incidents.services import change_reason
from itsm.errors import PermissionDeniedError
from itsm.validation import clean_text, raise_if
from warroom.communications.rendering import SAMPLE_VARIABLES, render_template
from warroom.models import (
    TEMPLATE_BODY_MAX_LENGTH,
    TEMPLATE_SUBJECT_MAX_LENGTH,
    CommunicationTemplate,
)

CHANGE_TEMPLATE_PERMISSION = "warroom.change_communicationtemplate"


def _require(actor, perm: str, what: str) -> None:
    if not actor.has_perm(perm):
        raise PermissionDeniedError(f"You may not {what}.")


@transaction.atomic
def template_update(
    *, template: CommunicationTemplate, actor, source: str, subject_template, body_template
) -> CommunicationTemplate:
    """Save a new version of `template`'s texts. A text that does not render (a sandbox
    escape, an unknown variable, a syntax error) is refused and nothing is written."""
    _require(actor, CHANGE_TEMPLATE_PERMISSION, "edit communication templates")
    errors: dict = {}
    subject = clean_text(
        errors,
        "subject_template",
        subject_template,
        required=True,
        max_length=TEMPLATE_SUBJECT_MAX_LENGTH,
    )
    body = clean_text(
        errors, "body_template", body_template, required=True, max_length=TEMPLATE_BODY_MAX_LENGTH
    )
    raise_if(errors)
    template = CommunicationTemplate.objects.select_for_update().get(pk=template.pk)
    if (subject, body) == (template.subject_template, template.body_template):
        return template
    template.subject_template, template.body_template = subject, body
    render_template(template, SAMPLE_VARIABLES)
    template.version += 1
    template.updated_by = actor
    template.updated_at = timezone.now()
    template._change_reason = change_reason(f"version {template.version}", actor, source)
    template._history_user = actor
    template.save()
    return template
