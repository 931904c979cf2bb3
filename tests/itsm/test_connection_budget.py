"""The connection budget: at start-up (`migrate`, `check --database default`) the portal warns
when its processes may open more connections than PostgreSQL's max_connections less a margin."""

import json
import os
import subprocess
import sys

import pytest
from django.conf import settings as django_settings
from django.db import OperationalError

from itsm import checks
from tests.browser import _test_database_url

DEFAULTS = {
    "web_processes": 1,
    "worker_clusters": 1,
    "pool": True,
    "pool_max": 20,
    "margin": 10,
}


def test_the_defaults_need_27_connections():
    """One web process's pool of 20; a worker: its cluster of two workers and their four
    helpers, and the clock's connection in its main process."""
    assert checks.connections_needed(DEFAULTS, worker_processes=2) == {"web": 20, "worker": 7}


def test_without_the_pool_a_web_process_holds_one():
    needed = checks.connections_needed({**DEFAULTS, "pool": False, "web_processes": 4}, 2)

    assert needed["web"] == 4


@pytest.mark.postgres
@pytest.mark.django_db
def test_no_warning_while_the_processes_fit(settings):
    settings.DATABASE_BUDGET = DEFAULTS

    assert checks.check_connection_budget(databases=["default"]) == []


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_warning_when_the_processes_do_not_fit(settings):
    settings.DATABASE_BUDGET = {**DEFAULTS, "web_processes": 5}  # 100 + 7

    [warning] = checks.check_connection_budget(databases=["default"])

    assert warning.id == "itsm.W001"
    assert "may hold 107 database connections (web 100, worker 7)" in warning.msg
    assert "max_connections (100) less a margin of 10" in warning.msg
    assert "PgBouncer in transaction mode" in warning.hint


def test_nothing_is_asked_of_the_database_unless_checks_include_it(settings):
    """Without the django_db mark a query would raise: none is made."""
    settings.DATABASE_BUDGET = {**DEFAULTS, "web_processes": 500}

    assert checks.check_connection_budget(databases=None) == []


def test_no_warning_behind_pgbouncer(settings):
    """PgBouncer's own pool size, not the portal's processes, bounds the server's connections.
    Without the django_db mark a query would raise: none is made."""
    settings.DATABASE_PGBOUNCER = True
    settings.DATABASE_BUDGET = {**DEFAULTS, "web_processes": 500}

    assert checks.check_connection_budget(databases=["default"]) == []


def test_no_warning_when_postgresql_does_not_answer(settings, monkeypatch):
    class Unreachable:
        vendor = "postgresql"

        def cursor(self):
            raise OperationalError("connection refused")

    monkeypatch.setattr(checks, "connections", {"default": Unreachable()})
    settings.DATABASE_BUDGET = {**DEFAULTS, "web_processes": 500}

    assert checks.check_connection_budget(databases=["default"]) == []


@pytest.mark.postgres
@pytest.mark.django_db
def test_manage_check_warns_with_the_deployments_process_counts():
    done = subprocess.run(
        [sys.executable, "manage.py", "check", "--database", "default"],
        cwd=django_settings.BASE_DIR,
        env=os.environ
        | {
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DATABASE_URL": _test_database_url(),
            "WEB_PROCESSES": "4",
            "WORKER_CLUSTERS": "2",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 0, done.stderr  # a warning, not an error
    assert "itsm.W001" in done.stderr
    assert "may hold 94 database connections (web 80, worker 14)" in done.stderr


READ_DATABASE = (
    "import json; from django.conf import settings; d = settings.DATABASES['default']; "
    "print(json.dumps([d['ENGINE'], 'pool' in d.get('OPTIONS', {}), "
    "d.get('DISABLE_SERVER_SIDE_CURSORS', False), d.get('OPTIONS', {}).get('prepare_threshold')]))"
)


@pytest.mark.parametrize(
    ("pgbouncer", "expected"),
    [
        ("false", ["itsm.postgresql", True, False, 0]),
        ("true", ["django.db.backends.postgresql", False, True, None]),
    ],
)
def test_behind_pgbouncer_the_portal_keeps_no_pool_no_server_side_cursor_no_prepared_statement(
    pgbouncer, expected
):
    done = subprocess.run(
        [sys.executable, "-c", READ_DATABASE],
        cwd=django_settings.BASE_DIR,
        env=os.environ
        | {
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DATABASE_URL": "postgres://postgres@127.0.0.1:6432/itsm",
            "DATABASE_PGBOUNCER": pgbouncer,
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )

    assert json.loads(done.stdout.splitlines()[-1]) == expected
