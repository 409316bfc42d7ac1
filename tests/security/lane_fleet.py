"""A real `laneway up` on loopback with one API client per lane, for the security tests.

`LaneFleet.start` runs `laneway up` as conftest's `up` fixture does (no default cluster, so
each test module publishes the fleet it needs through the platform lane), with extra
environment variables when a test needs the host to hold something a team must not reach
(ambient credentials). `admin` and
`platform` are platform-lane clients, `team` holds a team token for namespace `ml-team` only:
the attacker in every test. Typed clients (`laneway.client.Client`) rather than raw HTTP,
because these tests write whole objects and read their statuses.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from cli_harness import Up
from security_harness import TEAM_NAMESPACE, admin_token_of

from laneway.api.manifest import load_text
from laneway.client import Client

__all__ = ["TEAM_NAMESPACE", "LaneFleet", "eventually"]
T = TypeVar("T")


@dataclass
class LaneFleet:
    up: Up
    admin: Client
    platform: Client
    team: Client
    team_token: str

    @classmethod
    def start(cls, data_dir: Path, *, env: dict[str, str] | None = None) -> LaneFleet:
        up = Up.start(data_dir, local_cluster=False, env=env)
        up.wait_ready()
        server = f"http://127.0.0.1:{up.port}"
        admin = Client(server, admin_token_of(up), timeout=30)
        platform = Client(server, admin.create_token(role="platform", namespaces=[], description="security tests: platform"), timeout=30)
        team_token = admin.create_token(role="team", namespaces=[TEAM_NAMESPACE], description="security tests: attacker")
        return cls(up=up, admin=admin, platform=platform, team=Client(server, team_token, timeout=30), team_token=team_token)

    @property
    def gateway(self) -> str:
        return f"http://127.0.0.1:{self.up.gateway_port}"

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.up.port}"

    def apply(self, client: Client, text: str) -> None:
        for obj in load_text(text):
            client.apply(obj)

    def stop(self) -> None:
        assert self.up.stop() == 0, self.up.output
        assert not self.up.leftovers(), "laneway up left processes running"


def eventually(what: str, probe: Callable[[], T | None], *, timeout: float = 60.0, every: float = 0.2) -> T:
    """Poll `probe` until it returns something truthy; fail naming `what` and the last value."""
    end = time.monotonic() + timeout
    while True:
        last = probe()
        if last:
            return last
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; last seen: {last!r}")
        time.sleep(every)
