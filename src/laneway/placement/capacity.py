"""What a pool has left: whole nodes (the default) or devices packed onto nodes (`accounting: Device`).

Node accounting charges one node per pod that claims any DRA device, as Modelplane does.
Device accounting packs pods onto nodes first-fit by their per-device counts, so two pods
claiming 4 of a node's 8 GPUs share one node. Either way the ledger never goes below zero for
a new placement; retained replicas are charged with `force` and may leave it short (a pool
that shrank under running replicas keeps them, and places nothing new).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

PodDemand = Mapping[str, int]
"""Devices one pod claims, by class device name. An empty demand claims no DRA device."""


class PoolCapacity:
    """A mutable ledger for one pool, cheap to copy for backtracking."""

    __slots__ = ("accounting", "fresh", "nodes", "partial", "per_node")

    def __init__(self, *, nodes: int, per_node: Mapping[str, int], accounting: str) -> None:
        self.accounting = accounting
        self.nodes = nodes
        self.per_node = dict(per_node)
        self.fresh = nodes  # nodes with nothing on them
        self.partial: list[dict[str, int]] = []  # free devices of nodes in use (device accounting)

    def copy(self) -> PoolCapacity:
        other = PoolCapacity.__new__(PoolCapacity)
        other.accounting = self.accounting
        other.nodes = self.nodes
        other.per_node = self.per_node
        other.fresh = self.fresh
        other.partial = [dict(n) for n in self.partial]
        return other

    @property
    def free_nodes(self) -> int:
        """Nodes with nothing on them."""
        return max(0, self.fresh)

    def fits_on_a_node(self, pod: PodDemand) -> bool:
        return all(self.per_node.get(d, 0) >= n for d, n in pod.items())

    def take(self, pods: Sequence[PodDemand], *, force: bool = False) -> bool:
        """Charge pods; all or nothing unless `force`. Returns whether they fit."""
        charged = [p for p in pods if p]
        if self.accounting != "Device":
            if not force and len(charged) > self.fresh:
                return False
            self.fresh -= len(charged)
            return True
        if not force and len(charged) == 1:
            return self._place(charged[0])  # one pod: _place changes nothing when it fails, no copy needed
        trial = self if force else self.copy()
        ok = True
        for pod in charged:
            if not trial._place(pod):
                ok = False
                if not force:
                    return False
                # Charged beyond what exists: the pool is over-committed by running replicas, so
                # no spare device it seemed to have is trusted for a new placement.
                trial.fresh -= 1
                trial.partial = []
        if not force:
            self.fresh, self.partial = trial.fresh, trial.partial
        return ok

    def _place(self, pod: PodDemand) -> bool:
        """First fit: a node in use with room, else a fresh node. Changes nothing when it fails."""
        items = tuple(pod.items())
        for i, node in enumerate(self.partial):
            if all(node.get(d, 0) >= n for d, n in items):
                for d, n in items:
                    node[d] -= n
                if not any(node.values()):
                    del self.partial[i]  # a full node takes no further pod: keep the first-fit scan short
                return True
        if self.fresh <= 0 or not self.fits_on_a_node(pod):
            return False
        self.fresh -= 1
        node = dict(self.per_node)
        for d, n in items:
            node[d] -= n
        if any(node.values()):
            self.partial.append(node)
        return True

    def describe_free(self) -> str:
        if self.accounting != "Device":
            return f"{self.free_nodes} free" if self.fresh != 1 else "1 free"
        spare = sum(sum(n.values()) for n in self.partial)
        return f"{self.free_nodes} empty nodes and {spare} spare devices on nodes in use"
