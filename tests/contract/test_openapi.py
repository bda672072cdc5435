"""Fuzz every operation in /openapi.json: no 5xx, and every response matches the documented schema
(status code, content type and body); and with data that breaks the document (wrong types, missing
required fields, unknown properties), every operation refuses it with a 4xx."""
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import FailureGroup
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (content_type_conformance, negative_data_rejection,
                                               response_schema_conformance, status_code_conformance)

from config import ROOT

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# Revoking the fuzzer's own token would turn the rest of the run into 401s; logout has its own tests.
SKIP_FUZZ = {("POST", "/api/v1/auth/logout")}
EXAMPLES = 25
NEGATIVE_EXAMPLES = 10
# The refusals schemathesis expects of bad input, with the service's 413 and 414 (the same file as make fuzz).
FUZZ_CONFIG = ROOT / "bench" / "fuzz.toml"


def test_every_operation_conforms(app, reach_headers):
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 30
    tested, failures = _fuzz_all(schema, reach_headers, mode=GenerationMode.POSITIVE, examples=EXAMPLES, checks=CHECKS)
    assert tested == len(operations) - len(SKIP_FUZZ)
    assert not failures, "\n\n".join(f"{op}:\n{text}" for op, text in failures.items())


def _fuzz_all(schema, headers, *, mode: GenerationMode, examples: int, checks: list) -> tuple[int, dict]:
    failures, tested = {}, 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in SKIP_FUZZ:
            continue

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
                  database=None)
        def fuzz(case):
            case.call_and_validate(headers=headers, checks=checks)

        try:
            fuzz()
        except Unsatisfiable:
            continue  # nothing in this operation's input can break the document (no parameters, no body)
        except Exception as exc:
            failures[f"{operation.method.upper()} {operation.path}"] = str(exc)[:1500]
        tested += 1
    return tested, failures


def test_every_operation_refuses_what_breaks_the_document(app, reach_headers):
    """schemathesis's coverage cases (each way the document can be broken: a missing body or required field,
    a property it does not name, a wrong type, a value out of range) and random negative data, for every
    operation: each must be refused with a 4xx, never accepted and never a 5xx."""
    config = SchemathesisConfig.from_path(FUZZ_CONFIG)
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app, config=config)
    checks = [not_a_server_error, negative_data_rejection]
    failures: dict[str, str] = {}
    cases = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in SKIP_FUZZ:
            continue
        name = f"{operation.method.upper()} {operation.path}"
        generation = schema.config.generation_for(operation=operation, phase="coverage")
        for case in schema.iter_coverage_cases(operation, generation_modes=[GenerationMode.NEGATIVE],
                                               generation_config=generation):
            cases += 1
            try:
                case.call_and_validate(headers=reach_headers, checks=checks)
            except FailureGroup as exc:  # the first refusal that went wrong, per operation
                failures.setdefault(name, str(exc)[:1500])
    assert cases >= 500
    tested, random_failures = _fuzz_all(schema, reach_headers, mode=GenerationMode.NEGATIVE,
                                        examples=NEGATIVE_EXAMPLES, checks=checks)
    assert tested >= 30
    failures.update(random_failures)
    assert not failures, "\n\n".join(f"{op}:\n{text}" for op, text in failures.items())
