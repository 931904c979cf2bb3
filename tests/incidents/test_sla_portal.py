"""SLA in the portal (badges on list rows and the detail page, the dashboard's "Breaching soon"
panel) and in the admin (policies, calendars, read-only timers and deadlines)."""

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from incidents.choices import SlaKind
from incidents.models import BusinessCalendar, SlaTimer
from incidents.sla import services as sla
from incidents.sla.presets import load_preset
from tests.factories import make_incident

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
BADGE = re.compile(r'<span class="sla (sla-\w+)"[^>]*>(.*?)</span>\s*(?=<|$)', re.S)


def at(**delta) -> datetime:
    return T0 + timedelta(**delta)


@pytest.fixture
def clock(db):
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def portal(client, responder):
    client.force_login(responder)
    return client


def badges(html: str) -> list[tuple[str, str]]:
    """(class, text) of each SLA badge, text without markup and extra spaces."""
    return [
        (css, " ".join(re.sub(r"<[^>]+>", "", text).split())) for css, text in BADGE.findall(html)
    ]


def fire_due(incident, now):
    for timer in SlaTimer.objects.filter(incident=incident, next_due_at__lte=now):
        sla.sla_fire_deadline(timer=timer, now=now)


def section(html: str, heading_id: str) -> str:
    start = html.index(f'id="{heading_id}"')
    return html[start : html.index("</section>", start)]


# --- badges -------------------------------------------------------------------------------------


def test_list_rows_show_time_left_then_warned_then_overdue(clock, portal, responder):
    incident = make_incident(actor=responder, priority="P1", title="Checkout down")
    pages = []
    for minutes in (5, 12, 16):
        clock.move_to(at(minutes=minutes))
        fire_due(incident, at(minutes=minutes))
        pages.append(badges(portal.get(reverse("incidents:list")).content.decode()))

    assert pages == [
        [
            ("sla-running", "Acknowledge 10 minutes left"),
            ("sla-running", "Mitigate 55 minutes left"),
            ("sla-running", "Resolve 3 hours, 55 minutes left"),
        ],
        [
            ("sla-warned", "Acknowledge 3 minutes left"),
            ("sla-running", "Mitigate 48 minutes left"),
            ("sla-running", "Resolve 3 hours, 48 minutes left"),
        ],
        [
            ("sla-breached", "Acknowledge overdue 1 minute"),
            ("sla-running", "Mitigate 44 minutes left"),
            ("sla-running", "Resolve 3 hours, 44 minutes left"),
        ],
    ]


def test_met_timers_get_a_green_tick_and_paused_ones_say_so(clock, portal, responder, drive):
    incident = make_incident(actor=responder, priority="P1")
    clock.move_to(at(minutes=5))
    drive(incident, responder, "acknowledge", "hold")
    clock.move_to(at(minutes=30))

    shown = badges(portal.get(reverse("incidents:list")).content.decode())

    assert shown == [
        ("sla-met", "✓ Acknowledge"),
        ("sla-paused", "Mitigate paused · 55 minutes left"),
        ("sla-paused", "Resolve paused · 3 hours, 55 minutes left"),
    ]


def test_the_detail_page_shows_open_timers_up_top_and_every_timer_with_its_target(
    clock, portal, responder, drive
):
    incident = make_incident(actor=responder, priority="P1")
    clock.move_to(at(minutes=20))
    drive(incident, responder, "acknowledge")  # 5 minutes late

    html = portal.get(reverse("incidents:detail", args=[incident.number])).content.decode()

    head = html[html.index('class="head-meta"') : html.index("</div>", html.index("head-meta"))]
    assert badges(head) == [
        ("sla-running", "Mitigate 40 minutes left"),
        ("sla-running", "Resolve 3 hours, 40 minutes left"),
    ]
    card = section(html, "sla-title")
    assert badges(card) == [
        ("sla-breached", "Acknowledge breached"),
        ("sla-running", "Mitigate 40 minutes left"),
        ("sla-running", "Resolve 3 hours, 40 minutes left"),
    ]
    assert "target 2 Mar 10:15" in card


def test_business_time_targets_are_marked_on_the_detail_page(clock, portal, responder):
    load_preset("techflow", make_default=True)
    incident = make_incident(actor=responder, priority="P3")

    html = portal.get(reverse("incidents:detail", args=[incident.number])).content.decode()

    assert "target 3 Mar 10:00 (business time)" in section(html, "sla-title")


# --- the dashboard --------------------------------------------------------------------------------


def rows(html: str) -> list[tuple[str, str]]:
    """(title, due time as shown) of each row of a "Breaching soon" list."""
    found = re.findall(
        r'<span class="num">INC\d+</span> ([^<]+)</a>.*?<time class="row-time"[^>]*>([^<]+)</time>',
        html,
        re.S,
    )
    return [(title, " ".join(due.split())) for title, due in found]


def due_and_overdue(portal) -> tuple[str, str]:
    html = section(portal.get(reverse("incidents:dashboard")).content.decode(), "breaching")
    return html[: html.index('id="overdue"')], html[html.index('id="overdue"') :]


def test_breaching_soon_separates_what_falls_due_soonest_first_from_what_is_overdue(
    clock, portal, responder, drive
):
    overdue = make_incident(actor=responder, priority="P1", title="Overdue one")
    clock.move_to(at(minutes=30))
    fire_due(overdue, at(minutes=30))
    make_incident(actor=responder, priority="P2", title="Due within the hour")
    make_incident(actor=responder, priority="P3", title="Due in four hours")
    done = make_incident(actor=responder, priority="P1", title="Cancelled one")
    drive(done, responder, "cancel")

    due, late = due_and_overdue(portal)

    assert rows(due) == [("Overdue one", "due 11:00"), ("Due within the hour", "due 11:30")]
    assert badges(due) == [
        ("sla-running", "Mitigate 30 minutes left"),
        ("sla-running", "Acknowledge 1 hour left"),
    ]
    assert rows(late) == [("Overdue one", "was due 10:15")]
    assert badges(late) == [("sla-breached", "Acknowledge overdue 15 minutes")]
    assert "2 incidents" in due and "1 incident" in late


def test_older_overdue_rows_never_hide_what_is_about_to_breach(clock, portal, responder):
    for n in range(12):
        make_incident(actor=responder, priority="P1", title=f"Old {n}")
    clock.move_to(at(hours=5))
    make_incident(actor=responder, priority="P1", title="About to breach")
    clock.move_to(at(hours=5, minutes=10))

    due, late = due_and_overdue(portal)

    assert [title for title, _ in rows(due)] == ["About to breach", "About to breach"]
    assert len(rows(late)) == 10
    assert "12 incidents" in late  # the count says there are more than the rows shown
    assert f'href="{reverse("incidents:list")}?sla=overdue"' in late


def test_a_target_on_another_day_is_shown_with_its_date(clock, portal, responder):
    make_incident(actor=responder, priority="P1", title="From two days ago")
    clock.move_to(at(days=2))
    portal.force_login(responder)  # a session of two days ago has expired

    _, late = due_and_overdue(portal)

    assert ("From two days ago", "was due 2 Mar 10:15") in rows(late)


def test_breaching_soon_says_when_nothing_is_due(clock, portal, responder):
    make_incident(actor=responder, priority="P4")

    due, late = due_and_overdue(portal)

    assert "No SLA target falls due in the next hour." in due
    assert "Nothing is overdue." in late


def test_the_full_list_of_breaching_incidents_is_linked_and_nearest_target_first(
    clock, portal, responder, drive
):
    first = make_incident(actor=responder, priority="P2", title="Overdue since 11:00")
    clock.move_to(at(minutes=10))
    second = make_incident(actor=responder, priority="P2", title="Overdue since 11:10")
    make_incident(actor=responder, priority="P4", title="Not due for a day")
    closed = make_incident(actor=responder, priority="P2", title="Cancelled")
    drive(closed, responder, "cancel")
    clock.move_to(at(minutes=75))
    soon = make_incident(actor=responder, priority="P2", title="Due at 12:15")
    dashboard = portal.get(reverse("incidents:dashboard")).content.decode()

    def listed(window):
        page = portal.get(reverse("incidents:list"), {"sla": window}).content.decode()
        return re.findall(r'<span class="num">(INC\d+)</span>', page)

    assert f'href="{reverse("incidents:list")}?sla=breaching"' in section(dashboard, "breaching")
    assert listed("breaching") == [first.number, second.number, soon.number]
    assert listed("overdue") == [first.number, second.number]
    assert listed("due") == [soon.number]


@pytest.mark.parametrize("count", [1, 8])
def test_the_dashboard_costs_the_same_however_many_timers_breach(
    clock, portal, responder, django_assert_num_queries, count
):
    for n in range(count):
        make_incident(actor=responder, priority="P1", title=f"Down {n}", assignee=responder)
    clock.move_to(at(minutes=20))
    portal.get(reverse("incidents:dashboard"))  # notes the session's activity (once a minute)

    # session, user, permissions (user + group), roles, the bell's unread count, three lists
    # with their services and timers; breaching soon: the two counts, then the timers due and
    # the timers overdue, each with its incident; the person's pending action items.
    with django_assert_num_queries(19):
        html = portal.get(reverse("incidents:dashboard")).content.decode()

    assert section(html, "breaching").count('class="row"') == 2 * count  # one due, one overdue


# --- the admin ------------------------------------------------------------------------------------


@pytest.fixture
def admin_client(client, manager):
    client.force_login(manager)
    return client


def test_timers_are_listed_read_only_and_found_by_incident_number(
    clock, admin_client, responder, drive
):
    wanted = make_incident(actor=responder, priority="P1")
    other = make_incident(actor=responder, priority="P1")
    drive(other, responder, "acknowledge")
    changelist = reverse("admin:incidents_slatimer_changelist")

    found = admin_client.get(changelist, {"q": wanted.number}).context["cl"].result_list
    met = admin_client.get(changelist, {"state__exact": "met"}).context["cl"].result_list
    page = admin_client.get(changelist).content.decode()

    assert {(t.incident_id, t.kind) for t in found} == {
        (wanted.pk, kind) for kind in (SlaKind.ACKNOWLEDGE, SlaKind.MITIGATE, SlaKind.RESOLVE)
    }
    assert [(t.incident_id, t.kind) for t in met] == [(other.pk, SlaKind.ACKNOWLEDGE)]
    assert reverse("admin:incidents_slatimer_add") not in page
    timer = found[0]
    change = admin_client.get(reverse("admin:incidents_slatimer_change", args=[timer.pk]))
    assert change.status_code == 200
    assert not change.context["has_change_permission"]


def test_deadlines_show_how_late_the_clock_wrote_them(clock, admin_client, responder):
    incident = make_incident(actor=responder, priority="P1")
    clock.move_to(at(minutes=15, seconds=2))
    fire_due(incident, at(minutes=15, seconds=2))

    page = admin_client.get(reverse("admin:incidents_sladeadline_changelist")).content.decode()

    assert incident.number in page
    assert "2.0 s" in page  # the breach, due at 10:15:00
    assert "227.0 s" in page  # the warning, due at 10:11:15


def test_a_policy_page_edits_its_targets_inline(admin_client):
    policy = load_preset("response-workflow")

    response = admin_client.get(reverse("admin:incidents_slapolicy_change", args=[policy.pk]))

    formset = response.context["inline_admin_formsets"][0].formset
    assert formset.total_form_count() == 12


def test_a_calendar_needs_working_hours(admin_client):
    response = admin_client.post(
        reverse("admin:incidents_businesscalendar_add"),
        {
            "slug": "night",
            "name": "Night shift",
            "time_zone": "UTC",
            "hours-TOTAL_FORMS": "0",
            "hours-INITIAL_FORMS": "0",
            "holidays-TOTAL_FORMS": "0",
            "holidays-INITIAL_FORMS": "0",
        },
    )

    assert response.status_code == 200
    assert "A calendar needs at least one working interval." in response.content.decode()
    assert not BusinessCalendar.objects.filter(slug="night").exists()
