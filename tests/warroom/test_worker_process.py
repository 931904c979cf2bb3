"""An event recorded by another process (the worker, another web server) reaches an open
war-room page: through the Redis channel layer, not this process's memory."""

import os
import subprocess
import sys
from urllib.parse import urlsplit

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection

from tests.warroom._ws import in_event_loop, opened

pytestmark = [
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.usefixtures("fresh_channel_layers"),
]

ADD_NOTE = """
import sys

import django

django.setup()

from incidents import services
from incidents.choices import ChangeSource
from incidents.models import Incident

number, text = sys.argv[1:]
incident = Incident.objects.get(number=number)
services.incident_add_note(incident=incident, actor=None, source=ChangeSource.JOB, text=text)
"""


def add_note_in_another_process(number: str, text: str) -> None:
    """`python -c` with these settings, on this test's database and Redis."""
    database = urlsplit(os.environ["DATABASE_URL"])._replace(
        path=f"/{connection.settings_dict['NAME']}"
    )
    env = os.environ | {"DATABASE_URL": database.geturl(), "REDIS_URL": settings.REDIS_URL}
    done = subprocess.run(
        [sys.executable, "-c", ADD_NOTE, number, text],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


@in_event_loop
async def test_a_note_added_by_another_process_reaches_an_open_page(major, responder):
    text = "SLA breach noticed by the worker"
    async with opened(responder, major.number) as page:
        await sync_to_async(add_note_in_another_process, thread_sensitive=False)(major.number, text)
        live = await page.next("timeline", where=lambda m: m["event"]["summary"] == text)

    assert live["incident"] == major.number
    assert live["event"]["source"] == "job"
    assert live["event"]["actor"] is None
