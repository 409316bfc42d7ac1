"""The egress decision, pure: which addresses are refused by default, how allow and deny rules
open and close doors, and that odd spellings and IPv6 wrappings of an internal address are
judged as the address they reach."""

from __future__ import annotations

import ipaddress

import pytest

from laneway.api.kinds.platform import GatewayEgress, InferenceGateway
from laneway.egress.policy import EgressPolicy, EgressRefused, address_kind

DEFAULT = EgressPolicy()


def _policy(**egress: object) -> EgressPolicy:
    return EgressPolicy.from_specs([("front-door", GatewayEgress.model_validate(egress))])


def _decide(policy: EgressPolicy, address: str, *, host: str | None = None, port: int = 443) -> bool:
    return policy.decide(host or address, port, ipaddress.ip_address(address)).allowed


@pytest.mark.parametrize(
    "address,kind",
    [
        ("127.0.0.1", "loopback"),
        ("127.255.0.9", "loopback"),
        ("::1", "loopback"),
        ("169.254.169.254", "link-local"),  # the cloud metadata address
        ("fe80::1", "link-local"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("172.31.255.254", "private"),
        ("192.168.1.1", "private"),
        ("fc00::1", "private"),
        ("fd00:ec2::254", "private"),  # AWS's IPv6 metadata address
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("100.100.100.200", "not globally routable"),  # shared address space (a cloud's metadata)
        ("198.18.0.1", "private"),
    ],
)
def test_internal_addresses_are_refused_by_default(address: str, kind: str) -> None:
    got = address_kind(ipaddress.ip_address(address))
    assert got is not None and got.startswith(kind)
    assert not _decide(DEFAULT, address)


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2001:4860:4860::8888", "172.32.0.1"])
def test_public_addresses_are_allowed_by_default(address: str) -> None:
    assert _decide(DEFAULT, address)


@pytest.mark.parametrize(
    "address",
    [
        "::ffff:127.0.0.1",  # IPv4-mapped
        "::ffff:169.254.169.254",
        "::ffff:10.0.0.1",
        "::127.0.0.1",  # IPv4-compatible (deprecated)
        "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    ],
)
def test_ipv6_wrappings_of_internal_ipv4_addresses_are_refused(address: str) -> None:
    assert not _decide(DEFAULT, address)


def test_an_ipv4_rule_opens_the_mapped_ipv6_spelling_too() -> None:
    policy = _policy(allow=[{"cidr": "127.0.0.1/32"}])
    assert _decide(policy, "::ffff:127.0.0.1")
    assert not _decide(policy, "::ffff:127.0.0.2")


def test_the_refusal_names_the_rule_and_the_fix_but_not_the_resolved_address() -> None:
    verdict = DEFAULT.decide("db.internal", 5432, ipaddress.ip_address("10.9.8.7"))
    assert not verdict.allowed and verdict.rule == "default (private)"
    assert "db.internal:5432" in verdict.message and "private address" in verdict.message
    assert "10.9.8.7" not in verdict.message, "a team learns nothing about the platform's internal names"
    assert "allow rule" in verdict.message and "InferenceGateway" in verdict.message


def test_allow_rules_open_ranges_and_hosts_on_their_ports() -> None:
    policy = _policy(allow=[{"cidr": "10.0.0.0/8", "ports": [9000]}, {"host": "minio.internal"}, {"host": "*.svc.local"}])
    assert _decide(policy, "10.1.2.3", port=9000)
    assert not _decide(policy, "10.1.2.3", port=9001)
    assert _decide(policy, "192.168.7.7", host="minio.internal")
    assert _decide(policy, "192.168.7.7", host="MINIO.internal.")  # one spelling for comparisons
    assert _decide(policy, "192.168.7.7", host="s3.ns.svc.local")
    assert not _decide(policy, "192.168.7.7", host="svc.local"), "a wildcard covers subdomains, not the name itself"
    assert not _decide(policy, "127.0.0.1", host="localhost")


def test_deny_wins_over_allow_and_closes_public_hosts() -> None:
    policy = _policy(allow=[{"cidr": "10.0.0.0/8"}], deny=[{"cidr": "10.0.0.5/32"}, {"host": "*.pastebin.com"}])
    assert _decide(policy, "10.0.0.4")
    verdict = policy.decide("10.0.0.5", 443, ipaddress.ip_address("10.0.0.5"))
    assert not verdict.allowed and verdict.rule == "deny[0]" and "deny[0] (cidr 10.0.0.5/32)" in verdict.message
    assert not _decide(policy, "104.20.1.1", host="x.pastebin.com")
    assert policy.precheck("x.pastebin.com", 443) is not None, "a denied host is refused before any lookup"


def test_allow_public_false_is_an_allow_list() -> None:
    policy = _policy(allowPublic=False, allow=[{"host": "api.together.xyz"}])
    assert _decide(policy, "104.18.1.1", host="api.together.xyz")
    verdict = policy.decide("api.openai.com", 443, ipaddress.ip_address("104.18.2.2"))
    assert not verdict.allowed and verdict.rule == "allowPublic: false"


def test_every_gateway_must_allow() -> None:
    gateways = [
        InferenceGateway.model_validate({"metadata": {"name": "a"}, "spec": {"egress": {"allow": [{"cidr": "127.0.0.0/8"}]}}}),
        InferenceGateway.model_validate({"metadata": {"name": "b"}, "spec": {}}),
    ]
    policy = EgressPolicy.from_gateways(gateways)
    verdict = policy.decide("127.0.0.1", 80, ipaddress.ip_address("127.0.0.1"))
    assert not verdict.allowed and "InferenceGateway 'b'" in verdict.message


def test_no_gateway_means_the_default_policy() -> None:
    assert EgressPolicy.from_gateways([]) == DEFAULT
    verdict = DEFAULT.decide("127.0.0.1", 80, ipaddress.ip_address("127.0.0.1"))
    assert "there is none yet" in verdict.message


def test_pick_keeps_only_judged_addresses_in_order() -> None:
    """A name answering a public and an internal address (a rebinding attempt in one answer):
    only the public one may be connected to."""
    assert DEFAULT.pick("mixed.example", 443, ["127.0.0.1", "93.184.215.14", "::1"]) == ["93.184.215.14"]
    with pytest.raises(EgressRefused, match="loopback"):
        DEFAULT.pick("rebind.example", 443, ["127.0.0.1", "::1"])


def test_precheck_decides_literals_and_leaves_names_to_the_connection() -> None:
    assert DEFAULT.precheck("127.0.0.1", 8000) is not None
    assert DEFAULT.precheck("::ffff:7f00:1", 8000) is not None
    assert DEFAULT.precheck("example.com", 443) is None


def test_policy_round_trips_through_the_hydration_job_environment() -> None:
    policy = _policy(allowPublic=False, allow=[{"cidr": "10.0.0.0/8", "ports": [9000]}, {"host": "*.internal"}], deny=[{"host": "x.internal"}])
    again = EgressPolicy.from_specs([(d["gateway"], GatewayEgress.model_validate(d["egress"])) for d in policy.to_specs()])  # type: ignore[arg-type]
    assert again == policy


@pytest.mark.parametrize(
    "rule,problem",
    [
        ({"cidr": "10.0.0.0/33"}, "not an address range"),
        ({"host": "exa mple.com"}, "not a host pattern"),
        ({"cidr": "10.0.0.0/8", "host": "x"}, "exactly one"),
        ({}, "exactly one"),
        ({"cidr": "10.0.0.0/8", "ports": [0]}, "not TCP ports"),
        ({"cidr": "10.0.0.0/8", "ports": ["80"]}, "integer"),
    ],
)
def test_bad_rules_are_refused_with_the_fix(rule: dict[str, object], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        GatewayEgress.model_validate({"allow": [rule]})


def test_a_kubernetes_hydration_job_carries_the_fleets_policy() -> None:
    """The Job on a remote cluster judges its connections by the same policy (LANEWAY_EGRESS,
    read by `python -m laneway.cache`); without a gateway it applies the default one."""
    import json

    from laneway.api.kinds.cache import ModelCache
    from laneway.drivers.kubernetes.cache_render import render_hydration_job

    cache = ModelCache.model_validate({"metadata": {"name": "w", "namespace": "ml"}, "spec": {"source": "HTTP", "http": {"url": "https://x.example/m.gguf"}}})
    policy = _policy(allow=[{"cidr": "10.0.0.0/8"}])
    env = {e["name"]: e.get("value") for e in render_hydration_job(cache, egress=policy)["spec"]["template"]["spec"]["containers"][0]["env"]}
    sent = json.loads(env["LANEWAY_EGRESS"])
    assert EgressPolicy.from_specs([(d["gateway"], GatewayEgress.model_validate(d["egress"])) for d in sent]) == policy
    default_env = render_hydration_job(cache, egress=EgressPolicy())["spec"]["template"]["spec"]["containers"][0]["env"]
    assert "LANEWAY_EGRESS" not in {e["name"] for e in default_env}
