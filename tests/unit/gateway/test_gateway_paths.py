"""Gateway path rules (attack 6 of issue #11): dot segments, encoded separators, one /v1."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from laneway.gateway.errors import GatewayError
from laneway.gateway.paths import (
    check_path,
    join_path,
    split_target,
    under_prefix,
    upstream_url,
)

ESCAPES = [
    "/research/chat/../../../X",
    "/research/chat/%2e%2e/%2e%2e/X",
    "/research/chat/%2E%2E/X",
    "/research/chat/..%2f..%2fX",
    "/research/chat/..%2F..%2FX",
    "/research/chat/%2e%2e%2f%2e%2e%2fX",
    "/research/chat/%252e%252e/X",
    "/research/chat/v1/%2f%2fevil",
    "/research/chat/..\\..\\X",
    "/research/chat/..%5c..%5cX",
    "/ml-team/a/../../research/chat/v1/chat/completions",
    "/research/chat/./v1",
    "/research/chat/v1/..",
    "/research/chat/v1/%00",
    "/research/chat/v1/\x01",
    "/research/chat/v1/caf\u00e9",
    "research/chat",
]


@pytest.mark.parametrize("path", ESCAPES)
def test_escaping_paths_are_refused_with_400_and_the_rule(path: str) -> None:
    with pytest.raises(GatewayError) as err:
        check_path(path)
    assert err.value.status == 400 and err.value.code == "invalid_path"
    assert "refused:" in err.value.message


@pytest.mark.parametrize(
    "path",
    ["/ml/chat/v1/chat/completions", "/v1/chat/completions", "/ml/chat/v1/files/a%20b", "/ml/chat/.well-known",
     "/ml/chat/v1/a..b", "/ml/chat/v1/..a", "/ml/chat/v1/x%3Fy", "/"],
)
def test_ordinary_paths_pass_unchanged(path: str) -> None:
    assert check_path(path) == path


def test_an_encoded_slash_is_allowed_only_where_the_gateway_answers_itself() -> None:
    assert check_path("/v1/models/meta-llama%2FLlama-3", allow_encoded_slash=True)
    with pytest.raises(GatewayError):
        check_path("/v1/models/meta-llama%2FLlama-3")
    with pytest.raises(GatewayError):
        check_path("/v1/models/..%2F..%2Fx", allow_encoded_slash=True)


def test_split_target_keeps_both_parts_encoded() -> None:
    assert split_target("/a/b%20c?q=%2e&x=1") == ("/a/b%20c", "q=%2e&x=1")
    assert split_target("/a") == ("/a", "")


def test_one_v1_when_the_prefix_ends_with_v1() -> None:
    assert upstream_url("https://api.openai.com/v1", "/v1/chat/completions") == "https://api.openai.com/v1/chat/completions"
    assert upstream_url("https://api.openai.com/v1/", "/v1") == "https://api.openai.com/v1"
    assert upstream_url("https://api.example.com/v1", "/health") == "https://api.example.com/v1/health"
    assert upstream_url("http://engine:8000", "/v1/chat/completions") == "http://engine:8000/v1/chat/completions"
    assert upstream_url("http://engine:8000/openai", "/v1/x", "a=1") == "http://engine:8000/openai/v1/x?a=1"
    assert upstream_url("https://h/deployments/d?api-version=1", "/v1/x", "b=2") == "https://h/deployments/d/v1/x?api-version=1&b=2"
    assert join_path("/v10", "/v1/x") == "/v10/v1/x"


@pytest.mark.parametrize("base", ["https://provider.example/openai/v1", "http://127.0.0.1:9/engine", "http://127.0.0.1:9"])
@pytest.mark.parametrize("tail", ["/v1/chat/completions", "/x%2e%2ey", "/a/b/c", "/v1", "/"])
def test_checked_tails_stay_under_the_prefix(base: str, tail: str) -> None:
    url = upstream_url(base, check_path(tail))
    assert under_prefix(base, url)


def test_under_prefix_sees_an_escape_the_way_a_server_resolves_it() -> None:
    assert not under_prefix("https://p.example/openai/v1", "https://p.example/openai/v1/../../admin")
    assert not under_prefix("https://p.example/openai/v1", "https://p.example/openai/v1/%2e%2e/%2e%2e/admin")
    assert not under_prefix("https://p.example/openai", "https://evil.example/openai/x")
    assert under_prefix("https://p.example/openai", "https://p.example/openai/v1/x")


def test_a_refusal_survives_being_reraised_through_a_context_manager() -> None:
    @contextmanager
    def around() -> Iterator[None]:
        yield

    with pytest.raises(GatewayError) as err, around():
        check_path("/a/../b")
    assert err.value.status == 400
