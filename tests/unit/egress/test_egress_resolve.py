"""Resolving once and connecting to what was judged: odd spellings of 127.0.0.1 resolve to it
and are refused; a name whose second lookup would answer differently (DNS rebinding) is
looked up once, and the connection goes to the judged address."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from laneway.api.kinds.platform import GatewayEgress
from laneway.egress import resolve as resolve_module
from laneway.egress.policy import EgressPolicy, EgressRefused
from laneway.egress.resolve import allowed_addresses, connect


@pytest.mark.parametrize("spelling", ["2130706433", "0x7f000001", "0x7f.1", "0177.0.0.1", "127.1", "127.0.0.1", "localhost"])
def test_every_spelling_of_loopback_is_refused(spelling: str) -> None:
    with pytest.raises(EgressRefused, match="loopback"):
        allowed_addresses(EgressPolicy(), spelling, 80)


def test_an_unresolvable_name_is_a_refusal_naming_it() -> None:
    with pytest.raises(EgressRefused, match="could not be resolved"):
        allowed_addresses(EgressPolicy(), "no-such-host.invalid", 80)


class _Listener:
    def __init__(self, address: str) -> None:
        self.sock = socket.socket()
        self.sock.bind((address, 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self.sock.close()
        self._thread.join(2)


@pytest.fixture
def listeners() -> Iterator[tuple[_Listener, _Listener]]:
    allowed, sink = _Listener("127.0.0.2"), _Listener("127.0.0.1")
    yield allowed, sink
    allowed.close()
    sink.close()


def test_rebinding_cannot_move_the_connection(listeners: tuple[_Listener, _Listener], monkeypatch: pytest.MonkeyPatch) -> None:
    """The check's lookup answers 127.0.0.2 (allowed), a second lookup would answer 127.0.0.1
    (the sink): connect() looks up once and connects to what it judged."""
    allowed, sink = listeners
    answers = ["127.0.0.2", "127.0.0.1"]
    lookups: list[str] = []

    def fake_getaddrinfo(host: str, port: Any, *args: Any, **kw: Any) -> list[Any]:
        address = answers[min(len(lookups), 1)]
        lookups.append(address)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(resolve_module.socket, "getaddrinfo", fake_getaddrinfo)
    policy = EgressPolicy.from_specs([("gw", GatewayEgress.model_validate({"allow": [{"cidr": "127.0.0.2/32"}]}))])
    sock = connect(policy, "rebind.example", allowed.port, timeout=5)
    try:
        assert sock.getpeername()[0] == "127.0.0.2"
    finally:
        sock.close()
    assert lookups == ["127.0.0.2"], "one lookup, no second chance to rebind"
    assert sink.accepted == 0


def test_a_name_answering_loopback_never_connects(listeners: tuple[_Listener, _Listener], monkeypatch: pytest.MonkeyPatch) -> None:
    _, sink = listeners
    monkeypatch.setattr(
        resolve_module.socket, "getaddrinfo",
        lambda host, port, *a, **k: [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))],
    )
    with pytest.raises(EgressRefused, match=r"rebind\.example:.* loopback"):
        connect(EgressPolicy(), "rebind.example", sink.port, timeout=5)
    assert sink.accepted == 0
