"""Which KV blocks one engine holds, kept from the engine's own KV-cache events. Pure.

The events follow vLLM's KV-cache events (`vllm.distributed.kv_events`: `BlockStored`,
`BlockRemoved`, `AllBlocksCleared`, sent in batches with a timestamp), carried as JSON, one
batch per line:

    {"ts": 1733390000.5, "seq": 17, "events": [
      {"type": "BlockStored", "block_hashes": [11, 12], "parent_block_hash": 10,
       "token_ids": [], "block_size": 256, "lora_id": null, "medium": "GPU"},
      {"type": "BlockRemoved", "block_hashes": [7], "medium": "GPU"},
      {"type": "AllBlocksCleared"}]}

vLLM publishes the same records msgpack-encoded on a ZMQ PUB socket; laneway's gateway reads the
JSON-lines form over HTTP (`GET /kv_events` on the engine, see `engine_watch`), which the
simulator serves. A stream starts with `AllBlocksCleared` followed by one `BlockStored` of every
block held (a snapshot), so an index built from a fresh connection is exact; `seq` counts batches
and a gap means batches were lost, so the index is not trusted until the next connection.

A hostile or broken engine cannot grow the index without bound: past `max_blocks` the index is
dropped and marked unsynced (the policy then treats the endpoint as holding nothing).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from laneway.gateway.prefix import BlockHash

MAX_BLOCKS = 1 << 20
"""Blocks one endpoint's index may hold (an H100 running an 8B model holds ~30K blocks of 16
tokens; this is far above any real cache and bounds memory at a few tens of MB)."""
MAX_LINE_BYTES = 4 << 20
"""Longest event batch accepted; a longer line ends the connection."""


class KVEventError(ValueError):
    """An event batch that is not in the accepted format; the message says what was wrong."""


@dataclass(frozen=True)
class BlockStored:
    block_hashes: tuple[BlockHash, ...]
    parent_block_hash: BlockHash | None = None


@dataclass(frozen=True)
class BlockRemoved:
    block_hashes: tuple[BlockHash, ...]


@dataclass(frozen=True)
class AllBlocksCleared:
    pass


KVEvent = BlockStored | BlockRemoved | AllBlocksCleared


@dataclass(frozen=True)
class KVEventBatch:
    ts: float
    events: tuple[KVEvent, ...]
    seq: int | None = None


def _hashes(value: object, where: str) -> tuple[BlockHash, ...]:
    if not isinstance(value, list) or not all(isinstance(h, int) and not isinstance(h, bool) for h in value):
        raise KVEventError(f"{where}.block_hashes must be a list of integers")
    return tuple(value)


def parse_batch(line: bytes | str) -> KVEventBatch:
    """One JSON line of the event stream as a batch, or `KVEventError` saying what is wrong."""
    try:
        doc = json.loads(line)
    except ValueError as err:
        raise KVEventError(f"event batch is not JSON: {err}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("events"), list):
        raise KVEventError("event batch must be an object with an 'events' list")
    ts = doc.get("ts", 0.0)
    seq = doc.get("seq")
    if not isinstance(ts, (int, float)) or (seq is not None and not isinstance(seq, int)):
        raise KVEventError("event batch 'ts' must be a number and 'seq' an integer")
    events: list[KVEvent] = []
    for i, ev in enumerate(doc["events"]):
        where = f"events[{i}]"
        if not isinstance(ev, dict):
            raise KVEventError(f"{where} must be an object with a 'type'")
        kind = ev.get("type")
        if kind == "BlockStored":
            parent = ev.get("parent_block_hash")
            if parent is not None and not isinstance(parent, int):
                raise KVEventError(f"{where}.parent_block_hash must be an integer or null")
            events.append(BlockStored(_hashes(ev.get("block_hashes"), where), parent))
        elif kind == "BlockRemoved":
            events.append(BlockRemoved(_hashes(ev.get("block_hashes"), where)))
        elif kind == "AllBlocksCleared":
            events.append(AllBlocksCleared())
        else:
            raise KVEventError(f"{where}.type {kind!r} is not one of BlockStored, BlockRemoved, AllBlocksCleared")
    return KVEventBatch(float(ts), tuple(events), seq)


def encode_batch(events: Sequence[KVEvent], *, ts: float, seq: int, block_size: int) -> bytes:
    """One batch as a JSON line (what an engine sends; the simulator uses it)."""
    out: list[dict[str, object]] = []
    for ev in events:
        if isinstance(ev, BlockStored):
            out.append({"type": "BlockStored", "block_hashes": list(ev.block_hashes), "parent_block_hash": ev.parent_block_hash,
                        "token_ids": [], "block_size": block_size, "lora_id": None, "medium": "GPU"})
        elif isinstance(ev, BlockRemoved):
            out.append({"type": "BlockRemoved", "block_hashes": list(ev.block_hashes), "medium": "GPU"})
        else:
            out.append({"type": "AllBlocksCleared"})
    return json.dumps({"ts": ts, "seq": seq, "events": out}, separators=(",", ":")).encode() + b"\n"


@dataclass(eq=False)
class KVBlocks:
    """One endpoint's index: the block hashes its engine holds, as far as the events said."""

    max_blocks: int = MAX_BLOCKS
    blocks: set[BlockHash] = field(default_factory=set)
    synced: bool = False
    """True from a connection's snapshot until the stream breaks, skips a batch or overflows."""
    last_seq: int | None = None
    updated_at: float = 0.0
    batches: int = 0

    def reset(self) -> None:
        """A new connection: nothing is known until its snapshot arrives."""
        self.blocks.clear()
        self.synced = False
        self.last_seq = None

    def lost(self) -> None:
        """The stream broke: what the index holds may be out of date from now on."""
        self.synced = False

    def apply(self, batch: KVEventBatch, *, now: float) -> None:
        if batch.seq is not None and self.last_seq is not None and batch.seq != self.last_seq + 1:
            self.synced = False  # a batch went missing: wait for the next snapshot
        if batch.seq is not None:
            self.last_seq = batch.seq
        for ev in batch.events:
            if isinstance(ev, AllBlocksCleared):
                self.blocks.clear()
                self.synced = True
            elif isinstance(ev, BlockStored):
                self.blocks.update(ev.block_hashes)
            else:
                self.blocks.difference_update(ev.block_hashes)
        if len(self.blocks) > self.max_blocks:
            self.blocks.clear()
            self.synced = False
        self.updated_at = now
        self.batches += 1

    def prefix_hits(self, hashes: Iterable[BlockHash]) -> int:
        """How many leading blocks of a prompt this engine holds (0 while not synced)."""
        if not self.synced:
            return 0
        n = 0
        for h in hashes:
            if h not in self.blocks:
                break
            n += 1
        return n
