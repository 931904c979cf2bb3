"""The status page's cache (warroom/status/cache.py): a second visit costs no query, answers
carry Cache-Control, an ETag (304 when unchanged) and gzip; and every write of what the public
sees, whichever way it is made, shows on the page and in summary.json at once once committed,
while a write not committed (or rolled back) is never in what the cache serves.

The writes are committed the way a request commits them: their on-commit callbacks run
(`django_capture_on_commit_callbacks`), inside the test's transaction."""

import gzip
import re
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction
from django.http import HttpResponse
from django.test import RequestFactory
from django.urls import reverse
from django.utils.text import compress_string

from incidents.models import Incident
from tests.factories import make_incident
from tests.incidents.test_admin import form_data
from tests.warroom.status_fixtures import CLI, make_component, post
from warroom.models import ComponentGroup, Maintenance
from warroom.status import cache, services

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PAGE = "/status/"
SUMMARY = "/status/api/v2/summary.json"
PUBLIC = {
    PAGE: "text/html; charset=utf-8",
    SUMMARY: "application/json",
    "/status/api/v2/status.json": "application/json",
    "/status/api/v2/components.json": "application/json",
    "/status/api/v2/incidents.json": "application/json",
    "/status/api/v2/incidents/unresolved.json": "application/json",
    "/status/api/v2/scheduled-maintenances.json": "application/json",
    "/status/api/v2/scheduled-maintenances/upcoming.json": "application/json",
    "/status/api/v2/scheduled-maintenances/active.json": "application/json",
    "/status/history.rss": "application/rss+xml; charset=utf-8",
    "/status/history.atom": "application/atom+xml; charset=utf-8",
}
MAINTENANCES = "/api/maintenances/"


@pytest.fixture(autouse=True)
def frozen(time_machine):
    """A page is kept per minute: none of these tests may see the minute turn."""
    time_machine.move_to(T0, tick=False)


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """`with committed():` what is written inside counts as committed when the block ends."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def platform(committed, manager):
    with committed():
        return {
            "api": make_component(manager, "API", group="Platform"),
            "web": make_component(manager, "Website", group="Platform", position=1),
        }


@pytest.fixture
def open_incident(committed, manager, responder, platform):
    incident = make_incident(
        actor=responder, impact=1, urgency=1, started_at=T0 - timedelta(hours=1)
    )
    with committed():
        post(incident, manager, "investigating", "Logins fail.", name="Login errors")
    return incident


def page(client) -> str:
    return client.get(PAGE).content.decode()


def summary(client) -> dict:
    return client.get(SUMMARY).json()


def cached(client, django_assert_num_queries) -> tuple[str, dict]:
    """The page and summary.json, read twice: the second time from the cache."""
    page(client), summary(client)
    with django_assert_num_queries(0):
        return page(client), summary(client)


def component_state(html: str, slug: str) -> str:
    return re.search(rf'id="component-{slug}">.*?class="state state-(\w+)"', html, re.S)[1]


# --- what a visit gets --------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "content_type"), PUBLIC.items())
def test_a_second_visit_is_served_from_the_cache_without_a_query(
    client, open_incident, path, content_type, django_assert_num_queries
):
    first = client.get(path)
    with django_assert_num_queries(0):
        again = client.get(path)
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.content == first.content
    assert again["Content-Type"] == first["Content-Type"] == content_type
    assert again["Cache-Control"] == "public, max-age=10"
    assert again["ETag"] == first["ETag"]
    if "/api/" in path:
        assert again["Access-Control-Allow-Origin"] == "*"


def test_a_signed_in_visitor_costs_only_their_session(
    signed_in, manager, open_incident, django_assert_max_num_queries
):
    client = signed_in(manager)
    page(client)
    with django_assert_max_num_queries(1):
        assert "Login errors" in page(client)


def test_answers_are_gzipped_for_who_asks_and_not_sent_again_while_unchanged(client, open_incident):
    plain = client.get(PAGE)
    zipped = client.get(PAGE, HTTP_ACCEPT_ENCODING="gzip, deflate, br")
    assert "Content-Encoding" not in plain
    assert zipped["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.content) == plain.content
    assert "Accept-Encoding" in zipped["Vary"]
    unchanged = client.get(PAGE, HTTP_IF_NONE_MATCH=plain["ETag"])
    assert (unchanged.status_code, unchanged.content) == (304, b"")
    assert unchanged["ETag"] == plain["ETag"]


# --- every write shows at once ------------------------------------------------------------------


def test_an_update_posted_through_the_api_shows_at_once(
    api, client, committed, manager, open_incident, platform, django_assert_num_queries
):
    html, _ = cached(client, django_assert_num_queries)
    assert component_state(html, "api") == "operational"
    with committed():
        response = api.as_user(manager).post(
            f"/api/incidents/{open_incident.number}/status-updates/",
            {
                "status": "identified",
                "body": "A bad deploy; rolling back.",
                "components": [{"component": "api", "status": "major_outage"}],
            },
            format="json",
        )
    assert response.status_code == 201, response.content
    html = page(client)
    assert "A bad deploy; rolling back." in html
    assert component_state(html, "api") == "major_outage"
    # The uptime bar of today shows the outage at once too.
    assert 'title="2 Mar 2026: Major outage"' in html
    [incident] = summary(client)["incidents"]
    assert incident["incident_updates"][0]["body"] == "A bad deploy; rolling back."
    assert summary(client)["status"]["indicator"] == "critical"


def test_an_update_posted_from_the_war_room_shows_at_once(
    signed_in, client, committed, manager, p1, declare, platform, django_assert_num_queries
):
    incident = p1
    with committed():
        major = declare(incident)
    cached(client, django_assert_num_queries)
    with committed():
        response = signed_in(manager).post(
            f"/warroom/{incident.number}/status-update/",
            {"status": "investigating", "body": "Payments fail.", "name": "Payment errors"},
        )
    assert response["Location"] == major.get_absolute_url()
    client.logout()
    assert "Payments fail." in page(client)
    assert [i["name"] for i in summary(client)["incidents"]] == ["Payment errors"]


def test_a_resolved_incident_moves_to_the_history_at_once(
    client, committed, manager, open_incident, django_assert_num_queries
):
    html, data = cached(client, django_assert_num_queries)
    assert "Current incidents" in html and data["incidents"]
    with committed():
        post(open_incident, manager, "resolved", "All good again.")
    html = page(client)
    assert "Current incidents" not in html and "All good again." in html
    assert summary(client)["incidents"] == []


def test_a_state_set_by_hand_shows_at_once(
    client, committed, manager, platform, django_assert_num_queries
):
    cached(client, django_assert_num_queries)
    with committed():
        services.component_set_status(
            component=platform["web"], actor=manager, source=CLI, status="partial_outage"
        )
    assert component_state(page(client), "website") == "partial_outage"
    states = {c["id"]: c["status"] for c in summary(client)["components"]}
    assert states["website"] == "partial_outage"


def test_a_component_added_through_the_api_shows_at_once(
    api, client, committed, manager, platform, django_assert_num_queries
):
    cached(client, django_assert_num_queries)
    with committed():
        response = api.as_user(manager).post(
            "/api/status/components/", {"name": "Mobile app", "group": "Apps"}, format="json"
        )
    assert response.status_code == 201, response.content
    assert 'id="component-mobile-app"' in page(client)
    assert "mobile-app" in [c["id"] for c in summary(client)["components"]]


def test_a_component_renamed_or_hidden_in_the_admin_changes_at_once(
    signed_in, client, committed, manager, open_incident, platform, django_assert_num_queries
):
    with committed():
        post(open_incident, manager, "identified", "Found it.", [(platform["web"], "major_outage")])
    html, _ = cached(client, django_assert_num_queries)
    assert "Website: Major outage" in html  # in the update's affected components
    admin = signed_in(manager)
    change = reverse("admin:warroom_statuscomponent_change", args=[platform["web"].pk])
    with committed():
        response = admin.post(change, form_data(admin.get(change)) | {"name": "Web shop"})
    assert response.status_code == 302, response.content
    html = page(client)
    assert "Web shop: Major outage" in html and "Website" not in html
    assert "Web shop" in [c["name"] for c in summary(client)["components"]]
    with committed():
        data = form_data(admin.get(change))
        del data["public"]
        response = admin.post(change, data)
    assert response.status_code == 302, response.content
    assert "Web shop" not in page(client)
    assert "website" not in [c["id"] for c in summary(client)["components"]]


def test_a_component_deleted_in_the_admin_leaves_at_once(
    signed_in, client, committed, super_admin, platform, django_assert_num_queries
):
    cached(client, django_assert_num_queries)
    admin = signed_in(super_admin)
    delete = reverse("admin:warroom_statuscomponent_delete", args=[platform["web"].pk])
    with committed():
        assert admin.post(delete, {"post": "yes"}).status_code == 302
    assert 'id="component-website"' not in page(client)
    assert "website" not in [c["id"] for c in summary(client)["components"]]


def test_a_group_renamed_in_the_admin_shows_at_once(
    signed_in, client, committed, manager, platform, django_assert_num_queries
):
    cached(client, django_assert_num_queries)
    admin = signed_in(manager)
    group = ComponentGroup.objects.get(name="Platform")
    change = reverse("admin:warroom_componentgroup_change", args=[group.pk])
    with committed():
        response = admin.post(change, form_data(admin.get(change)) | {"name": "Core"})
    assert response.status_code == 302, response.content
    assert 'class="group-name">Core ' in page(client)
    assert "Core" in [c["name"] for c in summary(client)["components"] if c["group"]]


def test_a_maintenance_scheduled_and_started_through_the_api_shows_at_once(
    api, client, committed, manager, platform, django_assert_num_queries
):
    cached(client, django_assert_num_queries)
    body = {
        "name": "Database upgrade",
        "body": "Short pauses expected.",
        "scheduled_for": "2026-03-02T22:00:00Z",
        "scheduled_until": "2026-03-02T23:00:00Z",
        "components": ["api"],
    }
    with committed():
        created = api.as_user(manager).post(MAINTENANCES, body, format="json").json()
    assert "Database upgrade" in page(client)
    [scheduled] = summary(client)["scheduled_maintenances"]
    assert scheduled["status"] == "scheduled"
    cached(client, django_assert_num_queries)
    with committed():
        api.as_user(manager).post(
            f"{MAINTENANCES}{created['id']}/updates/",
            {"status": "in_progress", "body": "Started."},
            format="json",
        )
    assert component_state(page(client), "api") == "under_maintenance"
    assert summary(client)["scheduled_maintenances"][0]["status"] == "in_progress"


def test_a_maintenance_scheduled_in_the_admin_shows_at_once(
    signed_in, client, committed, manager, platform, django_assert_num_queries
):
    cached(client, django_assert_num_queries)
    admin = signed_in(manager)
    add = reverse("admin:warroom_maintenance_add")
    with committed():
        response = admin.post(
            add,
            form_data(admin.get(add))
            | {
                "name": "Network work",
                "status": "in_progress",
                "scheduled_for_0": "2026-03-02",
                "scheduled_for_1": "08:00",
                "scheduled_until_0": "2026-03-02",
                "scheduled_until_1": "11:00",
                "components": [platform["web"].pk],
                "body": "Switches are being replaced.",
            },
        )
    assert response.status_code == 302, response.content
    assert "Switches are being replaced." in page(client)
    states = {c["id"]: c["status"] for c in summary(client)["components"]}
    assert states["website"] == "under_maintenance"
    assert Maintenance.objects.get().status == "in_progress"


def test_a_deleted_incident_leaves_the_page_at_once(
    client, committed, open_incident, django_assert_num_queries
):
    html, data = cached(client, django_assert_num_queries)
    assert "Login errors" in html and data["incidents"]
    with committed():
        Incident.objects.filter(pk=open_incident.pk).delete()
    assert "Login errors" not in page(client)
    assert summary(client)["incidents"] == []


def test_the_feeds_carry_a_new_update_at_once(client, committed, manager, open_incident):
    for feed in ("/status/history.rss", "/status/history.atom"):
        client.get(feed)
    with committed():
        post(open_incident, manager, "monitoring", "A fix is out.")
    for feed in ("/status/history.rss", "/status/history.atom"):
        assert "A fix is out." in client.get(feed).content.decode()


def test_a_feed_links_to_the_host_it_was_asked_on(client, open_incident, settings):
    settings.ALLOWED_HOSTS = ["status.example.org", "testserver"]
    for host in ("testserver", "status.example.org"):
        feed = client.get("/status/history.atom", HTTP_HOST=host).content.decode()
        assert f'href="http://{host}/status/"' in feed


# --- writes not committed, and time ---------------------------------------------------------


class RolledBack(Exception):
    pass


def test_a_transaction_sees_its_own_writes_and_a_rolled_back_one_is_never_served(
    client, manager, open_incident, django_assert_num_queries
):
    cached(client, django_assert_num_queries)
    with pytest.raises(RolledBack), transaction.atomic():
        post(open_incident, manager, "identified", "NOT-COMMITTED cause found.")
        assert "NOT-COMMITTED" in page(client)  # read around the cache
        raise RolledBack
    assert "NOT-COMMITTED" not in page(client)
    assert "NOT-COMMITTED" not in str(summary(client))


def test_the_page_follows_the_clock_without_a_write(
    client, manager, platform, open_incident, committed, time_machine
):
    with committed():
        post(open_incident, manager, "identified", "Down.", [(platform["api"], "major_outage")])

    def outage_of(hours: int) -> str:
        return f"<span>{round(100 * (1 - hours / (90 * 24)), 2)}% uptime</span>"

    assert outage_of(1) in page(client)  # the incident began an hour ago
    time_machine.move_to(T0 + timedelta(hours=9), tick=False)
    assert outage_of(10) in page(client)
    time_machine.move_to(T0 + timedelta(days=1), tick=False)
    assert '<time datetime="2026-03-03">3 Mar 2026</time>' in page(client)


# --- one build per new version ------------------------------------------------------------------


def counting_view(name: str, calls: list):
    def view(request):
        calls.append(threading.get_ident())
        time.sleep(0.2)
        return HttpResponse(f"built by {name}", content_type="text/plain")

    return cache.cached(name)(view)


def test_requests_in_flight_when_a_version_comes_wait_for_one_build(db):
    calls = []
    view = counting_view("flight", calls)
    answers = []

    def visit():
        answers.append(view(RequestFactory().get("/status/flight")).content)

    visitors = [threading.Thread(target=visit) for _ in range(8)]
    for visitor in visitors:
        visitor.start()
    for visitor in visitors:
        visitor.join()
    assert answers == [b"built by flight"] * 8
    assert len(calls) == 1


def test_a_process_waits_for_the_answer_another_process_is_building(db):
    calls = []
    view = counting_view("elsewhere", calls)
    store = cache._cache()
    version = cache._current(store.get_many([cache.VERSION]), cache.VERSION)
    key = cache.answer_key("elsewhere")
    store.add(f"building:{key}:{version}", 1, timeout=cache.BUILD_SECONDS)
    theirs = cache.Answer(
        version=version,
        etag='W/"theirs"',
        gzipped=compress_string(b"built by the other process"),
        headers=(("Content-Type", "text/plain"),),
    )
    threading.Timer(0.2, store.set, args=(key, theirs)).start()
    response = view(RequestFactory().get("/status/elsewhere"))
    assert response.content == b"built by the other process"
    assert calls == []


# --- Redis down -----------------------------------------------------------------------------------


@pytest.fixture
def redis_down(settings):
    """The status cache pointed at a port nothing listens on."""
    status = {**settings.CACHES["status"], "LOCATION": "redis://127.0.0.1:9/0"}
    settings.CACHES = {**settings.CACHES, "status": status}


@pytest.mark.redis
@pytest.mark.usefixtures("redis_down")
def test_with_redis_down_the_page_and_the_json_answer_fresh_and_updates_still_post(
    client, committed, manager, open_incident
):
    with committed():
        post(open_incident, manager, "identified", "A bad certificate; replacing it.")
    for path in PUBLIC:
        assert client.get(path).status_code == 200, path
    assert "A bad certificate; replacing it." in page(client)
    assert summary(client)["incidents"][0]["status"] == "identified"
