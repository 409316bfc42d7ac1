"""The data boundary holds against labels a team writes (issue #21, finding 2), end to end.

The team writes its endpoints and service through the real API with a team token; the
platform writes the InferenceGateway that vouches for providers with an admin token; requests
go through the real gateway to sink servers on 127.0.0.1. A team that labels a US provider
`laneway.dev/jurisdiction: eu` gets no request through to it, whether the platform vouches for
that host as `us` or not at all; the same endpoint written by the platform lane, or a team's
endpoint at a host the platform vouches for as `eu`, is routed (so the test can fail).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
from click.testing import CliRunner
from gateway_harness import NS, Fleet
from server_harness import RunningApi

from laneway.api.kinds.serving import ModelEndpoint
from laneway.api.labels import WRITTEN_BY_ANNOTATION
from laneway.cli.main import main
from laneway.testing.fleet import LOOPBACK_EGRESS

GV = "laneway.dev/v1alpha1"
BODY = {"model": "svc", "messages": [{"role": "user", "content": "hi"}]}
EU = {"laneway.dev/jurisdiction": "eu"}


def _endpoint(name: str, url: str, labels: dict[str, str], **meta: Any) -> dict[str, Any]:
    return {"apiVersion": GV, "kind": "ModelEndpoint",
            "metadata": {"name": name, "namespace": NS, "labels": {"app": "m", **labels}, **meta}, "spec": {"url": url}}


def _service(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": GV, "kind": "ModelService", "metadata": {"name": "svc", "namespace": NS},
        "spec": {"modelNames": ["svc"], "endpoints": [{"tier": "Overflow", "selector": {"matchLabels": {"app": "m"}}}],
                 "dataBoundary": {"matchLabels": EU}, **spec},
    }


def _vouch(admin: httpx.Client, providers: list[dict[str, Any]]) -> None:
    doc = {"apiVersion": GV, "kind": "InferenceGateway", "metadata": {"name": "ticket-rules"},
           "spec": {"egress": LOOPBACK_EGRESS, "tickets": {"providers": providers}}}
    r = admin.post("/apis/laneway.dev/v1alpha1/inferencegateways", json=doc)
    assert r.status_code == 201, r.text


def _post(client: httpx.Client, plural: str, doc: dict[str, Any]) -> httpx.Response:
    return client.post(f"/apis/laneway.dev/v1alpha1/namespaces/{NS}/{plural}", json=doc)


def _excluded(fleet: Fleet) -> dict[str, str]:
    return {e["name"]: e["reason"] for e in fleet.status("svc")["excluded"]}


def _call(fleet: Fleet) -> httpx.Response:
    return httpx.post(f"{fleet.address}/{NS}/svc/v1/chat/completions", json=BODY, timeout=30)


def test_a_team_relabelling_a_us_provider_eu_gets_no_request_to_it(fleet: Fleet, api: RunningApi) -> None:
    us_sink, eu_sink = fleet.upstream("us-sink"), fleet.upstream("eu-sink")
    with api.client(api.admin_token) as admin, api.client(api.token("team", NS)) as team:
        _vouch(admin, [
            {"name": "us-provider", "url": us_sink.url, "labels": {"laneway.dev/jurisdiction": "us"}},
            {"name": "eu-provider", "url": eu_sink.url, "labels": EU},
        ])
        # The attack: the team's endpoint at the US provider, labelled eu, under an EU-only rule.
        r = _post(team, "modelendpoints", _endpoint("relabelled", us_sink.url, EU))
        assert r.status_code == 201, r.text
        assert r.json()["metadata"]["annotations"][WRITTEN_BY_ANNOTATION] == "team"
        assert _post(team, "modelservices", _service()).status_code == 201
        fleet.sync()
        for _ in range(5):
            assert _call(fleet).status_code == 503
        assert us_sink.received == []
        reason = _excluded(fleet)["relabelled"]
        assert "vouches for 127.0.0.1 as provider us-provider" in reason
        assert "laneway.dev/jurisdiction=eu" in reason

        # A team endpoint at the host the platform vouches for as eu is inside: the provider's
        # labels count, whatever the team wrote (here nothing).
        assert _post(team, "modelendpoints", _endpoint("vouched", eu_sink.url, {})).status_code == 201
        fleet.sync()
        first = _call(fleet)
        assert first.status_code == 200, first.text
        assert {_call(fleet).status_code for _ in range(4)} == {200}
        assert len(eu_sink.received) == 5 and us_sink.received == []


def test_a_team_endpoint_at_an_unvouched_host_is_of_unknown_jurisdiction(fleet: Fleet, api: RunningApi) -> None:
    sink = fleet.upstream("sink")
    with api.client(api.admin_token) as admin, api.client(api.token("team", NS)) as team:
        r = _post(team, "modelendpoints", _endpoint("together", sink.url, EU))
        assert r.status_code == 201, r.text
        # NotIn would pass on labels the endpoint lacks: an unknown place fails it all the same.
        service = _service()
        service["spec"]["dataBoundary"] = {"matchExpressions": [{"key": "laneway.dev/jurisdiction", "operator": "NotIn", "values": ["us"]}]}
        assert _post(team, "modelservices", service).status_code == 201
        fleet.sync()
        assert _call(fleet).status_code == 503
        assert sink.received == []
        assert "written by the team lane, at no host the platform vouches for" in _excluded(fleet)["together"]

        # The stamp cannot be forged: a team may not write written-by or boundary-labels.
        for forged in ({WRITTEN_BY_ANNOTATION: "platform"}, {"laneway.dev/boundary-labels": "laneway.dev/jurisdiction"}):
            r = _post(team, "modelendpoints", _endpoint("forged", sink.url, EU, annotations=forged))
            assert r.status_code == 422, r.text
        merge = {"Content-Type": "application/merge-patch+json"}
        r = team.patch(f"/apis/laneway.dev/v1alpha1/namespaces/{NS}/modelendpoints/together",
                       json={"metadata": {"annotations": {WRITTEN_BY_ANNOTATION: "ticket"}}}, headers=merge)
        assert r.status_code == 422, r.text
        fleet.sync()
        assert _call(fleet).status_code == 503 and sink.received == []

        # The same endpoint written by the platform lane (an admin token) is the platform's word.
        platform_written = _endpoint("together", sink.url, EU)
        r = admin.put(f"/apis/laneway.dev/v1alpha1/namespaces/{NS}/modelendpoints/together", json=platform_written)
        assert r.status_code == 200, r.text
        assert r.json()["metadata"]["annotations"][WRITTEN_BY_ANNOTATION] == "platform"
        fleet.sync()
        assert _call(fleet).status_code == 200 and len(sink.received) == 1

        # A team rewrite of it takes the claim back: the stamp is the team's again, the request is not sent.
        r = team.patch(f"/apis/laneway.dev/v1alpha1/namespaces/{NS}/modelendpoints/together",
                       json={"metadata": {"labels": {"note": "touched"}}}, headers=merge)
        assert r.status_code == 200, r.text
        assert r.json()["metadata"]["annotations"][WRITTEN_BY_ANNOTATION] == "team"
        fleet.sync()
        assert _call(fleet).status_code == 503 and len(sink.received) == 1


def _audit(api: RunningApi, data_dir: Path, *args: str) -> str:
    """`laneway audit` against the test's API server, as an operator with an admin token runs it."""
    env = {"LANEWAY_DATA_DIR": str(data_dir), "LANEWAY_CONFIG": str(data_dir / "config"), "LANEWAY_TOKEN": api.admin_token,
           "LANEWAY_SERVER": None}
    result = CliRunner().invoke(main, ["audit", "--server", api.url, *args], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_an_endpoint_written_before_the_stamp_is_named_by_the_gateway_and_audit_until_the_platform_vouches(
    fleet: Fleet, api: RunningApi, tmp_path: Path,
) -> None:
    """The upgrade path: an external endpoint in the store from before `laneway.dev/written-by`
    existed is taken as the team's, so an EU boundary excludes it; the operator sees which and
    why (the service's status, `laneway audit`), and vouching for its host brings it back."""
    sink = fleet.upstream("sink")
    fleet.store.create(ModelEndpoint.model_validate(_endpoint("legacy", sink.url, EU)))  # as the old store holds it
    with api.client(api.admin_token) as admin, api.client(api.token("team", NS)) as team:
        assert _post(team, "modelservices", _service()).status_code == 201
        fleet.sync()
        assert _call(fleet).status_code == 503 and sink.received == []
        port = sink.url.rsplit(":", 1)[1].split("/")[0]
        reason = _excluded(fleet)["legacy"]
        assert "no laneway.dev/written-by: written before laneway recorded who writes an endpoint" in reason
        assert f"the platform vouches for 127.0.0.1:{port} by listing its provider" in reason

        table = _audit(api, tmp_path)
        assert "1 endpoint(s) outside every data boundary" in table
        line = next(line for line in table.splitlines() if "legacy" in line)
        assert line.split()[:4] == [NS, "legacy", "<none>", "svc"], line
        assert f"127.0.0.1:{port}" in line and "spec.tickets.providers" in line
        (listed,) = json.loads(_audit(api, tmp_path, "-o", "json"))["endpoints"]
        assert (listed["name"], listed["writtenBy"], listed["excludedBy"]) == ("legacy", None, ["svc"])

        # The fix: the platform vouches for the provider at that host, as in the EU.
        _vouch(admin, [{"name": "legacy-provider", "url": sink.url, "labels": EU}])
        fleet.sync()
        assert _call(fleet).status_code == 200 and len(sink.received) == 1
        assert "legacy" not in _excluded(fleet)
        assert "outside every data boundary" not in _audit(api, tmp_path)
