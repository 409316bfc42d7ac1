"""schemathesis against the real API server: the OpenAPI document says what the server enforces.

The server runs as `laneway up` runs it (`create_app` over a SQLite store, on a free loopback
port); schemathesis loads the document the server serves at `/openapi/v3` and sends every
operation a few requests that fit it and one that does not (about 280 cases), each with an
admin token and with a team token. The run is bounded (a fixed number of cases per operation, a fixed seed, no
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

import json
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
import yaml
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
from server_harness import RunningApi, run_api

from laneway.api.registry import KINDS, KindInfo, by_kind
from laneway.server.bodies import MERGE_PATCH_TYPE
from laneway.server.targets import SUBRESOURCES, collection_path
from laneway.store.sqlite import SqliteStore

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli"))
from cli_harness import Cli, Up

SEED = 20261205
CASES = {GenerationMode.POSITIVE: 2, GenerationMode.NEGATIVE: 1}
"""Cases per operation and mode: about 110 operations, so a few hundred cases, each sent twice."""
BODY_CASES = {GenerationMode.POSITIVE: 1, GenerationMode.NEGATIVE: 1}
"""Fewer for an operation with a body: drawing a whole ModelDeployment is most of the run's time."""
TEAM_NAMESPACE = "ml-team"
MAX_REPORTED = 25

CONFORMANCE = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
STATUS_DEADLINE = 120.0
"""How long the simulator's endpoint may take to be Ready under `laneway up` on a loaded machine."""


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
        max_examples=(CASES if len(operation.body) == 0 else BODY_CASES)[mode],
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


@pytest.mark.timeout(300)  # the run is bounded by its case count (70-90 s here); this only stops a hang
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
    assert cases >= 250
    assert not failures, f"{len(failures)} mismatches in {cases} cases:\n\n" + "\n\n".join(failures[:MAX_REPORTED])


def _example_objects() -> list[dict[str, Any]]:
    documents: list[dict[str, Any]] = []
    for path in sorted(EXAMPLES.rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if isinstance(doc, dict) and "kind" in doc:
                # YAML dates (retireAfter: 2027-06-30) travel as the text a client would send.
                documents.append(json.loads(json.dumps(doc, default=str)))
    return documents


class _Client:
    """Explicit requests through schemathesis: each answer is checked against the document."""

    def __init__(self, schema: schemathesis.BaseSchema, api: RunningApi, session: requests.Session) -> None:
        self.schema, self.api, self.session = schema, api, session

    def __call__(
        self, method: str, path: str, params: dict[str, str], *, token: str, body: Any = None,
        media_type: str = "application/json", query: dict[str, str] | None = None,
    ) -> requests.Response:
        operation = self.schema[path][method]
        extra: dict[str, Any] = {} if body is None else {"body": body, "media_type": media_type}
        case = operation.Case(path_parameters=params, query=query, **extra)
        return case.call_and_validate(  # type: ignore[no-any-return]
            base_url=self.api.url, session=self.session, headers={"Authorization": f"Bearer {token}"},
            checks=CONFORMANCE, timeout=30,
        )


def _round_trip(client: _Client, info: KindInfo, doc: dict[str, Any], tokens: dict[str, str]) -> list[str]:
    """Create, read, write back as read, merge-patch, list by label and field: every answer
    conforms, and each write of what the server itself answered is accepted."""
    admin = tokens["admin"]
    namespace = (doc.get("metadata") or {}).get("namespace", "default")
    scope = {"namespace": namespace} if info.namespaced else {}
    collection = collection_path(info, "{namespace}") if info.namespaced else collection_path(info)
    item = f"{collection}/{{name}}"
    params = {**scope, "name": doc["metadata"]["name"]}
    problems: list[str] = []

    def expect(response: requests.Response, codes: tuple[int, ...], what: str) -> None:
        if response.status_code not in codes:
            problems.append(f"{info.kind} {params}: {what} answered {response.status_code}: {response.text[:300]}")

    expect(client("POST", collection, scope, token=admin, body=doc), (201, 409), "create")
    read = client("GET", item, params, token=admin)
    expect(read, (200,), "read")
    expect(client("PUT", item, params, token=admin, body=read.json()), (200,), "replace with what was read")
    expect(client("PATCH", item, params, token=admin, body={}, media_type=MERGE_PATCH_TYPE), (200,), "empty merge patch")
    labels = read.json()["metadata"].get("labels") or {}
    selector = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
    listed = client("GET", collection, scope, token=admin,
                    query={"labelSelector": selector, "fieldSelector": f"metadata.name={params['name']}"})
    expect(listed, (200,), "list by its labels and name")
    if listed.status_code == 200 and [o["metadata"]["name"] for o in listed.json()["items"]] != [params["name"]]:
        problems.append(f"{info.kind} {params}: the list by its own labels and name does not hold exactly it")
    if info.kind in SUBRESOURCES["status"]:
        expect(client("GET", f"{item}/status", params, token=admin), (200,), "read status")
    if info.kind in SUBRESOURCES["scale"]:
        scale = client("GET", f"{item}/scale", params, token=admin)
        expect(scale, (200,), "read scale")
        expect(client("PUT", f"{item}/scale", params, token=admin, body=scale.json()), (200,), "scale as read")
    expect(client("GET", item, params, token=tokens["team"]), (200, 403), "read with a team token")
    return problems


@pytest.mark.timeout(300)
def test_every_example_object_answered_as_the_document_says_and_accepted_back(api: RunningApi) -> None:
    tokens = {"admin": api.admin_token, "team": api.token("team", TEAM_NAMESPACE)}
    schema = schemathesis.openapi.from_url(f"{api.url}/openapi/v3")
    documents = _example_objects()
    assert documents, f"no example manifests under {EXAMPLES}"
    problems: list[str] = []
    with requests.Session() as session:
        client = _Client(schema, api, session)
        for doc in documents:
            try:
                problems += _round_trip(client, by_kind(doc["kind"]), doc, tokens)
            except FailureGroup as failure:
                problems.append(f"{doc['kind']} {doc['metadata']['name']}:\n{str(failure)[:1500]}")
    assert not problems, "\n\n".join(problems[:MAX_REPORTED])


@pytest.fixture
def up_with_sim(tmp_path: Path) -> Iterator[tuple[Up, str]]:
    """`laneway up` with its local cluster, running examples/local/sim.yaml's simulator."""
    instance = Up.start(tmp_path / "data")
    try:
        info = instance.wait_ready()
        cli = Cli(instance.data_dir)
        applied = cli("apply", "-f", str(EXAMPLES / "local" / "sim.yaml"))
        assert applied.exit_code == 0, applied.output
        yield instance, info["server"]
    finally:
        code = instance.stop()
        assert code == 0, instance.output
        assert instance.leftovers() == [], "processes left running after laneway up stopped"


def _statuses_filled(url: str, token: str) -> bool:
    """The simulator's endpoint is ready and its service has an address: every controller has written."""
    def items(kind: str) -> list[dict[str, Any]]:
        answer = requests.get(f"{url}{collection_path(by_kind(kind))}", headers={"Authorization": f"Bearer {token}"},
                              timeout=30)
        return list(answer.json()["items"])

    ready = any((e.get("status") or {}).get("ready") for e in items("ModelEndpoint"))
    return ready and any((s.get("status") or {}).get("address") for s in items("ModelService"))


@pytest.mark.timeout(300)
def test_laneway_up_answers_every_kind_and_status_as_the_document_says(up_with_sim: tuple[Up, str]) -> None:
    """What the controllers write (every status field of every kind they fill) is what the
    document declares, and a status read back is accepted as written."""
    up, url = up_with_sim
    admin = (up.data_dir / "admin.token").read_text().strip()
    deadline = time.monotonic() + STATUS_DEADLINE
    while not _statuses_filled(url, admin):
        assert time.monotonic() < deadline, f"the simulator's endpoint was not Ready in {STATUS_DEADLINE}s:\n{up.output}"
        time.sleep(0.5)
    team = requests.post(f"{url}/apis/laneway.dev/v1alpha1/tokens", json={"role": "team", "namespaces": ["local-demo"]},
                         headers={"Authorization": f"Bearer {admin}"}, timeout=30).json()["token"]
    api = RunningApi(url=url, store=None, admin_token=admin)  # type: ignore[arg-type]  # only url and token are used
    schema = schemathesis.openapi.from_url(f"{url}/openapi/v3")
    problems: list[str] = []
    filled: set[str] = set()
    with requests.Session() as session:
        client = _Client(schema, api, session)
        for info in KINDS:
            for role, token in (("admin", admin), ("team", team)):
                try:
                    listed = client("GET", collection_path(info), {}, token=token)
                except FailureGroup as failure:
                    problems.append(f"[{role}] list {info.plural}:\n{str(failure)[:1500]}")
                    continue
                if role == "team" or info.kind not in SUBRESOURCES["status"]:
                    continue
                for obj in listed.json()["items"]:
                    if set(obj.get("status") or {}) - {"conditions"} or (obj.get("status") or {}).get("conditions"):
                        filled.add(info.kind)
                    meta = obj["metadata"]
                    params = {"name": meta["name"], **({"namespace": meta["namespace"]} if info.namespaced else {})}
                    item = f"{collection_path(info, '{namespace}') if info.namespaced else collection_path(info)}/{{name}}"
                    try:
                        written = client("PUT", f"{item}/status", params, token=admin, body=obj)
                    except FailureGroup as failure:
                        problems.append(f"status of {info.kind} {params}:\n{str(failure)[:1500]}")
                        continue
                    if written.status_code not in (200, 409):  # 409: a controller wrote it in between
                        problems.append(f"status of {info.kind} {params} written back as read: {written.text[:300]}")
    assert not problems, "\n\n".join(problems[:MAX_REPORTED])
    assert filled >= {"InferenceCluster", "ModelDeployment", "ModelReplica", "ModelEndpoint", "ModelService"}, filled
