"""Helpers the security tests share (fixtures are in conftest.py): talking to a real
`laneway up` as one lane or the other."""

from __future__ import annotations

import httpx

from cli_harness import Up

TEAM_NAMESPACE = "ml-team"
OTHER_NAMESPACE = "research"


def up_client(up: Up, token: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=f"http://127.0.0.1:{up.port}", headers=headers, timeout=30.0)


def admin_token_of(up: Up) -> str:
    return (up.data_dir / "admin.token").read_text().strip()
