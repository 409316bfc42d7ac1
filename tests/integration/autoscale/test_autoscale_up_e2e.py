"""Autoscaling end to end through a real `laneway up`: the real autoscaler, deployment and
replica controllers, the local driver starting simulator engine processes, the gateway, and
a closed-loop load generator on loopback.

One deployment starts at zero replicas with short windows (scale down after 3 s, to zero
after 6 s idle). The first request is held by the gateway while the first replica starts,
then answered; six clients in a loop (each request takes ~0.6 s, at 2 per replica) raise it
to its maximum of 3; when they stop, it falls back to zero and the engine processes go.
Time is real here (the policy's timing with a hand-driven clock is tested in
test_autoscale_gateway_sim.py and the unit tests); every wait is bounded.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "local"))

from local_fleet import Fleet, Up, alive, eventually, service, sim_deployment, wide_cluster

from laneway.api.conditions import find_condition
from laneway.api.kinds.deployment import ModelDeployment
from laneway.api.kinds.platform import InferenceCluster
from laneway.api.kinds.serving import ModelService

NS = "autoscale-e2e"
NAME = "chat"
WORKERS = 6
MAX_REPLICAS = 3


def _autoscaled_deployment() -> str:
    doc: dict[str, Any] = yaml.safe_load(sim_deployment(
        NAME, NS, replicas=0,
        args=["--port", "$(LANEWAY_PORT)", "--served-model-name", NAME, "--ttft", "0", "--itl", "0.02", "--max-tokens", "30"],
    ))
    doc["spec"]["autoscaling"] = {
        "minReplicas": 0, "maxReplicas": MAX_REPLICAS, "targetInFlight": 2,
        "scaleToZeroAfter": "6s", "scaleDownStabilization": "3s",
    }
    return yaml.safe_dump(doc, sort_keys=False)


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Fleet]:
    up = Up.start(tmp_path / "data")
    fleet: Fleet | None = None
    try:
        fleet = Fleet.connect(up)
        fleet.apply(wide_cluster())

        def cluster_ready() -> bool:
            cluster = fleet.client.get("InferenceCluster", "lw-wide")  # type: ignore[union-attr]
            assert isinstance(cluster, InferenceCluster)
            ready = find_condition(cluster.status.conditions, "Ready")
            return ready is not None and ready.status == "True"

        eventually("the test cluster lw-wide to be Ready", cluster_ready)
        yield fleet
    finally:
        engines = [p.pid for p in fleet.engine_processes()] if fleet else []
        if fleet:
            fleet.close()
        code = up.stop(signal.SIGINT)
        assert code == 0, up.output
        assert up.leftovers() == [] and alive(engines) == [], "engine processes left running after laneway up stopped"


def _deployment(fleet: Fleet) -> ModelDeployment:
    d = fleet.client.get("ModelDeployment", NAME, namespace=NS)
    assert isinstance(d, ModelDeployment)
    return d


async def _chat(session: aiohttp.ClientSession, gateway: str) -> tuple[int, dict[str, Any]]:
    async with session.post(gateway + "/v1/chat/completions",
                            json={"model": NAME, "messages": [{"role": "user", "content": "hi"}]}) as r:
        return r.status, await r.json(content_type=None)


async def _first_answer(gateway: str) -> tuple[float, int]:
    """Send the first request at zero replicas. Until the gateway's table carries the service
    and its scale-from-zero mark (the table follows the store a moment later) a request gets a
    fast 404 `model_not_found` or 503 `no_endpoint`; those are retried, and the first request
    that is held must be answered."""
    deadline = time.monotonic() + 60
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=90)) as session:
        fast_503 = 0
        while True:
            started = time.monotonic()
            status, body = await _chat(session, gateway)
            code = body.get("error", {}).get("code")
            if (status, code) in ((503, "no_endpoint"), (404, "model_not_found")) and time.monotonic() < deadline:
                fast_503 += 1
                await asyncio.sleep(0.1)
                continue
            assert status == 200, (status, body)
            return time.monotonic() - started, fast_503


async def _load(gateway: str, stop: asyncio.Event) -> list[int]:
    """A closed-loop load generator: `WORKERS` clients, each sending its next request as soon
    as the last is answered, until `stop`. Returns every status seen."""
    statuses: list[int] = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:

        async def worker() -> None:
            while not stop.is_set():
                status, _ = await _chat(session, gateway)
                statuses.append(status)

        await asyncio.gather(*(worker() for _ in range(WORKERS)))
    return statuses


async def _until(what: str, probe: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        seen = await asyncio.to_thread(probe)
        if seen:
            return seen
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        await asyncio.sleep(0.2)


def test_replicas_rise_with_load_and_fall_back_to_zero(fleet: Fleet) -> None:
    fleet.apply(_autoscaled_deployment() + "---\n" + service(NAME, NS))

    def marked() -> bool:
        svc = fleet.client.get("ModelService", NAME, namespace=NS)
        assert isinstance(svc, ModelService)
        return bool(svc.status.wire().get("scaleFromZero"))

    eventually("the autoscaler to mark the service scaleFromZero", marked, timeout=30)
    assert _deployment(fleet).spec.replicas == 0 and fleet.engine_processes(NS) == []

    async def scenario() -> tuple[float, list[int], list[int]]:
        seconds, _ = await _first_answer(fleet.gateway)
        counts: list[int] = []
        stop = asyncio.Event()
        load = asyncio.create_task(_load(fleet.gateway, stop))
        try:
            def at_max() -> bool:
                counts.append(_deployment(fleet).spec.replicas)
                return counts[-1] == MAX_REPLICAS and len(fleet.replicas(NS, NAME)) == MAX_REPLICAS

            await _until(f"{MAX_REPLICAS} replicas under load", at_max, timeout=60)
            await asyncio.to_thread(fleet.ready_replicas, NS, NAME, MAX_REPLICAS, timeout=60)
        finally:
            stop.set()
            statuses = await asyncio.wait_for(load, 60)
        return seconds, counts, statuses

    first, counts, statuses = asyncio.run(scenario())
    assert first < 60
    assert counts[0] >= 1 and max(counts) == MAX_REPLICAS and all(c <= MAX_REPLICAS for c in counts), counts
    assert statuses and set(statuses) == {200}, f"every request under load is answered: {sorted(set(statuses))}"
    assert len(fleet.wait_engine_processes(NS, MAX_REPLICAS)) == MAX_REPLICAS

    eventually("the deployment to fall back to zero replicas once the load stopped",
               lambda: _deployment(fleet).spec.replicas == 0, timeout=60, every=0.25)
    fleet.wait_engine_processes(NS, 0, timeout=30)
    autoscaling = _deployment(fleet).status.wire().get("autoscaling", {})
    assert autoscaling.get("reason") in ("ScaleToZero", "Idle"), autoscaling
    assert "lastActive" in autoscaling, "the autoscaler's memory is kept in the status for a restart"
