"""The hardware row's memory check online: a ticket whose `memory` came from a config.json (as
`laneway ticket check --model-file` sends it) is checked by the real API server against the
classes in its store, and a hostile `config` is a failing row with the field named, not a 500."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import httpx
import yaml
from server_objects import APIS

from laneway.api.kinds.ticket import InferenceTicket
from laneway.api.registry import by_kind
from laneway.server.targets import collection_path
from laneway.ticket.model_files import cached_model_file

ROOT = Path(__file__).resolve().parents[3]
TICKETS = ROOT / "examples" / "tickets"
CONFIG = json.loads((ROOT / "tests" / "fixtures" / "models" / "smollm2-135m-instruct" / "config.json").read_text())


def _hardware(admin: httpx.Client, ticket: dict[str, Any]) -> dict[str, Any]:
    r = admin.post(f"{APIS}/ticketchecks", json=json.loads(json.dumps(ticket, default=str)))
    assert r.status_code == 200, r.text
    return next(row for row in r.json()["rows"] if row["key"] == "hardware")


def test_memory_check_runs_on_the_server(admin: httpx.Client) -> None:
    for doc in yaml.safe_load_all((TICKETS / "fleet.yaml").read_text()):
        if doc and doc["kind"] == "InferenceClass":
            assert admin.post(collection_path(by_kind(doc["kind"]), ""), json=doc).status_code == 201
    ticket = yaml.safe_load((TICKETS / "memory-check.yaml").read_text())
    row = _hardware(admin, ticket)
    assert not row["passed"] and row["reason"] == "ModelDoesNotFit"
    assert "the model needs 68.9 GiB" in row["message"] and "class l4-24gb gives 20.2 GiB usable" in row["message"]

    small = copy.deepcopy(ticket)
    small["spec"]["hardware"]["memory"] = {"config": CONFIG, "contextLength": 8192}
    fits = _hardware(admin, small)
    assert fits["passed"] and "134.5M parameters x 2 bytes (bfloat16, from config.json)" in fits["details"][0]

    hostile = copy.deepcopy(small)
    hostile["spec"]["hardware"]["memory"]["config"] = {**CONFIG, "hidden_size": 10**400, "vocab_size": [1] * 1000}
    refused = _hardware(admin, hostile)
    assert not refused["passed"] and "hidden_size is 'above 100000000'" in refused["message"]


def test_the_server_reads_no_weights_for_a_ticket(admin: httpx.Client, tmp_path: Path) -> None:
    """The cache row names weights that lie on the server's own machine (readable, as the CLI's
    `cached_model_file` shows): the online check still judges only what the ticket carries, so
    the row fails asking for the model's size instead of reading the team's file (see
    docs/tickets.md on why the server reads no weights, staged copies included)."""
    for doc in yaml.safe_load_all((TICKETS / "fleet.yaml").read_text()):
        if doc and doc["kind"] == "InferenceClass":
            assert admin.post(collection_path(by_kind(doc["kind"]), ""), json=doc).status_code == 201
    (tmp_path / "config.json").write_text(json.dumps(CONFIG))
    ticket = yaml.safe_load((TICKETS / "memory-check.yaml").read_text())
    ticket["spec"]["hardware"]["memory"] = {"contextLength": 8192}
    ticket["spec"]["cache"] = {"source": "Local", "local": {"path": str(tmp_path)}}
    assert cached_model_file(InferenceTicket.model_validate(ticket)) == tmp_path / "config.json"
    row = _hardware(admin, ticket)
    assert not row["passed"] and "says nothing of the model's size" in row["message"], row
