"""Engine load as the engines report it: parsing their metrics, and judging a reading. Pure.

Every balancing policy may read `EndpointState.load` (an `EngineLoad`); the scraper
(`load_scraper`) fills it off the hot path. What counts:

| figure | vLLM (V1) | older vLLM | llama.cpp server |
|---|---|---|---|
| waiting | `vllm:num_requests_waiting` | same | `llamacpp:requests_deferred` |
| running | `vllm:num_requests_running` | same | `llamacpp:requests_processing` |
| KV use (0..1) | `vllm:kv_cache_usage_perc` | `vllm:gpu_cache_usage_perc` | `llamacpp:kv_cache_usage_ratio` (older builds; newer ones publish none) |

An engine serving several models labels each series by `model_name`: the figures are summed (KV
use: the largest). A figure an engine does not publish stays None, and a reading older than
`STALE_AFTER` seconds (5: ten scrape intervals) is ignored (`fresh`), so a policy falls back to what the gateway itself
counts (its requests in flight) rather than trusting a number from before a stall.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from laneway.gateway.balancer import STALE_AFTER
from laneway.gateway.health import EndpointView, EngineLoad

__all__ = [
    "STALE_AFTER", "EngineLoad", "MetricsError", "Pressure", "about_to_queue", "fresh", "parse_load", "pressure",
    "saturated_running",
]

_WAITING = ("vllm:num_requests_waiting", "llamacpp:requests_deferred")
_RUNNING = ("vllm:num_requests_running", "llamacpp:requests_processing")
_KV = ("vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc", "llamacpp:kv_cache_usage_ratio")
_WANTED = frozenset(_WAITING + _RUNNING + _KV)


class MetricsError(ValueError):
    """The engine's `/metrics` answered something that is not Prometheus text."""


def parse_load(text: str, *, observed_at: float) -> EngineLoad:
    """The load figures in a Prometheus text exposition. Lines that are not one of the wanted
    series are skipped unread, so a large exposition costs little; a wanted line that does not
    parse raises `MetricsError`."""
    sums: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line[0] == "#":
            continue
        brace = line.find("{")
        space = line.find(" ")
        labelled = brace >= 0 and (space < 0 or brace < space)
        name = line[:brace] if labelled else line[:space] if space >= 0 else line
        if name not in _WANTED:
            continue
        value_part = line[line.rfind("}") + 1:] if labelled else line[len(name):]
        fields = value_part.split()
        try:
            value = float(fields[0])
        except (IndexError, ValueError):
            raise MetricsError(f"metric line {line[:120]!r} has no numeric value") from None
        if math.isnan(value):  # the engine has no figure yet
            continue
        if name in _KV:
            sums[name] = max(sums.get(name, 0.0), value)
        else:
            sums[name] = sums.get(name, 0.0) + value
    waiting = _first(sums, _WAITING)
    running = _first(sums, _RUNNING)
    kv = _first(sums, _KV)
    return EngineLoad(
        observed_at=observed_at,
        waiting=None if waiting is None else int(waiting),
        running=None if running is None else int(running),
        kv_cache_usage=None if kv is None else min(1.0, max(0.0, kv)),
    )


def _first(sums: dict[str, float], names: tuple[str, ...]) -> float | None:
    for n in names:
        if n in sums:
            return sums[n]
    return None


def saturated_running(previous: EngineLoad | None, current: EngineLoad) -> int | None:
    """How many requests the engine ran at once while it was full, or None when these two
    readings in a row do not show it full.

    Full means requests waited in both readings: a request queued for the length of a scrape
    interval is one the engine had no room for (a request caught between arrival and the next
    engine step is gone by the next reading). The fewer running of the two is what it held then;
    the most of such readings over time is the engine's measured concurrency (what the ticket's
    scaling row compares a peak with, instead of the declared `--max-num-seqs`)."""
    if previous is None or not previous.waiting or not current.waiting:
        return None
    if previous.running is None or current.running is None:
        return None
    held = min(previous.running, current.running)
    return held if held > 0 else None


def fresh(load: EngineLoad | None, now: float, *, stale_after: float = STALE_AFTER) -> EngineLoad | None:
    """The reading if it is recent enough to act on, else None."""
    if load is None or now - load.observed_at > stale_after:
        return None
    return load


@dataclass(frozen=True)
class Pressure:
    """How busy one endpoint is, from the gateway's own count and the engine's fresh reading."""

    queue: int
    """Requests ahead of a new one: in flight from this gateway, or the engine's running plus
    waiting when it reports more (other gateways send to it too)."""
    waiting: int
    """Requests the engine holds in its waiting queue (0 when unknown)."""
    kv_cache_usage: float
    """0..1; 0 when unknown."""


def pressure(view: EndpointView, now: float) -> Pressure:
    load = fresh(view.load, now)
    if load is None:
        return Pressure(view.in_flight, 0, 0.0)
    waiting = load.waiting or 0
    engine = waiting + (load.running or 0)
    return Pressure(max(view.in_flight, engine), waiting, load.kv_cache_usage or 0.0)


QUEUE_LIMIT = 4
"""An engine with this many requests waiting is about to queue a new one behind them."""
KV_LIMIT = 0.95
"""An engine whose KV cache is this full preempts or queues a new request."""


def about_to_queue(view: EndpointView, now: float, *, queue_limit: int = QUEUE_LIMIT) -> bool:
    """Whether the engine's own fresh reading says a new request would wait: its waiting queue
    is at `queue_limit` or its KV cache at `KV_LIMIT`. False without a fresh reading."""
    load = fresh(view.load, now)
    if load is None:
        return False
    return (load.waiting or 0) >= queue_limit or (load.kv_cache_usage or 0.0) >= KV_LIMIT
