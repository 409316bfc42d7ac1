"""Issue #11, attacks 1 and 2: a team token runs host commands through engines, and reads the
admin token back through the crash-loop log tail in its replica's status.

Against one real `laneway up` on loopback, run as whoever runs the tests (root in CI, as on a
rented box), with canary variables in its environment. The attacker holds a team token for
`ml-team` only. The platform adds one cluster, `lw-any-command`, whose engines list allows any
command: the explicit, dangerous opt-in, used here to show that even an engine the platform let
run arbitrary code stays confined. Each test checks that the side effect did not happen.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

LOCAL_TESTS = Path(__file__).resolve().parents[1] / "integration" / "local"
if str(LOCAL_TESTS) not in sys.path:
    sys.path.insert(0, str(LOCAL_TESTS))

from local_fleet import Fleet, Up, alive, eventually, sim_deployment, wide_cluster
from security_harness import TEAM_NAMESPACE

from laneway.api.conditions import find_condition
from laneway.api.kinds.deployment import ModelDeployment, ModelReplica
from laneway.api.kinds.platform import InferenceCluster
from laneway.api.manifest import load_text
from laneway.client import ApiError, Client

NS = TEAM_NAMESPACE
ANY_COMMAND_REGION = "test-any-command"
LOCAL = {"laneway.dev/source": "local"}
ENGINE_BASE_ENV = {"PATH", "HOME", "LANG", "PYTHONPATH", "PWD"}  # PWD: bwrap sets it to the working directory


@pytest.fixture(scope="module")
def canary() -> str:
    return "canary-" + secrets.token_hex(16)


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory, canary: str) -> Iterator[Up]:
    """`laneway up` with its `local` cluster, and secrets of its own in its environment."""
    instance = Up.start(tmp_path_factory.mktemp("up-engines") / "data",
                        env={"SECURITY_CANARY": canary, "AWS_SECRET_ACCESS_KEY": canary})
    try:
        instance.wait_ready()
        yield instance
    finally:
        instance.stop()
        assert instance.leftovers() == [], "processes left running after laneway up stopped"


@pytest.fixture(scope="module")
def fleet(up: Up) -> Iterator[Fleet]:
    fleet = Fleet.connect(up)
    fleet.apply(wide_cluster(name="lw-any-command", region=ANY_COMMAND_REGION,
                             engines=[{"name": "anything", "image": "*", "allowCommand": True}]))
    eventually("lw-any-command to be Ready", lambda: _cluster_ready(fleet, "lw-any-command"))
    try:
        yield fleet
    finally:
        fleet.close()


@pytest.fixture(scope="module")
def team(fleet: Fleet) -> Iterator[Client]:
    """The attacker: a client with a team token for ml-team."""
    token = fleet.client.create_token(role="team", namespaces=[NS], description="issue 11 attacker")
    client = Client(f"http://127.0.0.1:{fleet.up.port}", token, timeout=30)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def marker() -> Iterator[Path]:
    """A file a host command would write (as root, anywhere): it must never appear."""
    path = Path("/tmp") / f"laneway-attack-{secrets.token_hex(8)}"
    yield path
    path.unlink(missing_ok=True)


def _cluster_ready(fleet: Fleet, name: str) -> bool:
    cluster = fleet.client.get("InferenceCluster", name)
    assert isinstance(cluster, InferenceCluster)
    ready = find_condition(cluster.status.conditions, "Ready")
    return ready is not None and ready.status == "True"


def _apply(client: Client, text: str) -> None:
    for obj in load_text(text):
        client.apply(obj)


def _scheduled(client: Client, name: str) -> tuple[str, str, str] | None:
    deployment = client.get("ModelDeployment", name, namespace=NS)
    assert isinstance(deployment, ModelDeployment)
    c = find_condition(deployment.status.conditions, "ReplicasScheduled")
    return (c.status, c.reason, c.message) if c is not None else None


def _refused(client: Client, name: str) -> str:
    """The ReplicasScheduled message, once the scheduler has refused every replica."""
    seen = eventually(f"{name} to be refused by placement",
                      lambda: (s := _scheduled(client, name)) is not None and s[0] == "False" and s)
    assert isinstance(seen, tuple)
    return seen[2]


def _team_sees(client: Client) -> str:
    """Everything the team can read in its namespace, as one text."""
    docs: list[dict[str, Any]] = []
    for kind in ("ModelDeployment", "ModelReplica", "ModelEndpoint", "ModelService"):
        docs += [o.wire() for o in client.list(kind, namespace=NS).items]
    return json.dumps(docs)


def _crashloop_message(client: Client, replica: str) -> str:
    def probe() -> str | None:
        try:
            r = client.get("ModelReplica", replica, namespace=NS)
        except ApiError:  # not created yet
            return None
        assert isinstance(r, ModelReplica)
        ready = find_condition(r.status.conditions, "Ready")
        return ready.message if ready is not None and ready.reason == "CrashLoopBackOff" else None

    return eventually(f"{replica} to crash-loop", probe, timeout=90)


def test_attack1_a_team_host_command_is_not_placed_and_not_run(fleet: Fleet, team: Client, marker: Path) -> None:
    """Attack 1: `command: [sh, -c, "id > /tmp/x; exec sleep 30"]` on the `local` cluster."""
    _apply(team, sim_deployment("hostcmd", NS, command=["sh", "-c", f"id > {marker}; exec sleep 30"], args=[], match_labels=LOCAL))
    message = _refused(team, "hostcmd")
    assert "local: does not run this engine" in message
    assert "allowed engines: sim (any image: laneway engine sim), llamacpp (any image: laneway engine llamacpp)" in message
    assert fleet.replicas(NS, "hostcmd") == [] and fleet.engine_processes(NS, prefix="hostcmd") == []
    assert not marker.exists(), "the team's command ran on the host"
    team.delete("ModelDeployment", "hostcmd", namespace=NS)


def test_attack1_editing_a_running_engine_into_a_host_command_stops_it_and_runs_nothing(
        fleet: Fleet, team: Client, marker: Path, canary: str) -> None:
    """Attack 1, after placement: a Ready simulator edited to a host command (and to a loader variable)."""
    _apply(team, sim_deployment("edited", NS, match_labels=LOCAL))
    (replica,) = fleet.ready_replicas(NS, "edited", 1, timeout=90)
    (engine,) = fleet.engine_processes(NS, prefix="edited")
    process = psutil.Process(engine.pid)
    env = process.environ()
    assert canary not in json.dumps(env), "the engine sees laneway's environment"
    assert set(env) - ENGINE_BASE_ENV <= {k for k in env if k.startswith(("LANEWAY_", "MODELPLANE_"))}, sorted(env)
    if os.geteuid() == 0:
        assert process.uids().real == 65534 and process.gids().real == 65534
    assert Path(process.cwd()).parent.parent == fleet.up.data_dir / "engines"

    edited = sim_deployment("edited", NS, command=["sh", "-c", f"id > {marker}; exec sleep 30"], args=[], match_labels=LOCAL)
    _apply(team, edited)
    assert "does not run this engine" in _refused(team, "edited")
    eventually("the edited replica to go", lambda: not fleet.replicas(NS, "edited"))
    eventually("its engine to stop", lambda: alive([engine.pid]) == [])
    assert not marker.exists(), "the edited command ran on the host"
    assert replica.metadata.uid and not (fleet.up.data_dir / "engines" / replica.metadata.uid).exists(), "its working directory stays"
    team.delete("ModelDeployment", "edited", namespace=NS)
    eventually("edited to go", lambda: not fleet.replicas(NS, "edited"))


def test_attack2_the_admin_token_never_reaches_a_status(fleet: Fleet, team: Client, canary: str) -> None:
    """Attack 2: an engine that runs `cat <data-dir>/admin.token; exit 1` and reads the store,
    for the crash-loop log tail in its Ready condition. On `local` it is refused outright; on the
    any-command cluster it runs, confined, and finds nothing to read."""
    data = fleet.up.data_dir
    admin_token = (data / "admin.token").read_text().strip()
    steal = (f"cat {data}/admin.token; head -c 4000 {data}/laneway.db; ls -la {data}; env; seq 1 100; "
             "python3 -c \"print('x' * 5000)\"; exit 1")
    _apply(team, sim_deployment("steal-local", NS, command=["sh", "-c", steal], args=[], match_labels=LOCAL))
    assert "does not run this engine" in _refused(team, "steal-local")

    _apply(team, sim_deployment("steal", NS, command=["sh", "-c", steal], args=[],
                                match_labels={"laneway.dev/region": ANY_COMMAND_REGION}))
    message = _crashloop_message(team, "steal-0")
    assert "exited with code 1" in message
    tail = message.split("last log lines:\n", 1)[1]
    assert len(tail.splitlines()) <= 10 and all(len(line) <= 200 for line in tail.splitlines()), tail
    seen = _team_sees(team)
    assert admin_token not in seen and canary not in seen
    # Not filtered out of the status: the engine never read it (the log laneway keeps says so).
    (log,) = (data / "logs" / NS / "steal-0").glob("*.log")
    text = log.read_text(errors="replace")
    assert admin_token not in text and canary not in text and "SQLite format" not in text
    assert f"cat: {data}/admin.token: No such file or directory" in text or f"cat: {data}/admin.token: Permission denied" in text
    for name in ("steal-local", "steal"):
        team.delete("ModelDeployment", name, namespace=NS)
    eventually("steal to go", lambda: not fleet.replicas(NS, "steal"))


PROBE = textwrap.dedent("""\
    import json, os, sys
    data, neighbour = sys.argv[1], sys.argv[2]
    def attempt(what, action):
        try:
            return what, "READ " + repr(action())[:80]
        except OSError as e:
            return what, type(e).__name__
    results = dict([
        attempt("list data dir", lambda: os.listdir(data)),
        attempt("admin token", lambda: open(os.path.join(data, "admin.token")).read()),
        attempt("store", lambda: open(os.path.join(data, "laneway.db"), "rb").read(16)),
        attempt("server info", lambda: open(os.path.join(data, "server.json")).read()),
        attempt("neighbour file", lambda: open(os.path.join(neighbour, "secret.txt")).read()),
        attempt("list neighbour", lambda: os.listdir(neighbour)),
    ])
    others = []
    for pid in [p for p in os.listdir("/proc") if p.isdigit() and int(p) != os.getpid()]:
        try:
            others.append(open("/proc/%s/environ" % pid, "rb").read().decode(errors="replace"))
        except OSError:
            pass
    own = open("mine.txt", "w")
    own.write("written in my own directory")
    own.close()
    results["uid"] = os.getuid()
    results["cwd"] = os.getcwd()
    results["env"] = dict(os.environ)
    results["others"] = others
    print("PROBE " + json.dumps(results), flush=True)
    sys.exit(1)
    """)


def test_a_confined_engine_cannot_read_laneway_data_another_replica_or_laneway_environment(
        fleet: Fleet, team: Client, canary: str) -> None:
    """The confinement, tested for real: an engine the platform allowed (any command) tries to
    read the data directory, the admin token, the store and another replica's directory, and
    looks for laneway's environment. Attack 2's way in, and attack 1's consequences."""
    data = fleet.up.data_dir
    any_command = {"laneway.dev/region": ANY_COMMAND_REGION}
    keep = "open('secret.txt', 'w').write('neighbour secret'); import time; time.sleep(600)"
    _apply(team, sim_deployment("neighbour", NS, command=[sys.executable, "-c", keep], args=[], match_labels=any_command))
    secret = eventually("the neighbour to write its file", lambda: next((data / "engines").glob("*/*/secret.txt"), None), timeout=90)
    assert isinstance(secret, Path)
    neighbour_dir = secret.parent

    _apply(team, sim_deployment("prober", NS, command=[sys.executable, "-c", PROBE, str(data), str(neighbour_dir)], args=[],
                                match_labels=any_command))

    def report() -> dict[str, Any] | None:
        for log in (data / "logs" / NS / "prober-0").glob("*.log"):
            for line in log.read_text(errors="replace").splitlines():
                if line.startswith("PROBE "):
                    found: dict[str, Any] = json.loads(line[len("PROBE "):])
                    return found
        return None

    found = eventually("the probe's report", report, timeout=90)
    env, others = found.pop("env"), found.pop("others")
    uid, cwd = found.pop("uid"), Path(found.pop("cwd"))
    listing = found.pop("list data dir")
    assert not listing.startswith("READ") or not any(n in listing for n in ("admin.token", "laneway.db", "logs", "cache")), listing
    assert not any(v.startswith("READ") for v in found.values()), found
    assert canary not in json.dumps(others), "another process's environment (laneway's) is visible"
    assert found["admin token"] == "FileNotFoundError" and found["neighbour file"] == "FileNotFoundError"
    assert canary not in json.dumps(env), "the engine sees laneway's environment"
    assert set(env) - ENGINE_BASE_ENV <= {k for k in env if k.startswith(("LANEWAY_", "MODELPLANE_"))}, sorted(env)
    assert env["LANEWAY_REPLICA"] == "prober-0" and env["HOME"] == str(cwd)
    if os.geteuid() == 0:
        assert uid == 65534
    assert cwd.parent.parent == data / "engines" and cwd != neighbour_dir
    assert (cwd / "mine.txt").read_text() == "written in my own directory"
    assert secret.read_text() == "neighbour secret"
    cluster = team.get("InferenceCluster", "lw-any-command")
    assert isinstance(cluster, InferenceCluster)
    backend = find_condition(cluster.status.conditions, "BackendReady")
    assert backend is not None, "the cluster says how its engines are confined"
    if shutil.which("bwrap"):
        assert "engines run confined by bubblewrap" in backend.message, backend.message
    for name in ("neighbour", "prober"):
        team.delete("ModelDeployment", name, namespace=NS)
    eventually("the probes to go", lambda: not fleet.replicas(NS, "neighbour") and not fleet.replicas(NS, "prober"))
    fleet.wait_engine_processes(NS, 0)
