"""schemathesis against the real API server: the OpenAPI document says what the server enforces.

The server runs as `laneway up` runs it (`create_app` over a SQLite store, on a free loopback
port); schemathesis loads the document the server serves at `/openapi/v3` and sends every
operation a few requests that fit it and one that does not, each with an admin token and with
a team token. The run is bounded (a fixed number of cases per operation, a fixed seed, no
shrinking, no example database), so it takes the same cases every time.

The checks: no 5xx; every status code, content type, header and body of an answer is one the
document declares for it; a request the document calls invalid is refused; a request without
a token is refused (401); a method the document does not list is answered 405 with `Allow`.
A request the document calls valid must be accepted where the document can say everything
that decides it (operations without a body: path, query); a body can be refused for rules
JSON Schema cannot state (a DRA device needs a deviceClassName, a merge patch's result), which
the server answers 422 with one cause per field and the document declares as such.

Watches (`watch=true`) stream until `timeoutSeconds`; test_server_watch.py covers them, and
here a positive case asks for the list instead so that every answer is one document.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    not_a_server_error,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)
from schemathesis.core.failures import FailureGroup

from laneway.store.sqlite import SqliteStore
from server_harness import RunningApi, run_api

SEED = 20261205
CASES = {GenerationMode.POSITIVE: 2, GenerationMode.NEGATIVE: 1}
"""Cases per operation and mode: about 110 operations, so a few hundred cases, each sent twice."""
TEAM_NAMESPACE = "ml-team"
MAX_REPORTED = 25

CONFORMANCE = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture
def api(tmp_path: Path) -> Iterator[RunningApi]:
    yield from run_api(SqliteStore(tmp_path / "store.db"))


def _checks(case: schemathesis.Case, *, admin: bool) -> list[Any]:
    checks: list[Any] = list(CONFORMANCE)
    if case.meta is not None and case.meta.generation.mode == GenerationMode.NEGATIVE:
        checks.append(negative_data_rejection)
    elif len(case.operation.body) == 0:
        checks.append(positive_data_acceptance)
    if admin:
        checks += [ignored_auth, unsupported_method]  # each re-sends the request: once per case is enough
    return checks


def _without_streams(case: schemathesis.Case) -> None:
    if case.query and str(case.query.get("watch")) in ("true", "1"):
        case.query["watch"] = "false"


def _run_operation(
    operation: schemathesis.APIOperation,
    mode: GenerationMode,
    send: Callable[[schemathesis.Case], None],
) -> None:
    @settings(
        max_examples=CASES[mode],
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: schemathesis.Case) -> None:
        send(case)

    try:
        run()
    except Unsatisfiable:
        # An operation with no parameter and no body (/healthz) has no invalid request to send.
        assert mode == GenerationMode.NEGATIVE, f"{operation.label}: no valid request can be generated"


@pytest.mark.timeout(300)  # the run is bounded by its case count (about 70 s here); this only stops a hang
def test_the_server_does_what_its_openapi_document_says(api: RunningApi) -> None:
    tokens = {"admin": api.admin_token, "team": api.token("team", TEAM_NAMESPACE)}
    schema = schemathesis.openapi.from_url(f"{api.url}/openapi/v3")
    schema.config.seed = SEED
    failures: list[str] = []
    cases = 0
    with requests.Session() as session:

        def send(case: schemathesis.Case) -> None:
            nonlocal cases
            cases += 1
            _without_streams(case)
            for role, token in tokens.items():
                try:
                    case.call_and_validate(
                        base_url=api.url,
                        session=session,
                        headers={"Authorization": f"Bearer {token}"},
                        checks=_checks(case, admin=role == "admin"),
                        timeout=30,
                    )
                except FailureGroup as failure:
                    failures.append(f"[{role}] {case.operation.label}\n{str(failure)[:1500]}")

        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) > 100, "the document should describe every kind's operations"
        for operation in operations:
            for mode in CASES:
                _run_operation(operation, mode, send)
    assert cases >= 300
    assert not failures, f"{len(failures)} mismatches in {cases} cases:\n\n" + "\n\n".join(failures[:MAX_REPORTED])
