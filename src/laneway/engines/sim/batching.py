"""The continuous batching loop: vLLM's scheduling shape without a model.

At most `max_num_seqs` sequences run; later ones wait in arrival order. A sequence that gets a
slot prefills for `prefill_seconds(...)` and then emits its first token, so its time to first
token is queue wait plus prefill. From then on it rides the engine step: one timer fires every
`itl` seconds and emits one token to every decoding sequence (a sequence that just prefilled
joins at the next step, as in vLLM where its prefill occupies one step). A finished or aborted
sequence frees its slot at once and the next waiting one is admitted in the same instant.

With a prefix cache (`--kv-blocks`, see `prefix_cache`), a sequence is admitted only when its KV
blocks fit, and its prefill covers only the prompt tokens not already cached. Prefill compute is
shared: the per-token part of every prefill runs on one lane, one after another (as an engine's
forward passes spend their token budget), so uncached prompt tokens delay the prefills behind
them; the fixed part (`ttft`) overlaps. Decode steps are not slowed by prefills (real chunked
prefill slows them somewhat; the simulator leaves that out).

The scheduler is a synchronous state machine, `advance(now) -> next wake-up`, so tests drive
it with a made-up clock; `run()` is the thin asyncio driver a server uses. Nothing here sleeps
per sequence: one task serves every stream.
"""

from __future__ import annotations

import asyncio
import enum
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from laneway.engines.sim.config import SimConfig
from laneway.engines.sim.prefix_cache import Allocation, PrefixCache
from laneway.engines.sim.requests import FinishReason
from laneway.gateway.kv_index import KVEvent
from laneway.gateway.prefix import BlockHash

StopReason = FinishReason | str  # "stop", "length", or "abort"


class Phase(enum.Enum):
    WAITING = "waiting"
    PREFILL = "prefill"
    DECODE = "decode"
    FINISHED = "finished"


@dataclass(eq=False)
class SimSequence:
    """One request's generation: its schedule, its output so far, and a stream of new tokens."""

    request_id: str
    prompt_tokens: int
    output: Sequence[str]
    finish_reason: FinishReason
    arrived_at: float
    phase: Phase = Phase.WAITING
    scheduled_at: float | None = None
    prefill_done_at: float | None = None
    first_token_at: float | None = None
    last_token_at: float | None = None
    finished_at: float | None = None
    stop_reason: StopReason | None = None
    emitted: int = 0
    blocks: tuple[BlockHash, ...] = ()
    """The prompt's block hashes (empty without a prefix cache)."""
    total_blocks: int = 0
    """KV blocks the whole sequence needs: prompt and answer."""
    cached_tokens: int = 0
    """Prompt tokens found in the prefix cache at admission (not prefilled again)."""
    allocation: Allocation | None = None
    _joined_step: int = -1
    _pending: deque[str] = field(default_factory=deque)
    _ready: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def finished(self) -> bool:
        return self.phase is Phase.FINISHED

    def _emit(self, now: float) -> None:
        self._pending.append(self.output[self.emitted])
        self.emitted += 1
        self.last_token_at = now
        self._ready.set()

    def _finish(self, now: float, reason: StopReason) -> None:
        self.phase = Phase.FINISHED
        self.finished_at = now
        self.stop_reason = reason
        self._ready.set()

    def drain(self) -> list[str]:
        """Tokens emitted since the last drain, without waiting."""
        out = list(self._pending)
        self._pending.clear()
        return out

    async def tokens(self) -> AsyncIterator[str]:
        """Each token as the engine emits it; ends when the sequence finishes or is aborted."""
        while True:
            for token in self.drain():
                yield token
            if self.finished:
                return
            self._ready.clear()
            await self._ready.wait()


class EngineObserver(Protocol):
    """What the metrics want to hear about; every call carries the engine's clock reading."""

    def on_first_token(self, seq: SimSequence, now: float) -> None: ...

    def on_token(self, seq: SimSequence, now: float, since_last: float) -> None: ...

    def on_finished(self, seq: SimSequence, now: float) -> None: ...


class _NoObserver:
    def on_first_token(self, seq: SimSequence, now: float) -> None:
        pass

    def on_token(self, seq: SimSequence, now: float, since_last: float) -> None:
        pass

    def on_finished(self, seq: SimSequence, now: float) -> None:
        pass


class BatchingEngine:
    """The scheduler. One owner calls `advance` (through `run`); handlers `submit` and `abort`."""

    def __init__(self, config: SimConfig, *, observer: EngineObserver | None = None,
                 clock: Callable[[], float] | None = None,
                 kv_listener: Callable[[list[KVEvent]], None] | None = None) -> None:
        self._config = config
        self.cache: PrefixCache | None = PrefixCache(config.kv_blocks) if config.kv_blocks else None
        self._kv_listener = kv_listener
        self._prefill_free_at = 0.0
        self._observer: EngineObserver = observer or _NoObserver()
        self._clock = clock or (lambda: asyncio.get_running_loop().time())
        self._waiting: deque[SimSequence] = deque()
        self._running: list[SimSequence] = []
        self._step = 0
        self._next_step_at: float | None = None
        self._wake = asyncio.Event()

    # -- what handlers call -------------------------------------------------------------------

    @property
    def num_running(self) -> int:
        return len(self._running)

    @property
    def num_waiting(self) -> int:
        return len(self._waiting)

    def tokens_in_flight(self) -> int:
        return sum(s.prompt_tokens + s.emitted for s in self._running)

    def submit(self, request_id: str, *, prompt_tokens: int, output: Sequence[str],
               finish_reason: FinishReason, now: float | None = None,
               blocks: tuple[BlockHash, ...] = (), total_blocks: int = 0) -> SimSequence:
        """Queue a sequence; it is admitted by the next `advance`, at once if a slot is free
        (and, with a prefix cache, once its `total_blocks` fit)."""
        seq = SimSequence(request_id=request_id, prompt_tokens=prompt_tokens, output=output,
                          finish_reason=finish_reason,
                          arrived_at=self._clock() if now is None else now,
                          blocks=blocks, total_blocks=total_blocks)
        self._waiting.append(seq)
        self._wake.set()
        return seq

    def abort(self, seq: SimSequence, now: float | None = None) -> None:
        """Drop a sequence whose client went away; its slot goes to the next waiting one."""
        if seq.finished:
            return
        when = self._clock() if now is None else now
        if seq.phase is Phase.WAITING:
            self._waiting.remove(seq)
        else:
            self._running.remove(seq)
            self._free_blocks(seq)
        seq._finish(when, "abort")
        self._observer.on_finished(seq, when)
        self._wake.set()

    # -- the scheduler ------------------------------------------------------------------------

    def advance(self, now: float) -> float | None:
        """Do everything due by `now`; return when something is next due (None: nothing to do)."""
        itl = self._config.itl
        while True:
            kv_full = self._admit(now)
            if self._next_step_at is not None and self._next_step_at <= now:
                self._step += 1
                for seq in list(self._running):
                    if seq.phase is Phase.DECODE and seq._joined_step < self._step:
                        self._next_token(seq, now)
                self._next_step_at += itl
                if self._next_step_at <= now:  # fell behind (a slow host): do not burst to catch up
                    self._next_step_at = now + itl
            # After the step: a sequence whose prefill ends now joins the *next* step.
            for seq in list(self._running):
                if seq.phase is Phase.PREFILL and seq.prefill_done_at is not None and seq.prefill_done_at <= now:
                    self._first_token(seq, now)
            if kv_full or not (self._waiting and len(self._running) < self._config.max_num_seqs):
                break
        decoding = any(s.phase is Phase.DECODE for s in self._running)
        if not decoding:
            self._next_step_at = None
        elif self._next_step_at is None:
            self._next_step_at = now + itl
        due = [s.prefill_done_at for s in self._running
               if s.phase is Phase.PREFILL and s.prefill_done_at is not None]
        if self._next_step_at is not None:
            due.append(self._next_step_at)
        if self.cache is not None and self._kv_listener is not None:
            events = self.cache.drain_events()
            if events:
                self._kv_listener(events)
        return min(due) if due else None

    def _admit(self, now: float) -> bool:
        """Start waiting sequences while slots (and KV blocks) allow; True when the head of the
        queue waits for KV blocks."""
        config = self._config
        while self._waiting and len(self._running) < config.max_num_seqs:
            seq = self._waiting[0]
            if self.cache is not None:
                allocation = self.cache.allocate(seq.blocks, seq.total_blocks)
                if allocation is None:
                    return True  # KV cache full: first come, first served, so nothing passes it
                seq.allocation = allocation
                seq.cached_tokens = min(seq.prompt_tokens - 1, seq.prompt_tokens * allocation.hits // (len(seq.blocks) + 1))
            self._waiting.popleft()
            seq.phase = Phase.PREFILL
            seq.scheduled_at = now
            lane = max(now, self._prefill_free_at) + config.prefill_per_token * (seq.prompt_tokens - seq.cached_tokens)
            self._prefill_free_at = lane
            seq.prefill_done_at = lane + config.ttft
            self._running.append(seq)
        return False

    def _free_blocks(self, seq: SimSequence) -> None:
        if self.cache is not None and seq.allocation is not None:
            self.cache.release(seq.allocation)
            seq.allocation = None

    def _first_token(self, seq: SimSequence, now: float) -> None:
        seq.first_token_at = now
        if not seq.output:
            self._complete(seq, now)
            return
        seq._emit(now)
        self._observer.on_first_token(seq, now)
        seq.phase = Phase.DECODE
        seq._joined_step = self._step
        if self._next_step_at is None:
            self._next_step_at = now + self._config.itl
        if seq.emitted >= len(seq.output):
            self._complete(seq, now)

    def _next_token(self, seq: SimSequence, now: float) -> None:
        since_last = now - (seq.last_token_at if seq.last_token_at is not None else now)
        seq._emit(now)
        self._observer.on_token(seq, now, since_last)
        if seq.emitted >= len(seq.output):
            self._complete(seq, now)

    def _complete(self, seq: SimSequence, now: float) -> None:
        self._running.remove(seq)
        self._free_blocks(seq)
        seq._finish(now, seq.finish_reason)
        self._observer.on_finished(seq, now)

    async def run(self) -> None:
        """Drive the scheduler until cancelled; one timer for the whole engine."""
        loop = asyncio.get_running_loop()
        while True:
            self._wake.clear()
            due = self.advance(loop.time())
            if due is None:
                await self._wake.wait()
                continue
            delay = due - loop.time()
            if delay <= 0:
                await asyncio.sleep(0)
                continue
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=delay)
            except TimeoutError:
                pass
