"""The status page's RSS and Atom feeds: every public update is an entry, newest first, and
feed readers parse them (feedparser)."""

from datetime import UTC, datetime, timedelta

import feedparser
import pytest
import time_machine

from tests.factories import make_incident
from tests.warroom.status_fixtures import make_component, post

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
FEEDS = ["/status/history.rss", "/status/history.atom"]


@pytest.fixture
def updates(manager, responder):
    api = make_component(manager, "API")
    posted = []
    for n, (status, body) in enumerate(
        [
            ("investigating", "We see *errors* on the API."),
            ("identified", "A bad deploy."),
            ("resolved", "Rolled back; all good."),
        ]
    ):
        with time_machine.travel(T0 + timedelta(minutes=10 * n), tick=False):
            incident = (
                posted[0].status_incident.incident if posted else make_incident(actor=responder)
            )
            posted.append(
                post(incident, manager, status, body, [(api, "major_outage")], name="API errors")
            )
    return posted


@pytest.mark.parametrize("path", FEEDS)
def test_every_public_update_is_an_entry_newest_first(client, updates, path):
    response = client.get(path)
    assert response.status_code == 200
    feed = feedparser.parse(response.content)
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.feed.title == "Service status: incident history"
    assert [entry.title for entry in feed.entries] == [
        "API errors: Resolved",
        "API errors: Identified",
        "API errors: Investigating",
    ]
    assert "<em>errors</em>" in feed.entries[-1].summary  # Markdown, as sanitised HTML
    number = updates[0].status_incident.incident.number
    assert {entry.link for entry in feed.entries} == {f"http://testserver/status/#{number}"}
    assert len({entry.id for entry in feed.entries}) == 3
    assert feed.entries[0].published_parsed[:5] == (2026, 3, 2, 9, 20)


def test_the_feeds_are_atom_1_0_and_rss_2_0(client, updates):
    feed = feedparser.parse(client.get("/status/history.atom").content)
    assert feed.version == "atom10"
    assert feedparser.parse(client.get("/status/history.rss").content).version == "rss20"
