"""The agent's CA pin (issue 17), attacked by a man in the middle: the pin is the fingerprint of
one certificate's public key, so whatever the agent goes on to trust must be that certificate
and nothing beside it. The real CA is public (`GET /agent/v1/ca` serves it to anyone), so an
impostor can offer it first in a bundle with a CA of its own after it; an agent that checked the
first certificate but trusted the whole bundle would send its join token to the impostor.

A real TLS server on loopback plays the impostor, with a server certificate from its own CA;
the test checks that no join token reached it and that the agent kept no CA."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl
from pathlib import Path

import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from laneway.drivers.machines.agent import CA_FILE, IDENTITY_FILE, Agent, AgentConfig, AgentRefused, check_data_dir
from laneway.server.certificates import issue


def _impostor_tls(directory: Path) -> tuple[str, Path, Path]:
    """A CA of the impostor's own (a name of its own, so TLS finds it as the issuer), and a
    server certificate for 127.0.0.1 it signed: (CA PEM, certificate path, key path)."""
    directory.mkdir(parents=True)
    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "impostor CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True).sign(ca_key, hashes.SHA256()))
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    cert_path, key_path = directory / "server.pem", directory / "server.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return ca.public_bytes(serialization.Encoding.PEM).decode(), cert_path, key_path


async def _impostor(tmp_path: Path, offered_pem: str, seen_tokens: list[str]) -> tuple[web.AppRunner, int]:

    async def ca(_request: web.Request) -> web.Response:
        return web.json_response({"caCert": offered_pem})

    async def anything(request: web.Request) -> web.Response:
        seen_tokens.append(request.headers.get("Authorization", ""))
        return web.json_response({"message": "captured"}, status=500)

    app = web.Application()
    app.router.add_get("/agent/v1/ca", ca)
    app.router.add_route("*", "/{tail:.*}", anything)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tmp_path / "impostor-tls" / "server.pem", tmp_path / "impostor-tls" / "server.key")
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    server = site._server
    assert isinstance(server, asyncio.Server) and server.sockets
    return runner, int(server.sockets[0].getsockname()[1])


async def _attack(tmp_path: Path, offered_pem: str, pin: str, *, within: float) -> tuple[BaseException | None, list[str]]:
    seen: list[str] = []
    runner, port = await _impostor(tmp_path, offered_pem, seen)
    agent = Agent(AgentConfig(server=f"https://127.0.0.1:{port}", data_dir=check_data_dir(tmp_path / "agent"), join_token="join-canary-token",
                              machine="gpu-a", ca_cert_hash=pin))
    stop = asyncio.Event()
    outcome: BaseException | None = None
    try:
        await asyncio.wait_for(agent.run(stop), within)
    except (AgentRefused, TimeoutError) as e:
        outcome = e
    finally:
        stop.set()
        await runner.cleanup()
    return outcome, seen


def test_an_impostor_offering_the_real_ca_beside_its_own_gets_no_join_token(tmp_path: Path) -> None:
    real = issue(tmp_path / "real-tls", ["127.0.0.1"])
    impostor_ca, _cert, _key = _impostor_tls(tmp_path / "impostor-tls")
    bundle = real.ca_pem + impostor_ca

    outcome, seen = asyncio.run(_attack(tmp_path, bundle, real.ca_hash, within=60))

    assert isinstance(outcome, AgentRefused), (outcome, seen)
    assert "offered 2 certificates" in str(outcome)
    assert seen == [], "the join token reached the impostor"
    assert not (tmp_path / "agent" / CA_FILE).exists() and not (tmp_path / "agent" / IDENTITY_FILE).exists()


def test_an_impostor_offering_only_the_real_ca_cannot_finish_the_handshake(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The pinned CA alone is trusted: the impostor's own server certificate then fails
    verification, and the token stays with the agent."""
    monkeypatch.setattr("laneway.drivers.machines.agent.RETRY_SECONDS", 0.05)
    real = issue(tmp_path / "real-tls", ["127.0.0.1"])
    _impostor_tls(tmp_path / "impostor-tls")

    outcome, seen = asyncio.run(_attack(tmp_path, real.ca_pem, real.ca_hash, within=3))

    assert isinstance(outcome, TimeoutError), outcome  # it retries the join until stopped, never trusting the impostor
    assert seen == [], "the join token reached the impostor"
    assert not (tmp_path / "agent" / IDENTITY_FILE).exists()
