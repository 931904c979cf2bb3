"""The demo data that `make run` seeds: a portal a newcomer can explore at once."""

from datetime import timedelta
from io import StringIO

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from django.db.models import Count
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from incidents.choices import IncidentStatus
from incidents.models import Incident, IncidentEvent, Service
from itsm.roles import Role, user_roles


def seed(*args) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


@pytest.fixture(scope="module")
def seeded_once(django_db_setup, django_db_blocker):
    """Seeding takes a couple of seconds, so the module shares one seeded database: inside a
    transaction that is rolled back when the module is done. Each test still runs in its own
    savepoint, so nothing a test does leaks into the next."""
    with django_db_blocker.unblock(), override_settings(DEBUG=True), transaction.atomic():
        yield seed()
        transaction.set_rollback(True)


@pytest.fixture
def seeded(seeded_once, db):
    return seeded_once


def test_every_state_has_incidents(seeded):
    counts = dict(Incident.objects.values_list("status").annotate(n=Count("id")))
    assert set(counts) == set(IncidentStatus.values)
    assert 45 <= sum(counts.values()) <= 60


@pytest.mark.parametrize(
    ("username", "role"),
    [
        ("responder", Role.RESPONDER),
        ("manager", Role.ITSM_MANAGER),
        ("admin", Role.SUPER_ADMIN),
        ("stakeholder", Role.STAKEHOLDER),
    ],
)
def test_each_role_has_a_demo_login(seeded, username, role):
    user = get_user_model().objects.get(username=username)
    assert role in user_roles(user)
    response = Client().post(
        "/login/", {"username": username, "password": django_settings.DEMO_PASSWORD}
    )
    assert response.status_code == 302, response.content
    assert response.url == reverse(django_settings.LOGIN_REDIRECT_URL)
    assert f"{username} " in seeded and django_settings.DEMO_PASSWORD in seeded


def test_managers_reach_the_admin_site(seeded):
    users = get_user_model().objects
    assert users.get(username="manager").is_staff
    admin = users.get(username="admin")
    assert admin.is_staff and admin.is_superuser
    assert not users.get(username="stakeholder").is_staff


def test_every_incident_has_a_timeline_and_closed_ones_a_complete_checklist(seeded):
    assert not Incident.objects.filter(events__isnull=True).exists()
    closed = Incident.objects.filter(status=IncidentStatus.CLOSED).prefetch_related("checklist")
    assert closed
    for incident in closed:
        assert incident.missing_checklist_items() == []


def test_timelines_unfold_over_the_last_month(seeded):
    now = timezone.now()
    created = sorted(Incident.objects.values_list("created_at", flat=True))
    assert created[-1] - created[0] > timedelta(days=20)
    assert created[0] > now - timedelta(days=31)
    assert not IncidentEvent.objects.filter(at__gt=now).exists()
    numbers_by_time = list(Incident.objects.order_by("created_at").values_list("number", flat=True))
    assert numbers_by_time == sorted(numbers_by_time)


def test_services_form_a_dependency_graph(seeded):
    assert Service.objects.count() >= 10
    checkout = Service.objects.get(slug="checkout")
    assert "payments-gateway" in {s.slug for s in checkout.depends_on.all()}
    gateway = Service.objects.get(slug="payments-gateway")
    assert "postgres-primary" in {s.slug for s in gateway.depends_on.all()}
    assert not Service.objects.filter(owner_team__isnull=True).exists()


def test_if_empty_leaves_a_seeded_database_alone(seeded):
    before = (Incident.objects.count(), IncidentEvent.objects.count())
    output = seed("--if-empty")
    assert "not seeding" in output
    assert (Incident.objects.count(), IncidentEvent.objects.count()) == before


def test_refuses_without_debug(db, settings):
    settings.DEBUG = False
    before = (Incident.objects.count(), get_user_model().objects.count())
    with pytest.raises(CommandError, match="DEBUG"):
        seed()
    assert (Incident.objects.count(), get_user_model().objects.count()) == before


def test_force_seeds_without_debug(db, settings):
    settings.DEBUG = False
    before = Incident.objects.count()
    seed("--force")
    assert Incident.objects.count() >= before + 45


def test_the_reports_page_shows_the_demo_incidents(seeded, client):
    """`make run`: the demo manager's reports, default range, with figures and charts."""
    client.force_login(get_user_model().objects.get(username="manager"))
    response = client.get("/reports/", secure=True)
    assert response.status_code == 200
    figures = {f.metric: f for f in response.context["figures"]}
    assert figures["mtta"].n > 0 and figures["mttr_resolve"].n > 0
    assert figures["false_positive_rate"].numerator > 0
    assert "<polyline" in response.content.decode()
