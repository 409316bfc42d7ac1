"""The agent's own pieces: which ordered processes may start, the identity it keeps, and the
door that forwards a gateway's connection to an engine on loopback."""

from __future__ import annotations

import asyncio
from pathlib import Path

from laneway.api.kinds.deployment import ModelReplica
from laneway.drivers.machines.agent import Identity, runnable
from laneway.drivers.machines.forward import PortForwards
from laneway.drivers.machines.protocol import RunOrder


def _gang() -> ModelReplica:
    member = {"nodeSelector": {"devices": [{"name": "gpu", "selectors": [{"cel": "true"}]}]},
              "template": {"spec": {"containers": [{"name": "engine", "image": "laneway/engine-sim"}]}}}
    return ModelReplica.model_validate({
        "metadata": {"name": "g", "namespace": "ml", "uid": "g"},
        "spec": {"clusterName": "rack", "engines": [{"name": "sim", "members": [
            {"role": "Leader", **member}, {"role": "Worker", "worker": {"nodes": 2}, **member}]}]},
    })


def test_a_worker_starts_once_its_leader_is_known_or_runs_beside_it() -> None:
    gang = _gang()
    workers = RunOrder(replica={}, processes=["sim-0-worker-1", "sim-0-worker-2"])
    assert runnable(gang, workers) == frozenset(), "the leader's address is not known yet"
    known = workers.model_copy(update={"leader_addresses": {"sim-0": "10.0.0.21:40123"}})
    assert runnable(gang, known) == {"sim-0-worker-1", "sim-0-worker-2"}
    beside = RunOrder(replica={}, processes=["sim-0-leader-0", "sim-0-worker-2"])
    assert runnable(gang, beside) == {"sim-0-leader-0", "sim-0-worker-2"}
    assert runnable(gang, RunOrder(replica={}, processes=["sim-0-worker-9"])) == frozenset(), "no such process"


def test_the_identity_is_kept_owner_only_and_a_damaged_one_is_none(tmp_path: Path) -> None:
    identity = Identity(server="https://cp:8472", cluster="rack", machine="gpu-a", pool="h200", credential="lw_secret")
    identity.save(tmp_path)
    assert (tmp_path / "agent.json").stat().st_mode & 0o077 == 0
    assert Identity.load(tmp_path) == identity
    (tmp_path / "agent.json").write_text("{not json")
    assert Identity.load(tmp_path) is None
    assert Identity.load(tmp_path / "missing") is None


def test_a_door_forwards_bytes_both_ways_and_closes_with_its_engine() -> None:
    async def run() -> None:
        async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(b"engine says " + await reader.readline())
            await writer.drain()
            writer.close()

        engine = await asyncio.start_server(echo, "127.0.0.1", 0)
        engine_port = engine.sockets[0].getsockname()[1]
        doors = PortForwards("127.0.0.1")
        try:
            door = await doors.ensure(engine_port)
            assert door != engine_port and await doors.ensure(engine_port) == door, "one door per engine"
            reader, writer = await asyncio.open_connection("127.0.0.1", door)
            writer.write(b"hello\n")
            await writer.drain()
            assert await asyncio.wait_for(reader.read(), 10) == b"engine says hello\n"
            writer.close()
            await doors.keep(set())
            try:
                await asyncio.open_connection("127.0.0.1", door)
            except OSError:
                pass
            else:
                raise AssertionError("the door of an engine no longer running here is closed")
        finally:
            await doors.close()
            engine.close()
            await engine.wait_closed()

    asyncio.run(run())
