"""docs/grafana/itsm-portal.json, the dashboard docs/operations.md offers: every series its
panels query is one /metrics exposes, with the label values the panels select on, so that a
renamed figure or label breaks this test rather than a team's dashboard."""

import json
import re
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import METRICS_TOKEN

DASHBOARD = Path(__file__).resolve().parents[2] / "docs" / "grafana" / "itsm-portal.json"
# A series name and its braces: itsm_x{a="b", c=~"d|e"}, or itsm_x alone.
SELECTOR = re.compile(r"\b(itsm_[a-z_]+)(?:\{([^}]*)\})?")
EXACT_MATCHER = re.compile(r'(\w+)="([^"]*)"')


def panel_selectors() -> list[tuple[str, str, dict[str, str]]]:
    """(panel title, series name, exact label matchers) of every query of the dashboard."""
    dashboard = json.loads(DASHBOARD.read_text())
    return [
        (panel["title"], name, dict(EXACT_MATCHER.findall(matchers or "")))
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name, matchers in SELECTOR.findall(target["expr"])
    ]


@pytest.mark.django_db
def test_every_panel_queries_a_series_the_portal_exposes(client, settings):
    settings.METRICS_TOKEN = METRICS_TOKEN
    response = client.get("/metrics", secure=True, HTTP_AUTHORIZATION=f"Bearer {METRICS_TOKEN}")
    assert response.status_code == 200
    samples = [
        sample
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    ]
    selectors = panel_selectors()
    assert len(selectors) >= 12
    for title, name, matchers in selectors:
        labels = [sample.labels for sample in samples if sample.name == name]
        assert labels, f"{title!r} queries {name}, which /metrics does not expose"
        for label, value in matchers.items():
            assert any(found.get(label) == value for found in labels), (
                f"{title!r} selects {name}{{{label}={value!r}}}, which no series has"
            )
