"""Each metric on a hand-built set of incidents with known answers (metrics_data.build)."""

import pytest

from postmortems.metrics import queries
from postmortems.metrics.queries import ReportQuery
from postmortems.metrics.sql import percentile_cont
from tests.postmortems.metrics_data import FIRST_DAY, LAST_DAY

MARCH = ReportQuery(start=FIRST_DAY, end=LAST_DAY)


def figures_of(query=MARCH):
    result = queries.summary(query, queries.targets())
    return {f.metric: f for f in result.figures}, result.sla


def test_durations_from_recorded_timestamps(march):
    figures, _ = figures_of()
    mttd, mtta = figures["mttd"], figures["mtta"]
    assert (mttd.n, mttd.excluded, mttd.value, mttd.median, mttd.p90) == (7, 0, 51.4, 0, 168)
    assert (mtta.n, mtta.excluded, mtta.value, mtta.median) == (4, 3, 58710, 390)
    response = figures["mttr_response"]
    assert (response.n, response.value, response.median, response.p90) == (3, 340, 300, 540)
    mitigate = figures["mttr_mitigate"]
    assert (mitigate.n, mitigate.value, mitigate.median) == (3, 2600, 3000)


def test_time_on_hold_is_left_out_and_a_reopened_incident_counts_to_its_last_resolution(march):
    resolve = figures_of()[0]["mttr_resolve"]
    # a 40 min; b 70 min less 20 on hold; c resolved again 60 min after logging.
    assert (resolve.n, resolve.excluded, resolve.value, resolve.median) == (3, 4, 3000, 3000)


def test_rates(march):
    figures, _ = figures_of()
    assert figures["false_positive_rate"].numerator == 1
    assert figures["false_positive_rate"].value == 14.29
    assert (figures["reopen_rate"].numerator, figures["reopen_rate"].denominator) == (1, 3)
    recurrence = figures["recurrence_rate"]
    assert (recurrence.numerator, recurrence.denominator) == (1, 7)


def test_recurrence_window_is_a_setting(march, settings):
    settings.METRICS_RECURRENCE_DAYS = 2
    assert figures_of()[0]["recurrence_rate"].numerator == 0


def test_sla_compliance_per_priority_and_kind_with_business_time_and_pauses(march):
    figures, sla = figures_of()
    rows = {(r["priority"], r["kind"]): (r["met"], r["breached"]) for r in sla}
    assert rows == {
        ("P1", "acknowledge"): (2, 0),
        ("P1", "resolve"): (2, 0),  # b's hour ran 1 h 20 with the hold
        ("P2", "acknowledge"): (1, 0),  # g: 60 business minutes over a weekend
        ("P3", "acknowledge"): (0, 1),  # c acknowledged after 10 min of 5
    }, rows
    compliance = figures["sla_compliance"]
    assert (compliance.numerator, compliance.denominator, compliance.value) == (5, 6, 83.33)
    assert compliance.meets_target is False


def test_targets_colour_each_figure(march):
    figures, _ = figures_of()
    assert figures["mttd"].meets_target is True  # 51 s < 3 min
    assert figures["mtta"].meets_target is False
    assert figures["mttr_mitigate"].target is None  # the reference sets none


def test_slices_filter_and_group(march):
    only_p1 = figures_of(ReportQuery(start=FIRST_DAY, end=LAST_DAY, priority="P1"))[0]
    assert only_p1["mtta"].value == 120
    api = figures_of(ReportQuery(start=FIRST_DAY, end=LAST_DAY, source="api"))[0]
    assert api["mtta"].value == 65 * 3600
    by_service = {g.key: g for g in queries.sliced(MARCH, "service", queries.targets())}
    assert {k: g.logged for k, g in by_service.items()} == {
        "checkout": 4,
        "payroll": 1,
        "search": 2,
    }
    assert by_service["search"].figures["false_positive_rate"].value == 50
    by_team = {g.key: g.logged for g in queries.sliced(MARCH, "team", queries.targets())}
    assert by_team == {"payments": 3, None: 4}


def test_weekly_buckets(march):
    weeks = queries.timeseries(MARCH, queries.targets())
    assert [(g.key.date().isoformat(), g.logged) for g in weeks] == [("2026-03-02", 7)]


def test_percentile_matches_postgresql():
    assert percentile_cont([0, 0, 0, 0, 0, 120, 240], 0.9) == pytest.approx(168)
    assert percentile_cont([], 0.5) is None
