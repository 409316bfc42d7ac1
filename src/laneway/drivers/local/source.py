"""Registers the `Local` cluster source: engines as confined processes on this machine, and
caches as files under the data directory (which a control plane stages even when it runs no
Local driver itself)."""

from __future__ import annotations

from laneway.drivers.base import Driver, StandaloneStager
from laneway.drivers.registry import DriverContext, StagerContext, register_source


def _driver(context: DriverContext) -> Driver:
    from laneway.drivers.local.driver import (
        LocalDriver,  # engines, sandbox: loaded when first used
    )

    return LocalDriver(logs_dir=context.logs_dir, cache_dir=context.cache_dir, data_dir=context.data_dir)


def _stager(context: StagerContext) -> StandaloneStager:
    from laneway.drivers.local.caches import LocalCaches

    return LocalCaches(context.cache_dir, retry_after=context.retry_after, clock=context.clock)


register_source("Local", driver=_driver, standalone_stager=_stager)
