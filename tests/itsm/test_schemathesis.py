"""The published schema (/api/schema/) and the answers agree: schemathesis sends every operation
a bounded, reproducible set of requests generated from the schema, as an ITSM manager and as a
stakeholder, with path parameters that name real objects, and checks each answer: no server
error, and status, content type and body as the schema documents them for that operation."""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from itsm.services import token_create
from tests.itsm.conftest import real_values

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Examples per operation: valid requests, and requests that break the schema on purpose (wrong
# types, values out of range, missing fields), which must be refused as documented.
EXAMPLES = {GenerationMode.POSITIVE: 12, GenerationMode.NEGATIVE: 6}


def _naming_real_objects(operation, mode, world):
    """Cases of `operation` whose path parameters name objects that exist."""
    real = real_values(world, operation.path)
    chosen = st.fixed_dictionaries({name: st.sampled_from(values) for name, values in real.items()})

    def name_them(pair):
        case, parameters = pair
        case.path_parameters = {**(case.path_parameters or {}), **parameters}
        return case

    return st.tuples(operation.as_strategy(mode), chosen).map(name_them)


def _failure(operation, mode, world, headers):
    """The first failing check's error for `operation`, or None."""

    @given(case=_naming_real_objects(operation, mode, world))
    @settings(
        max_examples=EXAMPLES[mode],
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case):
        case.call_and_validate(headers=headers, checks=CHECKS)

    try:
        run()
    except (Exception, BaseExceptionGroup) as error:  # a check failed: name its operation
        return error
    return None


@pytest.fixture
def app():
    """The portal as a WSGI app that keeps the test's database connection between requests,
    as Django's test client does (it closes it after each request otherwise)."""
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield get_wsgi_application()
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


@pytest.mark.timeout(300)  # about a minute a role on a 2-core machine; more under load
@pytest.mark.parametrize("role", ["manager", "stakeholder"])
def test_every_operation_answers_as_the_schema_says(request, app, world, role):
    _, raw = token_create(user=request.getfixturevalue(role), name="schemathesis")
    headers = {"Authorization": f"Bearer {raw}"}
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", app)
    operations = [result.ok() for result in schema.get_all_operations()]

    failures = {
        f"{op.label} ({mode.value})": _failure(op, mode, world, headers)
        for op in operations
        for mode in EXAMPLES
    }

    found = [f"{label}: {_summary(error)}" for label, error in failures.items() if error]
    assert not found, "\n".join(found)


def _summary(error) -> str:
    """What failed, without the request and answer schemathesis prints with it."""
    errors = getattr(error, "exceptions", [error])
    return "; ".join(sorted({" ".join(str(e).split("\n\n")[:2]) for e in errors}))
