"""Fuzz every operation in /openapi.json: no 5xx, and every response matches the documented schema
(status code, content type and body)."""
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance, response_schema_conformance,
                                               status_code_conformance)

from api.extensions import limiter
from tests.factories import make_owner, make_user, make_world, token_for

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# Revoking the fuzzer's own token would turn the rest of the run into 401s; logout has its own tests.
SKIP_FUZZ = {("POST", "/api/v1/auth/logout")}
EXAMPLES = 25


@pytest.fixture
def fuzz_headers(app):
    """A user who is staff, admin and owner, so generated requests reach the services behind the role checks."""
    world = make_world()
    user = make_user(name="王秀英", phone="13812345678", neighbourhood_id=world.nb.id,
                     roles=[("admin", "district", world.district.id), ("staff", "street", world.street.id)])
    make_owner(user, world.units[0])
    limiter.enabled = False
    yield {"Authorization": f"Bearer {token_for(user)}"}
    limiter.enabled = True


def test_every_operation_conforms(app, fuzz_headers):
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 30
    failures = {}
    tested = 0
    for operation in operations:
        if (operation.method.upper(), operation.path) in SKIP_FUZZ:
            continue

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
                  database=None)
        def fuzz(case):
            case.call_and_validate(headers=fuzz_headers, checks=CHECKS)

        try:
            fuzz()
        except Exception as exc:  # collect every failing operation, then fail once with all of them
            failures[f"{operation.method.upper()} {operation.path}"] = str(exc)[:1500]
        tested += 1
    assert tested == len(operations) - len(SKIP_FUZZ)
    assert not failures, "\n\n".join(f"{op}:\n{text}" for op, text in failures.items())
