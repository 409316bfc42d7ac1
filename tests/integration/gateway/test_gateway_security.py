"""External providers' auth, caller-header stripping, API keys and rate limits."""

from __future__ import annotations

from pathlib import Path

import httpx
import openai
import pytest
from gateway_harness import Fleet, endpoint, secret, service

from laneway.gateway.keys import NAMESPACE_KEY_LABEL

BODY = {"model": "svc", "messages": [{"role": "user", "content": "hi"}]}
ALL = {"selector": {"matchLabels": {"app": "m"}}}


def test_provider_token_injected_caller_credentials_stripped_model_rewritten(fleet: Fleet) -> None:
    provider = fleet.upstream("provider")
    fleet.put(
        secret("together", {"token": "provider-secret"}),
        endpoint("together", provider.url, rewritePath="/openai", model="meta-llama/Llama-3-8b", auth={"secretRef": {"name": "together", "key": "token"}}),
        service("svc", [ALL]),
    )
    r = httpx.post(
        f"{fleet.address}/ml/svc/v1/chat/completions",
        json=BODY,
        headers={"Authorization": "Bearer caller-key", "x-api-key": "caller-key", "Cookie": "s=1", "X-Trace": "t1"},
    )
    assert r.status_code == 200
    got = provider.received[0]
    assert got["path"] == "/openai/v1/chat/completions"
    assert got["headers"]["Authorization"] == "Bearer provider-secret"
    assert "x-api-key" not in {k.lower() for k in got["headers"]}
    assert "cookie" not in {k.lower() for k in got["headers"]}
    assert got["headers"]["X-Trace"] == "t1"
    assert got["payload"]["model"] == "meta-llama/Llama-3-8b"


def test_caller_authorization_never_forwarded_to_plain_endpoints(fleet: Fleet) -> None:
    up = fleet.upstream("up")
    fleet.put(endpoint("up", up.url), service("svc", [ALL]))
    httpx.post(f"{fleet.address}/ml/svc/v1/chat/completions", json=BODY, headers={"Authorization": "Bearer caller-key"})
    assert "authorization" not in {k.lower() for k in up.received[0]["headers"]}


def test_missing_auth_secret_excludes_the_endpoint_with_a_reason(fleet: Fleet) -> None:
    fleet.put(endpoint("ext", "https://api.example.invalid", auth={"secretRef": {"name": "nope", "key": "token"}}), service("svc", [ALL]))
    r = httpx.post(f"{fleet.address}/ml/svc/v1/chat/completions", json=BODY)
    assert r.status_code == 503
    assert "Secret 'nope'" in fleet.status("svc")["excluded"][0]["reason"]


def test_tls_is_verified_for_https_upstreams(fleet: Fleet) -> None:
    import datetime as dt
    import ipaddress
    import ssl
    import tempfile

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(1).not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(key, hashes.SHA256())
    )
    with tempfile.TemporaryDirectory() as d:
        cert_path, key_path = f"{d}/c.pem", f"{d}/k.pem"
        Path(cert_path).write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        Path(key_path).write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(cert_path, key_path)
    up = fleet.upstream("selfsigned")
    from aiohttp import web

    async def tls_site() -> str:
        assert up.runner is not None
        site = web.TCPSite(up.runner, "127.0.0.1", 0, ssl_context=ctx)
        await site.start()
        return f"https://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]

    url = fleet.loop.call(tls_site())
    fleet.put(endpoint("tls", url), service("svc", [ALL]))
    r = httpx.post(f"{fleet.address}/ml/svc/v1/chat/completions", json=BODY)
    assert r.status_code in (502, 503)
    assert "Certificate" in r.json()["error"]["message"] or "SSL" in r.json()["error"]["message"]
    assert up.received == []


def test_api_keys_401_403_and_namespace_keys(fleet: Fleet) -> None:
    a, b = fleet.upstream("a"), fleet.upstream("b")
    fleet.put(
        secret("keys", {"alice": "sk-alice", "bob": "sk-bob"}),
        endpoint("a", a.url, labels={"app": "a"}),
        endpoint("b", b.url, labels={"app": "b"}),
        service("alpha", [{"selector": {"matchLabels": {"app": "a"}}}], apiKeys=[{"name": "keys", "key": "alice"}]),
        service("beta", [{"selector": {"matchLabels": {"app": "b"}}}], apiKeys=[{"name": "keys", "key": "bob"}]),
    )
    url = f"{fleet.address}/ml/alpha/v1/chat/completions"
    assert httpx.post(url, json=BODY).status_code == 401
    r = httpx.post(url, json=BODY, headers={"Authorization": "Bearer sk-wrong"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"
    r = httpx.post(url, json=BODY, headers={"Authorization": "Bearer sk-bob"})
    assert r.status_code == 403 and r.json()["error"]["type"] == "permission_error"
    assert httpx.post(url, json=BODY, headers={"x-api-key": "sk-alice"}).status_code == 200

    # The official client maps them to its own exceptions.
    client = openai.OpenAI(base_url=f"{fleet.address}/v1", api_key="sk-bob", max_retries=0)
    with pytest.raises(openai.PermissionDeniedError):
        client.chat.completions.create(model="alpha", messages=[])
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=f"{fleet.address}/v1", api_key="sk-nobody", max_retries=0).chat.completions.create(model="alpha", messages=[])
    assert [m.id for m in client.models.list().data] == ["beta"]

    # A namespace key opens every service of its namespace.
    fleet.put(secret("team", {"k": "sk-team"}, labels={NAMESPACE_KEY_LABEL: "true"}))
    for svc in ("alpha", "beta"):
        r = httpx.post(f"{fleet.address}/ml/{svc}/v1/chat/completions", json=BODY, headers={"Authorization": "Bearer sk-team"})
        assert r.status_code == 200


def test_rate_limits_answer_429_with_retry_after(fleet: Fleet) -> None:
    up = fleet.upstream("up")
    fleet.put(endpoint("up", up.url), service("svc", [ALL], rateLimit={"requestsPerMinute": 2}))
    url = f"{fleet.address}/ml/svc/v1/chat/completions"
    assert [httpx.post(url, json=BODY).status_code for _ in range(2)] == [200, 200]
    r = httpx.post(url, json=BODY)
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    assert r.json()["error"]["type"] == "rate_limit_error"

    # Tokens per minute: the upstream reports 7 tokens a request; a budget of 10 admits two.
    fleet.put(service("svc", [ALL], rateLimit={"tokensPerMinute": 10}))
    assert [httpx.post(url, json=BODY).status_code for _ in range(3)] == [200, 200, 429]


def test_an_upstreams_cookie_is_never_sent_on_another_callers_request(fleet: Fleet) -> None:
    """The gateway's client sessions are shared by every caller and every team: a cookie one
    upstream sets (a provider's session or load-balancer cookie, or a hostile endpoint's) must
    not be kept and sent on the next caller's request. The upstream is named by host name,
    because aiohttp's default jar keeps no cookie of an IP address."""
    from aiohttp import web

    seen: list[str | None] = []

    async def handle(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Cookie"))
        resp = web.json_response({
            "id": "x", "object": "chat.completion", "model": "m",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        })
        resp.set_cookie("session", "caller-one-secret", path="/")
        return resp

    app = web.Application()
    app.router.add_post("/{tail:.*}", handle)
    url = fleet.serve_app(app).replace("127.0.0.1", "localhost")
    fleet.put(endpoint("up", url), service("svc", [ALL]))
    for caller in ("one", "two", "three"):
        r = httpx.post(f"{fleet.address}/ml/svc/v1/chat/completions", json=BODY, headers={"X-Caller": caller}, timeout=30)
        assert r.status_code == 200, r.text
    assert seen == [None, None, None]
