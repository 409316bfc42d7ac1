"""Pause Python's cyclic garbage collector while the scheduler runs.

Why: a re-plan allocates hundreds of thousands of small records (capacity ledgers, pod lists,
placements) that reference counting frees on its own, since they form no cycles. Each few
thousand allocations still make the cyclic collector run, and every so often it walks the
whole heap, which in a control plane is dominated by the caller's own objects (thousands of
validated clusters, classes, replicas and deployments). Measured on the benchmark fleet
(`benchmarks/placement.py`), those full walks were 35-50% of a re-plan's CPU time.

Pausing is safe: nothing the scheduler frees depends on the cyclic collector, and collection
resumes the moment planning ends (only if it was enabled before; a caller that disabled it
keeps it disabled). The collector then catches up in at most one pass, as it would have.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collection_paused() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
