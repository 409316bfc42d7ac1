"""Helpers the security tests share (fixtures are in conftest.py): talking to a real
`laneway up` as one lane or the other."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
from cli_harness import Up

TEAM_NAMESPACE = "ml-team"
OTHER_NAMESPACE = "research"


def up_client(up: Up, token: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=f"http://127.0.0.1:{up.port}", headers=headers, timeout=30.0)


def admin_token_of(up: Up) -> str:
    return (up.data_dir / "admin.token").read_text().strip()


@dataclass(frozen=True)
class Trickled:
    closed: bool
    """Whether the server closed the connection before everything was sent."""
    sent: int
    answer: bytes


def connect(address: str, *, timeout: float) -> socket.socket:
    """A raw TCP connection to `http://host:port`, for clients no HTTP library would be."""
    host, port = address.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=timeout)
    sock.settimeout(0.5)
    return sock


def trickle(sock: socket.socket, data: bytes, *, every: float, give_up: float) -> Trickled:
    """Send `data` a byte every `every` seconds (a slowloris) until the server closes the
    connection or `give_up` seconds pass; what the server answered meanwhile is kept."""
    sent = 0
    answer = b""
    deadline = time.monotonic() + give_up
    for byte in data:
        if time.monotonic() > deadline:
            break
        try:
            sock.sendall(bytes([byte]))
            sent += 1
        except OSError:
            return Trickled(True, sent, answer)
        try:
            chunk = sock.recv(65536)
            if not chunk:
                return Trickled(True, sent, answer)
            answer += chunk
        except TimeoutError:
            pass
        except OSError:
            return Trickled(True, sent, answer)
        time.sleep(every)
    return Trickled(False, sent, answer)


def run_up(data_dir: Path, *, local_cluster: bool) -> Iterator[Up]:
    """A real `laneway up` in `data_dir`, ready; stopped afterwards, with nothing left running."""
    instance = Up.start(data_dir, local_cluster=local_cluster)
    try:
        instance.wait_ready()
        yield instance
    finally:
        instance.stop()
        assert instance.leftovers() == [], "processes left running after laneway up stopped"
