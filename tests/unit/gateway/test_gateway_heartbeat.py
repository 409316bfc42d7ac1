"""A gateway that stops heartbeating stops counting: its figures leave ModelService status.

Two status writers (two gateways) share one store and a hand-moved wall clock: the slow
gateway's entry makes SLOMet False while it heartbeats, and the fast gateway drops that entry
(and the verdict turns) once the slow one's heartbeat lease lapses or is released.
"""

from __future__ import annotations

import asyncio

from laneway.api.conditions import find_condition
from laneway.api.kinds.serving import EndpointTokens, GatewayTraffic, ModelService, ModelServiceStatus, TrafficFigures
from laneway.api.meta import ObjectKey
from laneway.gateway import heartbeat
from laneway.gateway.metering import ServiceSummary
from laneway.gateway.status import StatusWriter, status_for
from laneway.gateway.table import RoutingTable, build_table
from laneway.store.base import Lease
from laneway.store.memory import MemoryStore

KEY = ObjectKey("ml", "chat")
INTERVAL = 1.0
TTL = 10.0


class Clock:
    now = 1_000.0

    def __call__(self) -> float:
        return self.now


def _service() -> ModelService:
    return ModelService.model_validate({
        "metadata": {"name": "chat", "namespace": "ml"},
        "spec": {"endpoints": [{"selector": {"matchLabels": {"d": "a"}}}], "slo": {"p95Latency": "1s"}},
    })


def _summary(p95: float) -> ServiceSummary:
    return ServiceSummary(requests_by_tier={"Primary": 20}, errors=0, samples=20, p95_latency=p95, p95_ttft=None)


def _writer(store: MemoryStore, table: RoutingTable, identity: str, p95: float, clock: Clock) -> StatusWriter:
    return StatusWriter(
        store, table=lambda: table, summary=lambda _key: _summary(p95), address=lambda _key: "http://gw/ml/chat",
        identity=identity, interval=INTERVAL, window=300.0, heartbeat_ttl=TTL, clock=clock,
    )


def _stored(store: MemoryStore) -> tuple[str, list[str]]:
    status = store.get(ModelService, KEY).status
    slo = find_condition(status.conditions, "SLOMet")
    assert slo is not None
    return slo.status, [t.gateway for t in status.traffic or []]


def test_a_dead_gateways_figures_stop_counting_once_its_heartbeat_lapses() -> None:
    clock = Clock()
    store = MemoryStore(clock=clock)
    store.create(_service())
    table = build_table(services=[store.get(ModelService, KEY)], endpoints=[], secrets=[])
    fast = _writer(store, table, "gw-fast", 0.2, clock)
    slow = _writer(store, table, "gw-slow", 3.0, clock)

    async def scenario() -> None:
        await slow.flush()
        await fast.flush()
        assert _stored(store) == ("False", ["gw-fast", "gw-slow"])  # both heartbeat: the slow one counts

        clock.now += TTL - 1  # the slow gateway was killed: no more beats, but its lease still runs
        await fast.flush()
        assert _stored(store) == ("False", ["gw-fast", "gw-slow"])

        clock.now += 2  # past its lease: its entry goes and the verdict is the live gateway's
        await fast.flush()
        assert _stored(store) == ("True", ["gw-fast"])

        await slow.flush()  # it comes back (same identity): it counts again
        await fast.flush()
        assert _stored(store) == ("False", ["gw-fast", "gw-slow"])

        await slow.release()  # a clean stop: no TTL to wait for
        await fast.flush()
        assert _stored(store) == ("True", ["gw-fast"])

    asyncio.run(scenario())


def test_the_heartbeat_lease_is_never_shorter_than_three_status_ticks() -> None:
    assert heartbeat.ttl(heartbeat_ttl=30.0, status_interval=5.0) == 30.0
    assert heartbeat.ttl(heartbeat_ttl=2.0, status_interval=5.0) == 15.0


def test_alive_needs_the_gateways_own_unexpired_lease() -> None:
    name = heartbeat.lease_name("gw-1")
    assert heartbeat.alive(Lease(name, "gw-1", expires_at=11.0), identity="gw-1", now=10.0)
    assert not heartbeat.alive(Lease(name, "gw-1", expires_at=10.0), identity="gw-1", now=10.0)
    assert not heartbeat.alive(Lease(name, "", expires_at=0.0), identity="gw-1", now=10.0)  # released
    assert not heartbeat.alive(None, identity="gw-1", now=10.0)  # never beat: an entry nobody serves


def test_status_for_retires_entries_of_gateways_not_live_and_keeps_the_live_ones() -> None:
    route = build_table(services=[_service()], endpoints=[], secrets=[]).services[KEY]
    tokens = {"a-0": EndpointTokens(tier="Primary", prompt=100, completion=40)}
    dead = GatewayTraffic(gateway="gw-dead", window_seconds=300, requests={"Primary": 30}, errors=5, p95_latency_seconds=9.0)
    metered = GatewayTraffic(gateway="gw-metered", window_seconds=300, requests={"Primary": 30}, errors=5,
                             p95_latency_seconds=9.0, requests_total=70, errors_total=6, since="2026-01-01T00:00:00Z",
                             tokens=tokens, entries={"endpoints[0]": TrafficFigures(requests={"Primary": 30}, errors=5)},
                             concurrency={"endpoints[0]": 8})
    live = GatewayTraffic(gateway="gw-live", window_seconds=300, requests={"Primary": 10}, errors=0, p95_latency_seconds=0.5)
    st = status_for(ModelServiceStatus(traffic=[dead, metered, live]), route, _summary(0.2), address="a", identity="gw-1",
                    window=300, live=frozenset({"gw-live"}))
    assert [t.gateway for t in st.traffic or []] == ["gw-1", "gw-live", "gw-metered"]  # nothing to keep of gw-dead
    slo = find_condition(st.conditions, "SLOMet")
    assert slo is not None and slo.status == "True"
    kept = (st.traffic or [])[2]
    # Its window figures are gone (no SLO or canary reads them); its lifetime totals stay for the economics.
    assert kept.wire() == {"gateway": "gw-metered", "windowSeconds": 300, "requests": {},
                           "requestsTotal": 70, "errorsTotal": 6, "since": "2026-01-01T00:00:00Z",
                           "tokens": {"a-0": {"tier": "Primary", "prompt": 100, "completion": 40}},
                           "concurrency": {"endpoints[0]": 8}}
    again = status_for(st, route, _summary(0.2), address="a", identity="gw-1", window=300, live=frozenset({"gw-live"}))
    assert again.traffic == st.traffic  # retiring is done once: the next write changes nothing
