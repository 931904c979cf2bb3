"""Communication templates: the shipped texts drafted from a seeded incident carry its facts, a
template that reaches outside Jinja2's sandbox renders an error (never data), and every edit is
a new version, in the service and in the admin with its preview."""

import pytest
from django.urls import reverse

from incidents.choices import ChangeSource
from itsm.errors import PermissionDeniedError, ValidationFailed
from tests.factories import make_incident
from tests.incidents.test_admin import form_data
from warroom.choices import CommunicationKind
from warroom.communications import services
from warroom.communications.rendering import (
    incident_variables,
    render_template,
    render_text,
    sample_variables,
    variable_docs,
)
from warroom.models import CommunicationTemplate


def drafted(kind: str, incident) -> tuple[str, str]:
    template = CommunicationTemplate.objects.get(kind=kind)
    return render_template(template, incident_variables(incident))


def test_every_kind_is_shipped_with_the_reference_tables_trigger_and_audience(db):
    shipped = {
        t.kind: (t.trigger, t.audience_description, t.version)
        for t in CommunicationTemplate.objects.all()
    }
    assert shipped == {
        "initial": ("MI declared", "IT leadership, affected dept heads", 1),
        "update": ("Every 30 min", "IT leadership", 1),
        "status_page": ("On state change", "All users (via status page)", 2),
        "resolution": ("Incident resolved", "All stakeholders", 1),
        "pir_summary": ("PIR complete (T+48h)", "IT leadership, ITSM manager", 2),
    }
    # Second shipped versions: the PIR summary says the review's root cause and action items
    # (warroom/0011), the status page update its public status (warroom/0012).
    versions = {
        t.kind: sorted(t.history.values_list("version", flat=True))
        for t in CommunicationTemplate.objects.all()
    }
    assert versions == {kind: [1] for kind in shipped} | {
        "status_page": [1, 2],
        "pir_summary": [1, 2],
    }


def test_the_variables_are_the_incidents_facts(commanded, portal_base_url):
    variables = incident_variables(commanded)
    assert set(variables) == set(variable_docs()) == set(sample_variables())
    blanked = {"number": "", "title": "", "status": "", "changes": [], "changes_text": ""}
    assert variables | blanked == {
        **sample_variables(),
        "number": "",
        "title": "",
        "status": "",
        "priority": "P1",
        "severity": "Critical",
        "impact": "Checkout fails for every customer",
        "service": "Checkout",
        "services": ["Checkout"],
        "services_text": "Checkout",
        "started_at": "2026-03-02 09:00 UTC",
        "duration": "0 min",
        "changes": [],
        "changes_text": "",
        "next_update": "2026-03-02 09:30 UTC",
        "update_minutes": 30,
        "status_page_url": "https://itsm.example.org/status/",
        "incident_url": f"https://itsm.example.org/incidents/{commanded.number}/",
        "commander": "Rita Ross",
        "communications_lead": "",
        "now": "2026-03-02 09:00 UTC",
        "root_cause": "",  # postmortems' variables: no review yet
        "action_items": [],
        "action_items_text": "- none yet",
        "review_url": "",
    }
    assert variables["number"] == commanded.number
    assert variables["status"] == commanded.get_status_display()
    assert variables["changes"] == [
        f"{commanded.number} logged as P1: Checkout returns 500",
        "Declared a major incident. Impact: Checkout fails for every customer",
        "rita is now incident commander",
    ]
    assert variables["changes_text"].splitlines()[-1] == "- rita is now incident commander"


def test_the_initial_notification_follows_the_guides_incident_alert(commanded, portal_base_url):
    subject, body = drafted(CommunicationKind.INITIAL, commanded)
    assert subject == f"INCIDENT ALERT - Checkout ({commanded.number})"
    assert body == (
        "INCIDENT ALERT - Checkout\n\n"
        f"Status: {commanded.get_status_display()}\n"
        "Severity: Critical\n"
        "Impact: Checkout fails for every customer\n"
        "Affected Services: Checkout\n"
        "Start Time: 2026-03-02 09:00 UTC\n\n"
        f"We are aware of an issue affecting Checkout ({commanded.number}: Checkout returns 500). "
        "Our team is\ninvestigating and will provide updates every 30 minutes.\n\n"
        "Next Update: 2026-03-02 09:30 UTC\n"
        "Status Page: https://itsm.example.org/status/\n"
    )


@pytest.mark.parametrize("kind", CommunicationKind.values)
def test_a_draft_of_each_kind_carries_the_incidents_facts(kind, commanded, portal_base_url):
    subject, body = drafted(kind, commanded)
    assert "\n" not in subject
    assert "Checkout" in subject + body
    facts = {
        "initial": ["Critical", "Checkout fails for every customer", "2026-03-02 09:30 UTC"],
        "update": ["- rita is now incident commander\n", "Rita Ross leads", "09:30 UTC"],
        "status_page": ["Checkout fails for every customer", "2026-03-02 09:30 UTC"],
        "resolution": ["Status: Resolved", "Root Cause: Under investigation", "Duration: 0 min"],
        "pir_summary": [commanded.number, "Priority: P1 (Critical)", "/incidents/"],
    }[kind]
    for fact in facts:
        assert fact in body


ESCAPES = [
    "{{ ''.__class__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ joiner.__init__.__globals__.os }}",
    "{{ services.__class__ }}",
    "{{ number.format.__self__ }}",
    "{% import 'os' as os %}{{ os }}",
    "{% include '/etc/passwd' %}",
    "{% extends 'base.html' %}",
    "{{ range(10**9)|list }}",
    "{{ undefined_variable }}",
    "{% if %}",
]


@pytest.mark.parametrize("source", ESCAPES)
def test_a_template_reaching_outside_the_sandbox_renders_an_error_not_data(source):
    with pytest.raises(ValidationFailed) as caught:
        render_text(source, sample_variables(), field="body_template")
    (message,) = caught.value.fields["body_template"]
    assert message.startswith("The template cannot be rendered: ")
    for leak in ("<class", "__builtins__", "<module", "<function", "root:"):
        assert leak not in message


def test_an_edit_is_a_new_version_and_the_history_keeps_the_old_text(manager):
    template = CommunicationTemplate.objects.get(kind="update")
    old_body = template.body_template
    saved = services.template_update(
        template=template,
        actor=manager,
        source=ChangeSource.CLI,
        subject_template="Update on {{ number }}",
        body_template="{{ status }}: {{ changes_text }}",
    )
    assert (saved.version, saved.updated_by) == (2, manager)
    versions = {row.version: row.body_template for row in saved.history.all()}
    assert versions == {1: old_body, 2: "{{ status }}: {{ changes_text }}"}
    assert saved.history.latest().history_change_reason == "version 2 by mona (cli)"


def test_an_edit_that_escapes_the_sandbox_is_refused_and_nothing_is_written(manager):
    template = CommunicationTemplate.objects.get(kind="update")
    with pytest.raises(ValidationFailed) as caught:
        services.template_update(
            template=template,
            actor=manager,
            source=ChangeSource.CLI,
            subject_template="{{ number }}",
            body_template="{{ cycler.__init__.__globals__ }}",
        )
    assert list(caught.value.fields) == ["body_template"]
    template.refresh_from_db()
    assert (template.version, template.history.count()) == (1, 1)


def test_only_managers_edit_templates(responder):
    with pytest.raises(PermissionDeniedError):
        services.template_update(
            template=CommunicationTemplate.objects.get(kind="update"),
            actor=responder,
            source=ChangeSource.CLI,
            subject_template="x",
            body_template="y",
        )


def test_the_admin_previews_against_a_chosen_incident_and_saves_a_version(
    commanded, signed_in, manager, responder, service
):
    other = make_incident(actor=responder, services=[service.slug], title="Search is slow")
    template = CommunicationTemplate.objects.get(kind="initial")
    client = signed_in(manager)
    change = reverse("admin:warroom_communicationtemplate_change", args=[template.pk])
    page = client.get(change, {"incident": commanded.number}).content.decode()
    assert f"Version 1 against <strong>{commanded.number}</strong>" in page
    assert f"INCIDENT ALERT - Checkout ({commanded.number})" in page
    assert "Rita Ross" not in page  # the initial notification names no commander
    assert "Next Update: 2026-03-02 09:30 UTC" in page
    page = client.get(change).content.decode()  # the latest incident by default
    assert f"Version 1 against <strong>{other.number}</strong>" in page

    data = form_data(client.get(change))
    response = client.post(change, data | {"body_template": "{{ ''.__class__ }}"})
    assert response.status_code == 200
    assert (
        response.context["adminform"]
        .form.errors["body_template"][0]
        .startswith("The template cannot be rendered: ")
    )
    response = client.post(change, data | {"body_template": "{{ title }} is {{ status }}"})
    assert response.status_code == 302
    template.refresh_from_db()
    assert (template.version, template.body_template) == (2, "{{ title }} is {{ status }}")
    page = client.get(change, {"incident": other.number}).content.decode()
    assert "Search is slow is New" in page
