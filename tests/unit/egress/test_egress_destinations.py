"""Where a credential may go: a platform-written Secret only to the hosts it names, a team's
own Secret wherever the egress policy allows; host patterns."""

from __future__ import annotations

import pytest

from laneway.api.kinds.secret import Secret
from laneway.egress.destinations import (
    DESTINATIONS_ANNOTATION,
    WRITTEN_BY_ANNOTATION,
    Destinations,
    credential_refusal,
    parse_destinations,
)
from laneway.egress.hosts import HostPattern, host_port


def _secret(annotations: dict[str, str]) -> Secret:
    return Secret.model_validate({"metadata": {"name": "provider-key", "namespace": "ml", "annotations": annotations}, "stringData": {"k": "sk-live-123"}})


def test_a_platform_secret_goes_only_to_its_destinations() -> None:
    secret = _secret({WRITTEN_BY_ANNOTATION: "platform", DESTINATIONS_ANNOTATION: "api.together.xyz, *.openai.com:443"})
    assert credential_refusal(secret, "https://api.together.xyz/v1", use="auth.secretRef") is None
    assert credential_refusal(secret, "https://eu.api.openai.com/v1", use="auth.secretRef") is None
    refusal = credential_refusal(secret, "http://127.0.0.1:9999/steal?sig=abc", use="auth.secretRef")
    assert refusal is not None
    assert "provider-key" in refusal and "127.0.0.1:9999" in refusal and "api.together.xyz" in refusal
    assert "sig=abc" not in refusal and "sk-live-123" not in refusal
    assert credential_refusal(secret, "http://eu.api.openai.com:80/v1", use="x") is not None, "the port is part of the destination"


def test_a_platform_secret_without_destinations_goes_nowhere() -> None:
    refusal = credential_refusal(_secret({WRITTEN_BY_ANNOTATION: "platform"}), "https://api.together.xyz", use="auth.secretRef")
    assert refusal is not None and "names no destinations" in refusal and DESTINATIONS_ANNOTATION in refusal


def test_team_and_unstamped_secrets_are_left_to_the_egress_policy() -> None:
    assert credential_refusal(_secret({WRITTEN_BY_ANNOTATION: "team"}), "https://anywhere.example", use="x") is None
    assert credential_refusal(_secret({}), "https://anywhere.example", use="x") is None


def test_a_bad_destinations_annotation_refuses_and_says_so() -> None:
    refusal = credential_refusal(_secret({WRITTEN_BY_ANNOTATION: "platform", DESTINATIONS_ANNOTATION: "ok.example, bad host"}), "https://ok.example", use="x")
    assert refusal is not None and "invalid" in refusal


def test_destinations_are_reusable_for_a_provider_url() -> None:
    """A provider the platform vouches for (issue 21) is one destination: its own host."""
    provider = Destinations.of([host_port("https://api.together.xyz/v1").host])
    assert provider.allows(host_port("https://api.together.xyz/v1/chat/completions"))
    assert not provider.allows(host_port("https://api.together.xyz.evil.example/v1"))


@pytest.mark.parametrize("text", ["a.example", "*.a.example", "a.example:8443", "10.0.0.1", "[::1]:443", "fd00::1"])
def test_host_patterns_parse(text: str) -> None:
    assert str(HostPattern.parse(text)).strip("[]") in (text.strip("[]"), text)


@pytest.mark.parametrize("text", ["", "a b", "a.example:0", "a.example:99999", "http://a.example/"])
def test_bad_host_patterns_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_destinations(text) if text else HostPattern.parse(text)
