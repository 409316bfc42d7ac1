"""The simulator's prefix cache: KV blocks in an LRU of a fixed capacity, as vLLM keeps them. Pure.

vLLM (automatic prefix caching, on by default in V1) splits each sequence's KV cache into
blocks, hashes every full block chained to its parent, and keeps a block after its sequence
ends, in an LRU of free blocks, until its space is needed: a later request whose prompt starts
with the same blocks skips their prefill. This module models exactly that bookkeeping:

- capacity is `capacity` blocks (`--kv-blocks`); a block is `block_chars` characters of the
  prompt's canonical text (`gateway.prefix`, ~64 tokens at 256), hashed the same way the gateway
  hashes (standing in for a shared tokenizer);
- a sequence needs blocks for its whole prompt plus its answer; the leading prompt blocks
  already cached are shared (hits), the rest are new: a hashed block per further full prompt
  block, and unhashed private blocks for the partial last one and the answer;
- blocks in use by a running sequence are pinned; when it ends they join the free LRU (most
  recent last) and stay cached; new blocks take free space first, then evict the least
  recently used free blocks;
- a sequence that does not fit even after evicting every free block waits (`allocate` returns
  None): the engine admits nothing past it until a running sequence ends, vLLM's behaviour
  when its KV cache is full (it also preempts; the simulator only queues).

Every store and eviction is recorded as a KV event (`gateway.kv_index` types) for the engine's
`/kv_events` stream. KV usage, as `vllm:kv_cache_usage_perc` reports it, is the pinned share.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from laneway.gateway.kv_index import BlockRemoved, BlockStored, KVEvent
from laneway.gateway.prefix import BlockHash


@dataclass(frozen=True)
class Allocation:
    """What one sequence holds: its prompt's hashed blocks (hits first) and its private ones."""

    hashed: tuple[BlockHash, ...]
    hits: int
    private: int


class PrefixCache:
    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"a prefix cache needs at least one block, got {capacity}")
        self.capacity = capacity
        self._pinned: dict[BlockHash, int] = {}
        self._free: OrderedDict[BlockHash, None] = OrderedDict()
        self._private = 0
        self._events: list[KVEvent] = []
        self.queried_blocks = 0
        self.hit_blocks = 0

    @property
    def used(self) -> int:
        """Blocks pinned by running sequences."""
        return len(self._pinned) + self._private

    @property
    def usage(self) -> float:
        return self.used / self.capacity

    @property
    def cached(self) -> int:
        """Hashed blocks held, pinned or free."""
        return len(self._pinned) + len(self._free)

    def holds(self, h: BlockHash) -> bool:
        return h in self._pinned or h in self._free

    def prefix_hits(self, hashes: Sequence[BlockHash]) -> int:
        n = 0
        for h in hashes:
            if not self.holds(h):
                break
            n += 1
        return n

    def allocate(self, hashes: Sequence[BlockHash], total_blocks: int) -> Allocation | None:
        """Pin the blocks a sequence needs, or None when they do not fit now (it must wait)."""
        total_blocks = max(total_blocks, len(hashes))
        hits = self.prefix_hits(hashes)
        new = total_blocks - hits
        revived = sum(1 for h in hashes[:hits] if h in self._free)  # cached, free, about to be pinned
        room = self.capacity - self.used - len(self._free)
        if new > room + len(self._free) - revived:
            return None
        for h in hashes[:hits]:
            if h in self._free:
                del self._free[h]
                self._pinned[h] = 1
            else:
                self._pinned[h] += 1
        stored = tuple(hashes[hits:])
        room_now = self.capacity - self.used - len(self._free)
        evict = max(0, new - room_now)
        if evict:
            removed = []
            for _ in range(evict):
                h, _none = self._free.popitem(last=False)
                removed.append(h)
            self._events.append(BlockRemoved(tuple(removed)))
        for h in stored:
            self._pinned[h] = 1
        if stored:
            self._events.append(BlockStored(stored, hashes[hits - 1] if hits else None))
        private = total_blocks - len(hashes)
        self._private += private
        self.queried_blocks += len(hashes)
        self.hit_blocks += hits
        return Allocation(tuple(hashes), hits, private)

    def release(self, allocation: Allocation) -> None:
        """A sequence ended: its hashed blocks stay cached (free, most recent last)."""
        self._private -= allocation.private
        for h in allocation.hashed:
            count = self._pinned[h] - 1
            if count:
                self._pinned[h] = count
            else:
                del self._pinned[h]
                self._free[h] = None

    def drain_events(self) -> list[KVEvent]:
        out, self._events = self._events, []
        return out

    def snapshot(self) -> tuple[BlockHash, ...]:
        """Every hashed block held, for a new event subscriber."""
        return tuple(self._pinned) + tuple(self._free)
