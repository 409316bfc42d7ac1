"""A ModelCache's state on one cluster, as every driver reports it.

Neutral ground between the cache controller and the drivers that stage caches: the Local
path computes it from the staged directory, the Kubernetes driver from its hydration Job.
Nothing here knows how a cluster stages weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

CacheStateName = Literal["Pending", "Hydrating", "Ready", "Failed"]


@dataclass(frozen=True)
class CacheState:
    """Pending, Hydrating, Ready (with the staged size in bytes when known) or Failed, and why."""

    state: CacheStateName
    message: str | None = None
    bytes: int | None = None
