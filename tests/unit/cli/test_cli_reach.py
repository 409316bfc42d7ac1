"""An unreachable API, or the gateway's port given as the API's: where the address came from and
how to point the CLI elsewhere."""

from __future__ import annotations

from pathlib import Path

import httpx

from laneway.cli.config import Connection
from laneway.cli.errors import to_failure
from laneway.cli.reach import reach_hint
from laneway.client import NotTheApi, ServerUnreachable, gateway_answered


def test_the_hint_names_the_source_and_every_way_to_point_the_cli() -> None:
    hint = reach_hint(Connection(server="http://127.0.0.1:1", token=None, source="LANEWAY_SERVER"))
    assert "the address came from LANEWAY_SERVER" in hint
    for way in ("--server http://HOST:PORT", "LANEWAY_SERVER=", "LANEWAY_DATA_DIR=DIR", "not the gateway"):
        assert way in hint
    stale = reach_hint(Connection(server="http://127.0.0.1:1", token=None, source=str(Path("/d/server.json"))))
    assert "written by a `laneway up` on this machine" in stale and "start it again" in stale


def test_unreachable_and_wrong_server_failures_carry_the_hint() -> None:
    conn = Connection(server="http://127.0.0.1:1", token=None, source="--server")
    for error in (ServerUnreachable("cannot reach the laneway API at http://127.0.0.1:1"), NotTheApi("the gateway")):
        failure = to_failure(error, conn)
        assert failure is not None and failure.exit_code == 1
        assert "the address came from --server" in failure.format_message()


def test_a_gateway_error_is_told_apart_from_an_api_refusal() -> None:
    gateway = httpx.Response(404, json={"error": {"message": "No ModelService", "code": "service_not_found"}})
    assert gateway_answered(gateway)
    marked = httpx.Response(404, headers={"x-laneway-error": "service_not_found"}, text="nope")
    assert gateway_answered(marked)
    api = httpx.Response(404, json={"kind": "Status", "code": 404, "reason": "NotFound", "message": "x"})
    assert not gateway_answered(api)
    assert not gateway_answered(httpx.Response(502, text="<html>bad gateway</html>"))
