"""Registers the `Simulated` cluster source: clusters that exist only in laneway (see
`drivers/simulated/driver.py`). It stages no caches: a ModelCache is never staged on a
simulated cluster."""

from __future__ import annotations

from laneway.drivers.base import Driver
from laneway.drivers.registry import DriverContext, register_source


def _driver(context: DriverContext) -> Driver:
    from laneway.drivers.simulated.driver import SimulatedDriver

    return SimulatedDriver()


register_source("Simulated", driver=_driver)
