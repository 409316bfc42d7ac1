"""Registers the `Machines` cluster source: machines that join with `laneway agent` (see
`driver.py`). Its driver keeps everything in the store, so it needs one; caches are not
staged on machines by the control plane."""

from __future__ import annotations

from laneway.drivers.base import Driver
from laneway.drivers.registry import DriverContext, register_source


def _driver(context: DriverContext) -> Driver | None:
    if context.store is None:
        return None
    from laneway.drivers.machines.driver import MachinesDriver

    return MachinesDriver(context.store)


register_source("Machines", driver=_driver)
