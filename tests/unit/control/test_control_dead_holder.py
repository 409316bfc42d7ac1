"""A manager on the same host takes over a lease whose holder process is gone, at once."""

from __future__ import annotations

import asyncio
import os
import socket

from laneway.control.manager import Manager, ManagerOptions, dead_local_holder
from laneway.store.memory import MemoryStore

HOST = "box-1.example"


def test_dead_holder_on_this_host_is_recognised() -> None:
    assert dead_local_holder(f"{HOST}-4242-abc123", hostname=HOST, pid_alive=lambda pid: False)
    assert not dead_local_holder(f"{HOST}-4242-abc123", hostname=HOST, pid_alive=lambda pid: True)


def test_other_hosts_and_other_formats_are_never_judged() -> None:
    never = lambda pid: False  # noqa: E731 - a process table where nothing runs
    assert not dead_local_holder("other-host-4242-abc123", hostname=HOST, pid_alive=never)
    assert not dead_local_holder("someone", hostname=HOST, pid_alive=never)
    assert not dead_local_holder(f"{HOST}-notapid-abc123", hostname=HOST, pid_alive=never)
    assert not dead_local_holder(f"{HOST}-{os.getpid()}-abc123", hostname=HOST, pid_alive=never)


def test_manager_takes_over_from_a_dead_local_holder_without_waiting_for_expiry() -> None:
    store = MemoryStore()
    dead_pid = 2**22 + 12345  # above Linux's default pid_max: no such process
    assert store.acquire_lease("laneway-controller-manager", f"{socket.gethostname()}-{dead_pid}-abc123", 3600)
    manager = Manager(store, [], identity=f"{socket.gethostname()}-{os.getpid()}-def456", options=ManagerOptions())

    async def run() -> bool:
        stop = asyncio.Event()
        task = asyncio.create_task(manager.run(stop))
        for _ in range(100):
            if manager.is_leader:
                break
            await asyncio.sleep(0.02)
        leading = manager.is_leader
        stop.set()
        await task
        return leading

    assert asyncio.run(run())
