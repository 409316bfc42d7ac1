"""Reading demand: the gateway's per-service gauges and the engines' queue metrics.

Both are read over HTTP from Prometheus text (`/metrics`), so the autoscaler works the same
whether the gateway runs in its process (`laneway up`) or elsewhere. Engines that export
vLLM's names (`vllm:num_requests_running`, `vllm:num_requests_waiting`; the simulator does)
add their own view of the queue; engines that do not are simply not counted.

A read that fails (the gateway restarting) yields `None`, and the controller then keeps the
replica count as it is rather than scaling on missing data.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from laneway.api.meta import ObjectKey
from laneway.autoscale.gauges import IN_FLIGHT_METRIC, QUEUED_METRIC

SCRAPE_TIMEOUT = 2.0
ENGINE_RUNNING = ("vllm:num_requests_running", "vllm_num_requests_running", "llamacpp:requests_processing", "llamacpp_requests_processing")
ENGINE_WAITING = ("vllm:num_requests_waiting", "vllm_num_requests_waiting", "llamacpp:requests_deferred", "llamacpp_requests_deferred")


@dataclass(frozen=True)
class ServiceLoad:
    in_flight: float = 0.0
    queued: float = 0.0


@dataclass(frozen=True)
class EngineLoad:
    running: float = 0.0
    waiting: float = 0.0


class GatewayDemand(Protocol):
    async def services(self) -> Mapping[ObjectKey, ServiceLoad] | None: ...


class EngineDemand(Protocol):
    async def engines(self, urls: Iterable[str]) -> EngineLoad | None: ...


def parse_gateway(text: str) -> dict[ObjectKey, ServiceLoad]:
    loads: dict[ObjectKey, dict[str, float]] = {}
    for family in text_string_to_metric_families(text):
        if family.name not in (IN_FLIGHT_METRIC, QUEUED_METRIC):
            continue
        for sample in family.samples:
            key = ObjectKey(sample.labels.get("namespace", ""), sample.labels.get("service", ""))
            loads.setdefault(key, {})[family.name] = sample.value
    return {k: ServiceLoad(v.get(IN_FLIGHT_METRIC, 0.0), v.get(QUEUED_METRIC, 0.0)) for k, v in loads.items()}


def parse_engine(text: str) -> EngineLoad | None:
    running = waiting = None
    for family in text_string_to_metric_families(text):
        names = {family.name, family.name.replace(":", "_")}
        total = sum(s.value for s in family.samples if not s.name.endswith(("_created",)))
        if names & set(ENGINE_RUNNING):
            running = (running or 0.0) + total
        elif names & set(ENGINE_WAITING):
            waiting = (waiting or 0.0) + total
    if running is None and waiting is None:
        return None
    return EngineLoad(running or 0.0, waiting or 0.0)


async def _get_text(session: aiohttp.ClientSession, url: str, *, token: str | None = None) -> str | None:
    headers = {"Authorization": f"Bearer {token}"} if token else None
    try:
        async with session.get(url, headers=headers, timeout=aiohttp.ClientTimeout(total=SCRAPE_TIMEOUT)) as resp:
            if resp.status != 200:
                return None
            return await resp.text()
    except (TimeoutError, aiohttp.ClientError, OSError):
        return None


class ScrapedGatewayDemand:
    """Scrapes `<gateway>/metrics`. One short-lived session per read keeps no sockets around.

    The gateway serves `/metrics` to platform and admin tokens only: `token()` gives the one
    to send, asked on every read so a rotated token is picked up."""

    def __init__(self, address: str, *, token: Callable[[], str | None] | None = None) -> None:
        self.address = address.rstrip("/")
        self._token = token

    async def services(self) -> Mapping[ObjectKey, ServiceLoad] | None:
        token = self._token() if self._token is not None else None
        async with aiohttp.ClientSession() as session:
            text = await _get_text(session, self.address + "/metrics", token=token)
        return None if text is None else parse_gateway(text)


class ScrapedEngineDemand:
    async def engines(self, urls: Iterable[str]) -> EngineLoad | None:
        urls = list(urls)
        if not urls:
            return None
        async with aiohttp.ClientSession() as session:
            texts = await asyncio.gather(*(_get_text(session, u.rstrip("/") + "/metrics") for u in urls))
        loads = [parse_engine(t) for t in texts if t is not None]
        found = [load for load in loads if load is not None]
        if not found:
            return None
        return EngineLoad(sum(load.running for load in found), sum(load.waiting for load in found))
