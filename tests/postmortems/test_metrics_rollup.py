"""The per-incident rollup the figures are aggregated from (postmortems/metrics/rollup.py):
current in the transaction of each change, repaired by the job and the command."""

import pytest
from django.core.management import call_command
from django.db import connection, transaction

from incidents import services
from incidents.choices import ChangeSource
from incidents.models import Incident
from postmortems.metrics import queries, rollup
from postmortems.metrics.definitions import with_measures
from postmortems.models import IncidentRollup
from postmortems.tasks import repair_metrics_rollup
from tests.factories import make_incident
from tests.postmortems.test_metrics import MARCH, figures_of

CLI = ChangeSource.CLI


def test_a_transition_updates_the_incidents_figures_in_its_transaction(db, drive, responder):
    incident = make_incident(actor=responder, priority="P2")
    assert IncidentRollup.objects.get(pk=incident.pk).mtta is None

    with pytest.raises(RuntimeError), transaction.atomic():
        drive(incident, responder, "acknowledge")
        assert IncidentRollup.objects.get(pk=incident.pk).mtta is not None
        raise RuntimeError("the write fails after the transition")

    assert IncidentRollup.objects.get(pk=incident.pk).mtta is None
    drive(incident, responder, "acknowledge")
    assert IncidentRollup.objects.get(pk=incident.pk).mtta is not None


def test_editing_an_earlier_incident_updates_a_later_ones_recurrence(march, responder):
    """f recurs after a (problem PRB-1, three days earlier, same service)."""
    a = march["a"]
    services.incident_update(incident=a, actor=responder, source=CLI, related_problem="PRB-2")
    assert figures_of()[0]["recurrence_rate"].numerator == 0

    services.incident_update(incident=a, actor=responder, source=CLI, related_problem="PRB-1")
    assert figures_of()[0]["recurrence_rate"].numerator == 1


@pytest.mark.parametrize("repair", ["job", "command"])
def test_missing_rows_are_rebuilt_with_the_same_figures(march, repair):
    before = queries.summary(MARCH, {})
    IncidentRollup.objects.all().delete()
    emptied = {f.metric: f for f in queries.summary(MARCH, {}).figures}
    assert (emptied["mtta"].n, emptied["false_positive_rate"].denominator) == (0, 0)

    if repair == "job":
        assert repair_metrics_rollup() == 7
    else:
        call_command("metrics_rollup", stdout=None)

    assert queries.summary(MARCH, {}) == before


def test_the_command_recomputes_every_row(march, responder, settings):
    """After raising the recurrence window, `--all` searches the wider window."""
    settings.METRICS_RECURRENCE_DAYS = 2
    call_command("metrics_rollup", "--all", stdout=None)
    assert figures_of()[0]["recurrence_rate"].numerator == 0
    settings.METRICS_RECURRENCE_DAYS = 30
    assert figures_of()[0]["recurrence_rate"].numerator == 0

    call_command("metrics_rollup", "--all", stdout=None)
    assert figures_of()[0]["recurrence_rate"].numerator == 1


def test_a_refresh_is_one_statement_storing_what_the_measures_compute(
    march, django_assert_num_queries
):
    """The upsert is compiled once per process; its rows are the measures' query's, exactly."""
    ids = list(Incident.objects.values_list("pk", flat=True))
    IncidentRollup.objects.all().delete()

    with django_assert_num_queries(1):
        assert rollup.rollup_refresh(ids) == len(ids) == 7

    stored = IncidentRollup.objects.order_by("pk").values("pk", *rollup.STORED)
    computed = with_measures(Incident.objects.order_by("pk")).values("pk", *rollup.STORED)
    assert list(stored) == list(computed)


def test_refreshing_one_incident_at_a_time_stores_the_same_rows(march, django_assert_num_queries):
    """One id has SQL of its own on PostgreSQL (the form of a write to one incident), whose
    statement the query log shows as it shows any other."""
    ids = list(Incident.objects.order_by("pk").values_list("pk", flat=True))
    IncidentRollup.objects.all().delete()

    for pk in ids:
        with django_assert_num_queries(1) as captured:
            assert rollup.rollup_refresh([pk]) == 1
        assert captured[0]["sql"].startswith('INSERT INTO "postmortems_incidentrollup"')

    stored = IncidentRollup.objects.order_by("pk").values("pk", *rollup.STORED)
    computed = with_measures(Incident.objects.order_by("pk")).values("pk", *rollup.STORED)
    assert list(stored) == list(computed)


# The upsert of one incident (the form of a list reads its ids with unnest).
PREPARED_UPSERT = """
    SELECT generic_plans, custom_plans FROM pg_prepared_statements
    WHERE statement LIKE 'INSERT INTO "postmortems_incidentrollup"%%'
    AND statement NOT LIKE '%%unnest%%'
"""


def plans_of_the_upsert() -> tuple[int, int]:
    with connection.cursor() as cursor:
        cursor.execute(PREPARED_UPSERT)
        [plans] = cursor.fetchall()
    return plans


@pytest.mark.postgres
def test_postgresql_plans_the_upsert_of_one_incident_once(march):
    """Planning the upsert took about 5 ms, more than running it: it is prepared on the
    connection, and after PostgreSQL's five trial plans one plan serves every incident."""
    ids = list(Incident.objects.values_list("pk", flat=True))
    with transaction.atomic():
        for pk in ids[:5]:  # the trials, unless this connection ran them already
            rollup.rollup_refresh([pk])
        generic, custom = plans_of_the_upsert()

        for pk in ids + ids:
            rollup.rollup_refresh([pk])

        assert plans_of_the_upsert() == (generic + len(ids) * 2, custom)


@pytest.mark.postgres
def test_a_rollback_on_the_connection_does_not_break_the_prepared_upsert(march):
    """psycopg deallocates the connection's prepared statements when a savepoint rolls back;
    the next refresh prepares the upsert again and stores its row."""
    incident = Incident.objects.order_by("pk").first()
    with transaction.atomic():
        rollup.rollup_refresh([incident.pk])
        with pytest.raises(ValueError), transaction.atomic():
            IncidentRollup.objects.filter(pk=incident.pk).delete()
            raise ValueError("rolled back")
        IncidentRollup.objects.filter(pk=incident.pk).delete()

        assert rollup.rollup_refresh([incident.pk]) == 1
        assert plans_of_the_upsert() == (0, 1)  # prepared anew: its first, custom, plan

    assert IncidentRollup.objects.filter(pk=incident.pk).exists()
