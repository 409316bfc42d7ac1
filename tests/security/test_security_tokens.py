"""Item 10 of issue 11, tokens: there was no way to list, revoke or expire a token, so a stolen
admin token was forever. Against a real `laneway up`, through the real CLI and the HTTP API:
list shows ids and grants but never a token; revoke and expiry end a token on its next
request; rotate-admin replaces the data directory's admin token; a team token sees only
itself and cannot revoke, rotate or mint others."""

from __future__ import annotations

import json
import re
import time

import httpx
from cli_harness import Cli, Up
from security_harness import OTHER_NAMESPACE, TEAM_NAMESPACE, admin_token_of, up_client

TOKENS = "/apis/laneway.dev/v1alpha1/tokens"
TEAM_OBJECTS = f"/apis/laneway.dev/v1alpha1/namespaces/{TEAM_NAMESPACE}/modelservices"


def _create(cli: Cli, *args: str) -> str:
    result = cli("token", "create", *args)
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def _status(up: Up, token: str) -> tuple[int, str]:
    with up_client(up, token) as client:
        answer = client.get(TEAM_OBJECTS)
    return answer.status_code, answer.json().get("message", "")


def test_attack10_list_shows_grants_never_tokens_and_revoke_ends_a_token_at_once(up: Up, up_cli: Cli) -> None:
    token = _create(up_cli, "--role", "team", "-n", TEAM_NAMESPACE, "--ttl", "1h", "--description", "ci runner")
    assert _status(up, token)[0] == 200
    listed = up_cli("token", "list")
    assert listed.exit_code == 0, listed.output
    assert token not in listed.output and "ci runner" in listed.output
    assert re.search(r"team\s+ml-team\s+Active\s+.*\s+in (59|60)m\s+ci runner", listed.output), listed.output
    as_json = up_cli("token", "list", "-o", "json")
    items = json.loads(as_json.stdout)["items"]
    assert token not in as_json.stdout and admin_token_of(up) not in as_json.stdout
    (mine,) = [t for t in items if t["description"] == "ci runner"]
    assert mine["namespaces"] == [TEAM_NAMESPACE] and mine["state"] == "Active" and mine["lastUsed"]

    revoked = up_cli("token", "revoke", mine["id"])
    assert revoked.exit_code == 0, revoked.output
    code, message = _status(up, token)
    assert code == 401 and "revoked" in message
    again = json.loads(up_cli("token", "list", "-o", "json").stdout)["items"]
    assert [t["state"] for t in again if t["id"] == mine["id"]] == ["Revoked"]


def test_attack10_a_token_with_a_ttl_expires(up: Up, up_cli: Cli) -> None:
    token = _create(up_cli, "--role", "team", "-n", TEAM_NAMESPACE, "--ttl", "2s")
    assert _status(up, token)[0] == 200
    deadline = time.monotonic() + 30
    code, message = _status(up, token)
    while code == 200 and time.monotonic() < deadline:
        time.sleep(0.5)
        code, message = _status(up, token)
    assert code == 401 and "expired" in message


def test_attack10_a_team_token_cannot_see_revoke_or_mint_other_tokens(up: Up, up_cli: Cli) -> None:
    attacker = _create(up_cli, "--role", "team", "-n", TEAM_NAMESPACE, "--description", "attacker")
    victim = _create(up_cli, "--role", "team", "-n", OTHER_NAMESPACE, "--description", "victim")
    with up_client(up, admin_token_of(up)) as admin:
        ids = {t["description"]: t["id"] for t in admin.get(TOKENS).json()["items"]}
    with up_client(up, attacker) as team:
        listed = team.get(TOKENS).json()["items"]
        assert [t["description"] for t in listed] == ["attacker"]
        assert team.delete(f"{TOKENS}/{ids['victim']}").status_code == 404
        assert team.delete(f"{TOKENS}/admin").status_code == 404
        assert team.post(f"{TOKENS}/{ids['victim']}/rotate").status_code == 403
        assert team.post(f"{TOKENS}/{ids['attacker']}/rotate").status_code == 403
        made = team.post(TOKENS, json={"role": "team", "namespaces": [OTHER_NAMESPACE]})
        assert made.status_code == 403
    with up_client(up, victim) as other:  # the victim's token still works
        assert other.get(f"/apis/laneway.dev/v1alpha1/namespaces/{OTHER_NAMESPACE}/modelservices").status_code == 200
    with up_client(up, attacker) as team:  # a token may revoke itself (a leak, found by its holder)
        assert team.delete(f"{TOKENS}/{ids['attacker']}").status_code == 200
    assert _status(up, attacker)[0] == 401


def test_attack10_a_revoked_platform_token_stops_working_on_the_gateway_at_once(up: Up, up_cli: Cli) -> None:
    token = _create(up_cli, "--role", "platform", "--description", "prometheus")
    metrics = f"http://127.0.0.1:{up.gateway_port}/metrics"
    with httpx.Client(timeout=30.0, headers={"Authorization": f"Bearer {token}"}) as scraper:
        assert scraper.get(metrics).status_code == 200
        with up_client(up, admin_token_of(up)) as admin:
            (record,) = [t for t in admin.get(TOKENS).json()["items"] if t["description"] == "prometheus"]
            assert admin.delete(f"{TOKENS}/{record['id']}").status_code == 200
        assert scraper.get(metrics).status_code == 401


def test_attack10_rotate_admin_ends_the_old_admin_token_and_writes_the_new_one(up: Up, up_cli: Cli) -> None:
    old = admin_token_of(up)
    refused = up_cli("token", "revoke", "admin")
    assert refused.exit_code != 0 and "rotate" in refused.output
    rotated = up_cli("token", "rotate-admin")
    assert rotated.exit_code == 0, rotated.output
    new = rotated.stdout.strip()
    assert new != old and admin_token_of(up) == new
    assert str(up.data_dir / "admin.token") in rotated.stderr
    with up_client(up, old) as stale:
        answer = stale.get(TOKENS)
        assert answer.status_code == 401 and "revoked" in answer.json()["message"]
    assert up_cli("token", "list").exit_code == 0  # the local CLI reads the new token from the data directory
