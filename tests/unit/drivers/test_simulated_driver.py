"""The simulated-cluster driver: Ready without processes, unreachable on demand, endpoints
answered by one in-process simulator (a real HTTP server on loopback)."""

from __future__ import annotations

import asyncio

import aiohttp

from laneway.api.kinds.platform import InferenceCluster
from laneway.drivers.registry import DriverSet
from laneway.drivers.simulated.driver import SimulatedDriver
from laneway.placement import plan
from laneway.placement.compose import compose_replica
from laneway.testing.simfleet import gpu_classes, model_deployment, simulated_cluster


def replica_on(cluster: InferenceCluster):  # type: ignore[no-untyped-def]
    d = model_deployment("m")
    placed = plan(d, clusters=[ready(cluster)], classes=gpu_classes())
    return compose_replica(d, placed.replicas[0])


def ready(cluster: InferenceCluster) -> InferenceCluster:
    from laneway.api.meta import Condition

    status = cluster.status.model_copy(
        update={"conditions": [Condition(type="Ready", status="True", reason="T")], "gateway": cluster.status.gateway.model_copy(update={"address": "x"})}
    )
    return cluster.model_copy(update={"status": status})


def test_the_registry_knows_the_simulated_source(tmp_path) -> None:  # type: ignore[no-untyped-def]
    drivers = DriverSet(logs_dir=tmp_path)
    assert isinstance(drivers.for_cluster(simulated_cluster("c", [("p", "h100", 1)])), SimulatedDriver)


def test_ready_after_startup_and_not_while_unreachable() -> None:
    now = [100.0]
    driver = SimulatedDriver(clock=lambda: now[0])
    cluster = simulated_cluster("c", [("p", "h100", 1)], startup_seconds=5)
    r = replica_on(cluster)

    async def run() -> None:
        assert (await driver.observe(r)).reason == "NotApplied"
        await driver.apply(r, cluster)
        assert not (await driver.observe(r)).ready and driver.starting_for(r) == 5
        now[0] += 5
        seen = await driver.observe(r)
        assert seen.ready and seen.addresses == (), "endpoints: None publishes nothing"
        down = simulated_cluster("c", [("p", "h100", 1)], reachable=False)
        assert (await driver.healthy(down))[0] is False
        await driver.apply(r, down)
        assert (await driver.observe(r)).reason == "ClusterUnreachable"
        await driver.teardown(r)
        assert (await driver.observe(r)).reason == "NotApplied"
        await driver.close()

    asyncio.run(run())


def test_simulator_endpoints_answer_chat() -> None:
    driver = SimulatedDriver()
    cluster = simulated_cluster("c", [("p", "h100", 1)], endpoints="Simulator")
    r = replica_on(cluster)

    async def run() -> None:
        try:
            await driver.apply(r, cluster)
            seen = await driver.observe(r)
            [address] = seen.addresses
            assert address.url.startswith("http://127.0.0.1:") and address.ready
            async with aiohttp.ClientSession() as http:
                body = {"model": address.models[0], "messages": [{"role": "user", "content": "hi"}], "max_tokens": 3}
                async with http.post(address.url + "/v1/chat/completions", json=body, timeout=aiohttp.ClientTimeout(total=30)) as resp:
                    assert resp.status == 200
                    assert (await resp.json())["choices"][0]["message"]["content"]
        finally:
            await driver.close()

    asyncio.run(run())
