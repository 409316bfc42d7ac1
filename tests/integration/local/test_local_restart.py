"""laneway's own lifecycle with a local fleet: its engines never outlive it, and a new
`laneway up` on the same data directory reconciles back to the declared state.

One test, two instances in a row on one data directory and the same ports: the first is
killed with SIGKILL (the kernel stops its engines: PR_SET_PDEATHSIG); the second finds no
endpoint of the dead engines, starts the same replicas again (same names, clusters and uids)
so the service answers, and is stopped with SIGINT (it stops its engines itself). Whatever
fails, every instance is stopped and every engine it started is killed.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import httpx
import openai
from local_fleet import Fleet, Up, alive, eventually, free_port, service, sim_deployment, wide_cluster

NS = "keep"


def _start(data: Path, port: int, gateway_port: int, started: list[Up]) -> Fleet:
    up = Up.start(data, port=port, gateway_port=gateway_port)
    started.append(up)
    return Fleet.connect(up)


def _answers(fleet: Fleet) -> None:
    client = openai.OpenAI(base_url=fleet.service_url(NS, "keeper"), api_key="unused", max_retries=0, timeout=30)
    try:
        answer = client.chat.completions.create(model="keeper", messages=[{"role": "user", "content": "still there?"}])
        assert answer.choices[0].message.content
    finally:
        client.close()


def _answers_health(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def _state(fleet: Fleet) -> list[tuple[str, str, str | None]]:
    """What must survive a restart: the replicas, their clusters and identities, all Ready."""
    return [(r.name, r.spec.cluster_name, r.metadata.uid) for r in fleet.ready_replicas(NS, "keeper", 2, timeout=90)]


def test_engines_stop_with_laneway_and_a_restart_reconciles_to_the_same_state(tmp_path: Path) -> None:
    data = tmp_path / "data"
    port, gateway_port = free_port(), free_port()
    started: list[Up] = []
    engines: list[int] = []
    try:
        fleet = _start(data, port, gateway_port, started)
        fleet.apply(wide_cluster() + "---\n" + sim_deployment("keeper", NS, replicas=2) + "---\n" + service("keeper", NS))
        declared = _state(fleet)
        _answers(fleet)
        first = [p.pid for p in fleet.wait_engine_processes(NS, 2)]
        engines += first
        fleet.close()

        # SIGINT (Ctrl-C): laneway stops its engines before it exits.
        assert fleet.up.stop(signal.SIGINT) == 0, fleet.up.output
        assert alive(first) == [], "engine processes outlived laneway up stopped with SIGINT"

        fleet = _start(data, port, gateway_port, started)
        assert _state(fleet) == declared
        _answers(fleet)
        second = [p.pid for p in fleet.wait_engine_processes(NS, 2)]
        engines += second
        assert not set(second) & set(first)
        fleet.close()

        # SIGKILL: laneway cannot clean up; the kernel stops its engines (PR_SET_PDEATHSIG).
        fleet.up.process.kill()
        fleet.up.process.wait(timeout=10)
        eventually("the engines of a SIGKILLed laneway to stop", lambda: alive(second) == [], timeout=20)

        # The new instance takes over the killed one's lease and starts the same replicas
        # again; until then nothing routes to the dead engines' ports.
        fleet = _start(data, port, gateway_port, started)
        dead = [e.spec.url for e in fleet.endpoints(NS, "keeper") if not _answers_health(e.spec.url)]
        assert dead == [], "endpoints of engines that died with laneway were kept"
        assert _state(fleet) == declared
        _answers(fleet)
        engines += [p.pid for p in fleet.wait_engine_processes(NS, 2)]
        fleet.close()
    finally:
        for up in started:
            up.stop(signal.SIGINT)
        leftovers = alive(engines)
        for pid in leftovers:  # never leave an engine behind, even when a check above failed
            os.kill(pid, signal.SIGKILL)
    assert started[-1].process.returncode == 0, started[-1].output
    assert leftovers == [] and all(up.leftovers() == [] for up in started), "engine processes outlived laneway"
