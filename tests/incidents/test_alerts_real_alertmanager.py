"""A real sender: Debian's Prometheus Alertmanager (/usr/bin/prometheus-alertmanager, installed by
`make alertmanager`) notifies the portal, served by uvicorn on the test database, through a
`webhook_configs` receiver and a `pagerduty_configs` one pointed at our URLs. Alerts posted into
Alertmanager's API open one incident per group with the severity's priority; Alertmanager's
repeats change nothing; resolving the alerts resolves the incidents (`auto_resolved`)."""

import json
import subprocess
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from incidents.choices import EventType, IncidentStatus, IntegrationKind, ResolutionCode
from incidents.models import AlertGroup
from tests.browser import HOST, free_port

ALERTMANAGER = Path("/usr/bin/prometheus-alertmanager")
PORTS = range(19400, 19500)
WITHIN = 20  # seconds Alertmanager may take to deliver (it waits 1 s per group, repeats in 2 s)

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

# Alertmanager groups by alertname; the `via` label routes a group to a receiver.
ALERTS = [
    {"alertname": "DiskFull", "instance": "db-1", "severity": "critical", "via": "webhook"},
    {"alertname": "DiskFull", "instance": "db-2", "severity": "warning", "via": "webhook"},
    {"alertname": "HighLatency", "instance": "web-1", "severity": "warning", "via": "webhook"},
    {"alertname": "QueueBacklog", "instance": "mq-1", "severity": "error", "via": "pagerduty"},
    {"alertname": "QueueBacklog", "instance": "mq-2", "severity": "error", "via": "pagerduty"},
]
# The highest firing severity of each group: critical → P1, error → P2, warning → P3.
PRIORITIES = {"DiskFull": "P1", "HighLatency": "P3", "QueueBacklog": "P2"}


def config(webhook_url: str, pagerduty_url: str, routing_key: str) -> dict:
    """Alertmanager's configuration (JSON is YAML): one webhook receiver, one PagerDuty one."""
    return {
        "route": {
            "receiver": "webhook",
            "group_by": ["alertname"],
            "group_wait": "1s",
            "group_interval": "1s",
            "repeat_interval": "2s",
            "routes": [{"receiver": "pagerduty", "matchers": ['via="pagerduty"']}],
        },
        "receivers": [
            {"name": "webhook", "webhook_configs": [{"url": webhook_url, "send_resolved": True}]},
            {
                "name": "pagerduty",
                "pagerduty_configs": [
                    {
                        "routing_key": routing_key,
                        "url": pagerduty_url,
                        "severity": "{{ .CommonLabels.severity }}",
                        "send_resolved": True,
                    }
                ],
            },
        ],
    }


class Alertmanager:
    """`prometheus-alertmanager` on a free port, alone (no cluster), its state in `folder`."""

    def __init__(self, folder: Path, settings: dict):
        if not ALERTMANAGER.exists():
            pytest.fail(
                f"Debian's Alertmanager is not at {ALERTMANAGER}: run `make alertmanager` "
                "(it installs the prometheus-alertmanager package, as root or through sudo)."
            )
        self.url = f"http://{HOST}:{free_port(PORTS)}"
        self.log = folder / "alertmanager.log"
        (folder / "alertmanager.yml").write_text(json.dumps(settings))
        command = [
            str(ALERTMANAGER),
            f"--config.file={folder / 'alertmanager.yml'}",
            f"--storage.path={folder / 'data'}",
            f"--web.listen-address={self.url.removeprefix('http://')}",
            "--cluster.listen-address=",
        ]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        wait_until(self.ready, 15, "Alertmanager to start", self)

    def ready(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"Alertmanager exited:\n{self.log.read_text()}")
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as response:
                return response.status == 200
        except OSError:
            return False

    def post_alerts(self, alerts: list[dict]) -> None:
        request = urllib.request.Request(
            f"{self.url}/api/v2/alerts",
            data=json.dumps(alerts).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 200

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def wait_until(condition, seconds: float, what: str, alertmanager: Alertmanager | None = None):
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            log = alertmanager.log.read_text() if alertmanager else ""
            raise AssertionError(f"Waited {seconds} s for {what}.\n{log}")
        time.sleep(0.2)


def posted(labels: dict, starts_at: datetime, ends_at: datetime | None = None) -> dict:
    alert = {
        "labels": labels,
        "annotations": {
            "summary": f"{labels['alertname']} is firing",
            "description": f"on {labels['instance']}",
        },
        "startsAt": starts_at.isoformat(),
        "generatorURL": "http://prometheus.example.org/graph",
    }
    if ends_at is not None:
        alert["endsAt"] = ends_at.isoformat()
    return alert


@pytest.fixture
def alertmanager(tmp_path, server, make_integration):
    webhook = make_integration(IntegrationKind.ALERTMANAGER)
    pagerduty = make_integration(IntegrationKind.PAGERDUTY)
    settings = config(server.url + webhook.path, server.url + pagerduty.path, pagerduty.key)
    alertmanager = Alertmanager(tmp_path, settings)
    yield alertmanager
    alertmanager.stop()


def groups() -> dict[str, AlertGroup]:
    """The alert groups by the alertname their title has (PagerDuty's events carry no labels)."""
    rows = AlertGroup.objects.select_related("incident")
    return {next(name for name in PRIORITIES if name in group.title): group for group in rows}


def repeated(seen: dict) -> bool:
    """Every group has arrived, and arrived again (Alertmanager's repeat_interval)."""
    seen.update(groups())
    return set(seen) == set(PRIORITIES) and all(g.received_count >= 2 for g in seen.values())


def all_cleared() -> bool:
    current = groups()
    return all(group.incident.status == IncidentStatus.RESOLVED for group in current.values())


def test_alertmanager_opens_one_incident_per_group_and_resolves_it(alertmanager):
    started = datetime.now(UTC) - timedelta(minutes=1)
    firing = [posted(labels, started) for labels in ALERTS]
    alertmanager.post_alerts(firing)
    alertmanager.post_alerts(firing)  # the same alerts again: still the same ones

    seen = {}
    wait_until(lambda: repeated(seen), WITHIN, "every group and its repeat", alertmanager)
    assert {name: group.incident.priority for name, group in seen.items()} == PRIORITIES
    assert len({group.incident_id for group in seen.values()}) == len(PRIORITIES)
    assert {name: group.alert_count for name, group in seen.items()} == {
        "DiskFull": 2,
        "HighLatency": 1,
        "QueueBacklog": 1,  # a PagerDuty event is one alert: the group's
    }
    for group in seen.values():
        assert group.incident.status == IncidentStatus.NEW
        assert not group.incident.events.filter(type=EventType.ALERT).exists()  # repeats: none
    assert seen["DiskFull"].incident.title == "DiskFull is firing"  # the summary annotation
    assert "QueueBacklog" in seen["QueueBacklog"].incident.title  # Alertmanager's description

    ended = datetime.now(UTC) - timedelta(seconds=1)
    alertmanager.post_alerts([posted(labels, started, ended) for labels in ALERTS])

    wait_until(all_cleared, WITHIN, "every incident resolved", alertmanager)
    assert AlertGroup.objects.count() == len(PRIORITIES)  # no group opened again
    for name, group in groups().items():
        assert group.status == "resolved"
        assert group.incident_id == seen[name].incident_id
        assert group.incident.resolution_code == ResolutionCode.AUTO_RESOLVED
