"""Model-name ownership on /v1 and which namespaces a key reaches (attacks 3 and 9 of #11)."""

from __future__ import annotations

from typing import Any

import pytest

from laneway.api.kinds.secret import Secret
from laneway.api.kinds.serving import ModelEndpoint, ModelService
from laneway.api.meta import ObjectKey
from laneway.gateway.errors import GatewayError
from laneway.gateway.keys import ANONYMOUS, NAMESPACE_KEY_LABEL
from laneway.gateway.ownership import conflict_message, resolve_ownership
from laneway.gateway.routing import resolve_model, route_prefixed, visible_models
from laneway.gateway.table import RETIRED_ANNOTATION, RoutingTable, build_table

ALL = {"selector": {"matchLabels": {"app": "m"}}}


def svc(ns: str, name: str, created: str, uid: str = "u", annotations: dict[str, str] | None = None, **spec: Any) -> ModelService:
    return ModelService.model_validate({
        "metadata": {"name": name, "namespace": ns, "creationTimestamp": created, "uid": uid, "annotations": annotations or {}},
        "spec": {"endpoints": [ALL], **spec},
    })


def ep(ns: str, name: str) -> ModelEndpoint:
    return ModelEndpoint.model_validate({"metadata": {"name": name, "namespace": ns, "labels": {"app": "m"}}, "spec": {"url": f"http://{name}:80"}})


def secret(ns: str, name: str, data: dict[str, str], *, namespace_keys: bool = False) -> Secret:
    labels = {NAMESPACE_KEY_LABEL: "true"} if namespace_keys else {}
    return Secret.model_validate({"metadata": {"name": name, "namespace": ns, "labels": labels}, "stringData": data})


def table(services: list[ModelService], secrets: list[Secret] = ()) -> RoutingTable:  # type: ignore[assignment]
    namespaces = {s.namespace for s in services}
    return build_table(services=services, endpoints=[ep(ns, "e") for ns in namespaces], secrets=list(secrets))


RESEARCH = svc("research", "chat", "2026-01-01T00:00:00Z", modelNames=["gpt-prod"], apiKeys=[{"name": "keys", "key": "k"}])
HIJACK = svc("ml-team", "hijack", "2026-01-02T00:00:00Z", modelNames=["gpt-prod"])
KEYS = [secret("research", "keys", {"k": "research-key"})]
ML_KEYS = [secret("ml-team", "mine", {"a": "ml-key-1", "b": "ml-key-2"}, namespace_keys=True)]


def test_first_claim_owns_a_name_and_later_claims_conflict() -> None:
    owned = resolve_ownership([HIJACK, RESEARCH])
    assert owned.owners["gpt-prod"] == "research"
    assert owned.routed["gpt-prod"] == (RESEARCH.key,)
    assert owned.conflicts == {HIJACK.key: ("gpt-prod",)}
    assert owned.losers["gpt-prod"] == frozenset({"ml-team"})


def test_creation_ties_are_broken_by_uid_and_a_namespace_shares_its_name() -> None:
    a = svc("a", "x", "2026-01-01T00:00:00Z", uid="2", modelNames=["m"])
    b = svc("b", "y", "2026-01-01T00:00:00Z", uid="1", modelNames=["m"])
    b2 = svc("b", "z", "2026-03-01T00:00:00Z", uid="0", modelNames=["m"])
    owned = resolve_ownership([a, b, b2])
    assert owned.owners["m"] == "b" and owned.routed["m"] == (b.key, b2.key)
    assert owned.conflicts == {a.key: ("m",)}


def test_research_callers_never_reach_the_later_keyless_claim() -> None:
    t = table([RESEARCH, HIJACK], KEYS)
    research = t.keys.identify("research-key")
    assert resolve_model(t, "gpt-prod", "/v1/chat/completions", research).route.key == RESEARCH.key
    with pytest.raises(GatewayError) as err:
        resolve_model(t, "gpt-prod", "/v1/chat/completions", None)  # the keyless one does not shadow it
    assert err.value.status == 401
    assert "research" not in err.value.message and "'gpt-prod'" in err.value.message
    assert t.services[HIJACK.key].name_conflicts == ("gpt-prod",)


def test_a_key_never_follows_its_name_into_another_namespace() -> None:
    squatter = svc("ml-team", "squat", "2025-12-01T00:00:00Z", modelNames=["gpt-prod"])  # claimed first
    t = table([RESEARCH, squatter], KEYS)
    with pytest.raises(GatewayError) as err:
        resolve_model(t, "gpt-prod", "/v1/chat/completions", t.keys.identify("research-key"))
    assert err.value.status == 409 and err.value.code == "model_name_conflict"
    assert "ml-team" not in err.value.message
    # A caller with no key (or a key of no namespace that publishes it) reaches the owner.
    assert resolve_model(t, "gpt-prod", "/v1/x", None).route.key == squatter.key
    assert t.services[RESEARCH.key].name_conflicts == ("gpt-prod",)


def test_within_a_namespace_a_granted_service_comes_before_an_open_one() -> None:
    open_ = svc("research", "a-open", "2025-01-01T00:00:00Z", modelNames=["gpt-prod"])
    t = table([RESEARCH, open_], KEYS)
    assert resolve_model(t, "gpt-prod", "/v1/x", t.keys.identify("research-key")).route.key == RESEARCH.key
    assert resolve_model(t, "gpt-prod", "/v1/x", None).route.key == open_.key


def test_a_live_service_is_preferred_to_a_retired_one() -> None:
    old = svc("research", "old", "2025-01-01T00:00:00Z", annotations={RETIRED_ANNOTATION: "gone"}, modelNames=["m"])
    new = svc("research", "new", "2026-01-01T00:00:00Z", modelNames=["m"])
    t = table([old, new])
    assert resolve_model(t, "m", "/v1/x", None).route.key == new.key
    assert [n for n, _ in visible_models(t, None)] == ["m", "new"]


def test_a_key_from_another_namespace_counts_as_no_key_on_an_open_service() -> None:
    open_research = svc("research", "open", "2026-01-01T00:00:00Z", rateLimit={"requestsPerMinute": 1})
    t = table([open_research], KEYS + ML_KEYS)
    for key in ("ml-key-1", "ml-key-2", "not-a-key"):
        assert route_prefixed(t, "/research/open/v1/x", t.keys.identify(key)).key_id == ANONYMOUS


def test_models_list_shows_what_the_caller_may_call() -> None:
    public = svc("shared", "embed", "2026-01-05T00:00:00Z")
    t = table([RESEARCH, HIJACK, public], KEYS)
    assert visible_models(t, None) == [("embed", public.key), ("hijack", HIJACK.key)]
    assert visible_models(t, t.keys.identify("research-key")) == [
        ("chat", RESEARCH.key), ("embed", public.key), ("gpt-prod", RESEARCH.key), ("hijack", HIJACK.key)
    ]


def test_the_conflict_message_says_what_to_change_and_names_no_other_namespace() -> None:
    msg = conflict_message(ObjectKey("ml-team", "hijack"), ["gpt-prod"])
    assert "'gpt-prod'" in msg and "spec.modelNames" in msg and "/ml-team/hijack/v1/" in msg
    assert "research" not in msg
