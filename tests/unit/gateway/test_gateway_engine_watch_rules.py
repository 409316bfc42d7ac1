"""What the gateway watches of the engines, and what a key's Secret may grant: the attacks.

- An external provider's endpoint (an upstream key, or https) is never scraped or subscribed
  to: its key goes nowhere but with a caller's request, and the gateway never probes it.
- A team cannot raise a key's priority or weight by copying it into a Secret of its own with
  grander annotations: a key held by several Secrets gets the lowest of them.
- Load readings parse vLLM's and llama.cpp's names; a line with no value is refused."""

from __future__ import annotations

import pytest

from laneway.api.kinds.secret import Secret
from laneway.api.kinds.serving import ModelEndpoint, ModelService
from laneway.api.labels import NAMESPACE_KEY_LABEL, PRIORITY_ANNOTATION, TENANT_ANNOTATION, WEIGHT_ANNOTATION
from laneway.api.meta import ObjectKey
from laneway.gateway.engine_watch import origin, watched
from laneway.gateway.keys import build_key_index, fingerprint
from laneway.gateway.load import MetricsError, parse_load
from laneway.gateway.table import build_table


def _endpoint(name: str, url: str, **spec: object) -> ModelEndpoint:
    """An endpoint of a replica laneway placed (a team-written URL goes through the egress policy)."""
    owner = {"apiVersion": "laneway.dev/v1alpha1", "kind": "ModelReplica", "name": "r", "uid": "u", "controller": True}
    return ModelEndpoint.model_validate({"metadata": {"name": name, "namespace": "ml", "labels": {"app": "m"},
                                                      "ownerReferences": [owner]},
                                         "spec": {"url": url, **spec}})


def _secret(name: str, namespace: str, data: dict[str, str], notes: dict[str, str], labels: dict[str, str] | None = None) -> Secret:
    return Secret.model_validate({"metadata": {"name": name, "namespace": namespace, "annotations": notes, "labels": labels or {}},
                                  "stringData": data})


def test_external_endpoints_are_never_watched_and_kv_events_only_for_a_policy_that_reads_them() -> None:
    table = build_table(
        services=[ModelService.model_validate({"metadata": {"name": "svc", "namespace": "ml"}, "spec": {
            "routing": {"policy": "KVAware"}, "endpoints": [{"selector": {"matchLabels": {"app": "m"}}}]}}),
            ModelService.model_validate({"metadata": {"name": "plain", "namespace": "ml"}, "spec": {
                "endpoints": [{"selector": {"matchLabels": {"app": "m"}}}]}})],
        endpoints=[_endpoint("engine", "http://127.0.0.1:8000/"),
                   _endpoint("provider", "https://api.example.com/v1"),
                   _endpoint("keyed", "http://127.0.0.1:8001", auth={"secretRef": {"name": "up", "key": "k"}})],
        secrets=[_secret("up", "ml", {"k": "sk-provider"}, {})],
    )
    got = {t.name: kv for t, kv in watched(table)}
    assert got == {"engine": True}
    (target,) = [t for t, _ in watched(table)]
    assert origin(target) == "http://127.0.0.1:8000"


def test_a_copied_key_gets_the_lowest_priority_and_weight_of_its_secrets() -> None:
    svc = ModelService.model_validate({"metadata": {"name": "svc", "namespace": "a"}, "spec": {
        "apiKeys": [{"name": "callers", "key": "k"}], "endpoints": [{"selector": {"matchLabels": {"app": "m"}}}]}})
    granted = _secret("callers", "a", {"k": "sk-shared"}, {PRIORITY_ANNOTATION: "Standard", WEIGHT_ANNOTATION: "2"})
    # Another namespace mints the same key in a Secret claiming Critical and a huge weight.
    forged = _secret("mine", "b", {"k": "sk-shared"}, {PRIORITY_ANNOTATION: "Critical", WEIGHT_ANNOTATION: "1000",
                                                       TENANT_ANNOTATION: "someone-else"}, {NAMESPACE_KEY_LABEL: "true"})
    index, problems = build_key_index([svc], {s.key: s for s in (granted, forged)})
    grant = index.grants[fingerprint("sk-shared")]
    assert grant.priority == "Standard" and grant.weight == 2.0 and grant.tenant is None
    assert not problems


def test_bad_fair_share_annotations_are_reported_and_defaulted() -> None:
    svc = ModelService.model_validate({"metadata": {"name": "svc", "namespace": "a"}, "spec": {
        "apiKeys": [{"name": "callers", "key": "k"}], "endpoints": [{"selector": {"matchLabels": {"app": "m"}}}]}})
    bad = _secret("callers", "a", {"k": "sk-x"}, {PRIORITY_ANNOTATION: "Urgent", WEIGHT_ANNOTATION: "0"})
    index, problems = build_key_index([svc], {bad.key: bad})
    grant = index.grants[fingerprint("sk-x")]
    assert grant.priority == "Standard" and grant.weight == 1.0
    (message,) = problems[ObjectKey("a", "svc")]
    assert "'Urgent' is not one of Critical, Standard, Sheddable" in message and "fair-share-weight" in message


def test_load_from_vllm_and_llamacpp_metrics() -> None:
    vllm = parse_load(
        '# HELP vllm:num_requests_waiting x\nvllm:num_requests_waiting{model_name="a"} 3.0\n'
        'vllm:num_requests_waiting{model_name="b"} 2.0\nvllm:num_requests_running{model_name="a"} 7.0\n'
        'vllm:kv_cache_usage_perc{model_name="a"} 0.5\nvllm:kv_cache_usage_perc{model_name="b"} 0.75\n', observed_at=1.0)
    assert (vllm.waiting, vllm.running, vllm.kv_cache_usage) == (5, 7, 0.75)
    older = parse_load("vllm:gpu_cache_usage_perc 0.25\n", observed_at=1.0)
    assert older.kv_cache_usage == 0.25 and older.waiting is None
    llama = parse_load("llamacpp:requests_processing 2\nllamacpp:requests_deferred 1\n", observed_at=1.0)
    assert (llama.waiting, llama.running, llama.kv_cache_usage) == (1, 2, None)
    with pytest.raises(MetricsError, match="no numeric value"):
        parse_load("vllm:num_requests_waiting{model_name=\"a\"} lots\n", observed_at=1.0)
