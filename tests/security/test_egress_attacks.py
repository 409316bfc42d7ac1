"""Issue 11, attacks 5, 7 and 8 (and the logged query strings of 10), replayed as a team-token
holder against a real `laneway up` on loopback. Each test names its attack and checks that the
side effect did not happen: a sink on 127.0.0.1 received no request (or no credential), a host
file was not copied and its status says nothing about it, the host's ambient AWS and Hugging
Face credentials were never sent.

The host holds fake ambient credentials (AWS_* and HF_TOKEN in `laneway up`'s environment)
and its Hugging Face mirror (HF_ENDPOINT) is a sink, so a leak would be seen. The platform
lane publishes one Local cluster whose only cache root is a temporary `models` directory, and
sets the gateway's egress policy per test (default, or loopback opened on purpose).
"""

from __future__ import annotations

import json
import os
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from lane_fleet import TEAM_NAMESPACE as NS
from lane_fleet import LaneFleet, eventually
from sink_server import Sink

from laneway.api.kinds.cache import ModelCache
from laneway.api.kinds.secret import Secret
from laneway.api.kinds.serving import ModelEndpoint
from laneway.client import ApiError

AMBIENT_AWS_KEY = "AKIAAMBIENTFAKE00001"
AMBIENT_AWS_SECRET = "ambient-secret-access-key-do-not-send"
AMBIENT_AWS_SESSION = "ambient-session-token-do-not-send"
AMBIENT_HF_TOKEN = "hf_ambientFakeTokenDoNotSend"
PROVIDER_KEY = "sk-platform-provider-key-0001"
LOOPBACK = {"allow": [{"cidr": "127.0.0.0/8"}]}


@pytest.fixture(scope="module")
def hub() -> Iterator[Sink]:
    with Sink() as sink:
        sink.state.status = 404
        sink.state.body = b'{"error": "Repository not found"}'
        yield sink


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory, hub: Sink) -> Iterator[tuple[LaneFleet, Path]]:
    base = tmp_path_factory.mktemp("egress")
    models = base / "models"
    models.mkdir()
    env = {
        "AWS_ACCESS_KEY_ID": AMBIENT_AWS_KEY,
        "AWS_SECRET_ACCESS_KEY": AMBIENT_AWS_SECRET,
        "AWS_SESSION_TOKEN": AMBIENT_AWS_SESSION,
        "HF_TOKEN": AMBIENT_HF_TOKEN,
        "HUGGING_FACE_HUB_TOKEN": AMBIENT_HF_TOKEN,
        "HF_ENDPOINT": hub.url,
    }
    lanes = LaneFleet.start(base / "data", env=env)
    try:
        lanes.apply(lanes.platform, textwrap.dedent(f"""\
            apiVersion: laneway.dev/v1alpha1
            kind: InferenceClass
            metadata: {{name: sec-cpu}}
            spec:
              devices:
              - {{name: cpu, claim: Synthetic, driver: cpu.laneway.dev, count: 4}}
            ---
            apiVersion: laneway.dev/v1alpha1
            kind: InferenceCluster
            metadata:
              name: sec-local
              labels: {{sec: "yes"}}
            spec:
              cluster:
                source: Local
                local:
                  cacheRoots: ["{models}"]
              nodePools:
              - {{name: cpu, className: sec-cpu, nodeCount: 1, accounting: Device}}
            ---
            apiVersion: laneway.dev/v1alpha1
            kind: InferenceGateway
            metadata: {{name: front-door}}
            spec: {{}}
            """))
        yield lanes, models
    finally:
        lanes.stop()


def _egress(lanes: LaneFleet, egress: dict[str, Any]) -> None:
    """The platform sets the gateway's egress policy (the door a test needs, or none)."""
    gw = lanes.platform.get("InferenceGateway", "front-door")
    lanes.platform.update(gw.model_copy(update={"spec": gw.spec.model_copy(update={"egress": type(gw.spec.egress).model_validate(egress)})}))


def _cache(lanes: LaneFleet, name: str, source: dict[str, Any]) -> None:
    lanes.team.apply(ModelCache.model_validate(
        {"metadata": {"name": name, "namespace": NS}, "spec": {**source, "clusterSelector": {"matchLabels": {"sec": "yes"}}, "stageAhead": True}}
    ))


def _settled(lanes: LaneFleet, name: str, *, timeout: float = 60.0) -> dict[str, Any]:
    """The cache's entry for sec-local once it is Ready or Failed (read with the team's token)."""

    def probe() -> dict[str, Any] | None:
        cache = lanes.team.get("ModelCache", name, namespace=NS)
        entries = [c for c in cache.wire().get("status", {}).get("clusters", []) if c["cluster"] == "sec-local"]
        return entries[0] if entries and entries[0]["state"] in ("Ready", "Failed") else None

    return eventually(f"ModelCache {name} to settle", probe, timeout=timeout)


def _ready_condition(lanes: LaneFleet, name: str) -> dict[str, Any]:
    cache = lanes.team.get("ModelCache", name, namespace=NS)
    return next(c for c in cache.wire()["status"]["conditions"] if c["type"] == "Ready")


def _staged(lanes: LaneFleet, name: str) -> Path:
    return lanes.up.data_dir / "cache" / "sec-local" / NS / name


def _service(lanes: LaneFleet, name: str, endpoint: str) -> None:
    lanes.apply(lanes.team, textwrap.dedent(f"""\
        apiVersion: laneway.dev/v1alpha1
        kind: ModelService
        metadata: {{name: {name}, namespace: {NS}}}
        spec:
          endpoints:
          - selector: {{matchLabels: {{sec-endpoint: {endpoint}}}}}
        """))


def _endpoint(lanes: LaneFleet, name: str, url: str, *, secret: str | None = None) -> None:
    spec: dict[str, Any] = {"url": url}
    if secret:
        spec["auth"] = {"secretRef": {"name": secret, "key": "apiKey"}}
    lanes.team.apply(ModelEndpoint.model_validate({"metadata": {"name": name, "namespace": NS, "labels": {"sec-endpoint": name}}, "spec": spec}))


def _excluded(lanes: LaneFleet, service: str, endpoint: str) -> str:
    def probe() -> str | None:
        status = lanes.team.get("ModelService", service, namespace=NS).wire().get("status", {})
        return next((e["reason"] for e in status.get("excluded", []) if e["name"] == endpoint), None)

    return eventually(f"service {service} to report {endpoint} excluded", probe, timeout=30)


def _call(lanes: LaneFleet, service: str) -> httpx.Response:
    return httpx.post(f"{lanes.gateway}/{NS}/{service}/v1/chat/completions",
                      json={"model": service, "messages": [{"role": "user", "content": "hi"}]}, timeout=30)


# --- attack 8: requests to loopback and metadata addresses ------------------------------------


def test_attack_8_external_endpoint_on_loopback_is_refused_and_the_sink_hears_nothing(fleet: tuple[LaneFleet, Path]) -> None:
    lanes, _ = fleet
    _egress(lanes, {})
    with Sink() as sink:
        _endpoint(lanes, "lo-literal", f"{sink.url}/v1")
        _service(lanes, "lo-literal", "lo-literal")
        reason = _excluded(lanes, "lo-literal", "lo-literal")
        assert reason.startswith("EgressRefused") and "loopback" in reason and "allow rule" in reason
        assert _call(lanes, "lo-literal").status_code == 503
        # Names and odd spellings of 127.0.0.1 are judged on the address they resolve to, at connect time.
        for name, url in (("lo-name", f"http://localhost:{sink.port}/v1"), ("lo-decimal", f"http://2130706433:{sink.port}/v1")):
            _endpoint(lanes, name, url)
            _service(lanes, name, name)
            answer = eventually(f"{name} to be routed and refused", lambda name=name: (lambda r: r if r.status_code >= 500 else None)(_call(lanes, name)))
            assert answer.status_code in (502, 503)
        assert sink.received == [], "nothing reached the loopback sink"


def test_attack_8_metadata_address_is_refused_before_any_connection(fleet: tuple[LaneFleet, Path]) -> None:
    lanes, _ = fleet
    _egress(lanes, {})
    for name, url in (("meta-v4", "http://169.254.169.254/latest/meta-data"), ("meta-mapped", "http://[::ffff:169.254.169.254]/latest")):
        _endpoint(lanes, name, url)
        _service(lanes, name, name)
        reason = _excluded(lanes, name, name)
        assert reason.startswith("EgressRefused") and "link-local" in reason


def test_attack_8_http_cache_cannot_fetch_the_control_plane_or_probe_ports(fleet: tuple[LaneFleet, Path]) -> None:
    lanes, _ = fleet
    _egress(lanes, {})
    with Sink() as sink:
        _cache(lanes, "api-probe", {"source": "HTTP", "http": {"url": f"{lanes.api}/openapi/v3"}})
        _cache(lanes, "sink-probe", {"source": "HTTP", "http": {"url": f"http://localhost:{sink.port}/model.gguf"}})
        for name in ("api-probe", "sink-probe"):
            entry = _settled(lanes, name)
            assert entry["state"] == "Failed" and entry["message"].startswith("EgressRefused")
            assert "answered" not in entry["message"], "no port is probed: nothing was connected to"
            assert _ready_condition(lanes, name)["reason"] == "EgressRefused"
            assert not _staged(lanes, name).exists()
        assert sink.received == []


def test_attack_8_s3_without_a_secret_never_signs_with_the_hosts_aws_credentials(fleet: tuple[LaneFleet, Path]) -> None:
    """The platform opens loopback so the request does go out; it must go unsigned."""
    lanes, _ = fleet
    _egress(lanes, LOOPBACK)
    with Sink() as sink:
        sink.state.status = 403
        sink.state.body = b"<Error><Code>AccessDenied</Code></Error>"
        sink.state.content_type = "application/xml"
        _cache(lanes, "s3-ambient", {"source": "S3", "s3": {"uri": "s3://team-bucket/model/", "endpoint": sink.url, "region": "us-east-1"}})
        entry = _settled(lanes, "s3-ambient")
        assert entry["state"] == "Failed"
        assert sink.received, "the control: the unsigned request did reach the team's endpoint"
        for request in sink.received:
            assert "Authorization" not in request.headers and "authorization" not in request.headers
            for secret in (AMBIENT_AWS_KEY, AMBIENT_AWS_SECRET, AMBIENT_AWS_SESSION):
                assert not request.carries(secret)


def test_attack_8_hugging_face_without_a_secret_never_sends_the_hosts_token(fleet: tuple[LaneFleet, Path], hub: Sink) -> None:
    lanes, _ = fleet
    _egress(lanes, LOOPBACK)
    before = len(hub.received)
    _cache(lanes, "hf-ambient", {"source": "HuggingFace", "huggingFace": {"repo": "team/model", "revision": "main"}})
    entry = _settled(lanes, "hf-ambient")
    assert entry["state"] == "Failed"
    sent = hub.received[before:]
    assert sent, "the control: the listing did reach the platform's mirror"
    assert not any(r.carries(AMBIENT_HF_TOKEN) or "Authorization" in r.headers for r in sent)


# --- attack 5: write-only Secrets sent where the team says --------------------------------------


def _platform_secret(lanes: LaneFleet, name: str, destinations: str) -> None:
    """The platform lane places a provider key in the team's namespace (an admin token writes it)."""
    lanes.admin.apply(Secret.model_validate({
        "metadata": {"name": name, "namespace": NS, "annotations": {"laneway.dev/destinations": destinations}},
        "stringData": {"apiKey": PROVIDER_KEY},
    }))


def test_attack_5_platform_key_is_not_sent_to_a_team_chosen_endpoint(fleet: tuple[LaneFleet, Path]) -> None:
    lanes, _ = fleet
    _egress(lanes, LOOPBACK)  # egress would allow it: only the key's destinations stop it
    with Sink() as thief, Sink() as provider:
        _platform_secret(lanes, "provider-key", "api.provider.example")
        _endpoint(lanes, "steal", f"{thief.url}/v1", secret="provider-key")
        _service(lanes, "steal", "steal")
        reason = _excluded(lanes, "steal", "steal")
        assert reason.startswith("CredentialRefused") and "api.provider.example" in reason and PROVIDER_KEY not in reason
        assert _call(lanes, "steal").status_code == 503

        # The control: a key whose destinations name the endpoint's host is sent there.
        _platform_secret(lanes, "provider-key-ok", f"127.0.0.1:{provider.port}")
        _endpoint(lanes, "provider", f"{provider.url}/v1", secret="provider-key-ok")
        _service(lanes, "provider", "provider")
        eventually("the provider to be called", lambda: _call(lanes, "provider").status_code == 200, timeout=30)
        assert any(r.headers.get("Authorization") == f"Bearer {PROVIDER_KEY}" for r in provider.received)
        assert not any(r.carries(PROVIDER_KEY) for r in thief.received), "the thief's sink never saw the key"


def test_attack_5_platform_key_is_not_sent_by_an_http_cache(fleet: tuple[LaneFleet, Path]) -> None:
    lanes, _ = fleet
    _egress(lanes, LOOPBACK)
    with Sink() as thief:
        _platform_secret(lanes, "hub-key", "models.provider.example")
        _cache(lanes, "steal-cache", {"source": "HTTP", "http": {"url": f"{thief.url}/model.gguf", "authSecret": {"name": "hub-key", "key": "apiKey"}}})
        entry = _settled(lanes, "steal-cache")
        assert entry["state"] == "Failed" and entry["message"].startswith("EgressRefused") and "hub-key" in entry["message"]
        assert thief.received == []


def test_attack_5_the_team_cannot_rewrite_or_forge_who_wrote_a_secret(fleet: tuple[LaneFleet, Path]) -> None:
    lanes, _ = fleet
    _platform_secret(lanes, "locked-key", "api.provider.example")
    stored = lanes.team.get("Secret", "locked-key", namespace=NS)
    assert stored.metadata.annotations["laneway.dev/written-by"] == "platform"
    widened = stored.model_copy(update={"metadata": stored.metadata.model_copy(
        update={"annotations": {**stored.metadata.annotations, "laneway.dev/destinations": "127.0.0.1"}})})
    with pytest.raises(ApiError) as refused:
        lanes.team.update(widened)
    assert refused.value.code == 403 and "platform lane" in str(refused.value)
    assert lanes.admin.get("Secret", "locked-key", namespace=NS).metadata.annotations["laneway.dev/destinations"] == "api.provider.example"

    # A team Secret that claims to be the platform's is recorded as the team's (or refused outright).
    forged = Secret.model_validate({
        "metadata": {"name": "forged", "namespace": NS, "annotations": {"laneway.dev/written-by": "platform"}},
        "stringData": {"apiKey": "team-own"},
    })
    try:
        lanes.team.apply(forged)
    except ApiError as exc:
        assert exc.code in (403, 422)
    else:
        assert lanes.team.get("Secret", "forged", namespace=NS).metadata.annotations["laneway.dev/written-by"] == "team"


# --- attack 7: host files through Local caches --------------------------------------------------


def test_attack_7_local_cache_of_host_files_is_refused_and_reveals_nothing(fleet: tuple[LaneFleet, Path]) -> None:
    lanes, models = fleet
    admin_token = lanes.up.data_dir / "admin.token"
    (models / "innocent.gguf").symlink_to(admin_token)
    (models / "bundle").mkdir()
    (models / "bundle" / "config.json").write_text("{}")
    (models / "bundle" / "weights.gguf").symlink_to("/etc/hostname")
    attempts = {
        "etc-hostname": "/etc/hostname",
        "admin-token": str(admin_token),
        "no-such-path": "/etc/laneway-no-such-file",
        "symlink-out": str(models / "innocent.gguf"),
        "dotdot-out": f"{models}/../data/admin.token",
        "dir-with-link-out": str(models / "bundle"),
    }
    for name, path in attempts.items():
        _cache(lanes, name, {"source": "Local", "local": {"path": path}})
    messages = {}
    for name, path in attempts.items():
        entry = _settled(lanes, name)
        assert entry["state"] == "Failed" and entry["message"].startswith("OutsideCacheRoots"), (name, entry)
        assert entry.get("bytes") is None
        assert "cacheRoots" in entry["message"] and str(models) in entry["message"]
        assert "exist" not in entry["message"] and "bytes" not in entry["message"] and "size" not in entry["message"]
        assert not _staged(lanes, name).exists(), f"{name}: nothing was copied"
        messages[name] = entry["message"].replace(path, "<path>")
    # An existing file and a missing one read the same: the status is no oracle for the host.
    assert messages["etc-hostname"] == messages["no-such-path"]
    token = admin_token.read_text().strip()
    for name in attempts:
        assert token not in json.dumps(lanes.team.get("ModelCache", name, namespace=NS).wire())


def test_local_cache_under_an_allowed_root_is_staged(fleet: tuple[LaneFleet, Path]) -> None:
    """The control for attack 7: the door the platform opened works."""
    lanes, models = fleet
    (models / "real").mkdir(exist_ok=True)
    (models / "real" / "model.gguf").write_bytes(b"GGUF" + os.urandom(1000))
    _cache(lanes, "allowed-local", {"source": "Local", "local": {"path": str(models / "real")}})
    entry = _settled(lanes, "allowed-local")
    assert entry["state"] == "Ready" and entry["bytes"] == 1004
    assert (_staged(lanes, "allowed-local") / "model.gguf").read_bytes() == (models / "real" / "model.gguf").read_bytes()


# --- attack 10 (smaller): cache download URLs logged whole ---------------------------------------


def test_attack_10_cache_urls_are_logged_and_shown_without_their_query_string(fleet: tuple[LaneFleet, Path]) -> None:
    lanes, _ = fleet
    _egress(lanes, LOOPBACK)
    signature = "X-Amz-Signature=sig0123456789secret"
    with Sink() as bucket:
        bucket.state.status = 404
        bucket.state.body = b""
        _cache(lanes, "signed-url", {"source": "HTTP", "http": {"url": f"{bucket.url}/weights/model.gguf?{signature}&X-Amz-Credential=AKIASIGNED"}})
        entry = _settled(lanes, "signed-url")
        assert entry["state"] == "Failed" and "404" in entry["message"]
        assert bucket.received and signature in bucket.received[0].path, "the control: the download used the whole URL"
    assert "sig0123456789secret" not in entry["message"] and "AKIASIGNED" not in entry["message"]
    log = eventually("the failure to be logged", lambda: (lambda text: text if "signed-url" in text or "model.gguf" in text else None)(lanes.up.output), timeout=15)
    assert "sig0123456789secret" not in log and "AKIASIGNED" not in log
