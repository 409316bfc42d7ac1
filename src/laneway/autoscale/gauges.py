"""Demand as one gateway process sees it: requests in flight and queued, per service.

The proxy counts each request in `serving(service)` for its whole life and in
`waiting(service)` while it waits for a slot or for a replica to start; `DemandCollector`
exposes both on the gateway's `/metrics` as `laneway_gateway_in_flight` and
`laneway_gateway_queued` (labels `namespace`, `service`), which is what the autoscaler reads,
in this process or another. Counting is two dict updates per request.
"""

from __future__ import annotations

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from laneway.api.meta import ObjectKey

IN_FLIGHT_METRIC = "laneway_gateway_in_flight"
QUEUED_METRIC = "laneway_gateway_queued"
_NO_SERVICE = ObjectKey("", "")


class _Counted:
    """Counts one request under a key while inside the `with` block.

    A plain class rather than `contextlib.contextmanager`: the latter rewrites the traceback of
    the exception passing through, which fails for the gateway's frozen error records."""

    __slots__ = ("_counts", "_key")

    def __init__(self, counts: dict[ObjectKey, int], key: ObjectKey) -> None:
        self._counts = counts
        self._key = key

    def __enter__(self) -> None:
        self._counts[self._key] = self._counts.get(self._key, 0) + 1

    def __exit__(self, *exc: object) -> None:
        left = self._counts[self._key] - 1
        if left:
            self._counts[self._key] = left
        else:
            del self._counts[self._key]


class ServiceDemand:
    def __init__(self) -> None:
        self.in_flight: dict[ObjectKey, int] = {}
        self.queued: dict[ObjectKey, int] = {}

    def serving(self, key: ObjectKey | None) -> _Counted:
        return _Counted(self.in_flight, key or _NO_SERVICE)

    def waiting(self, key: ObjectKey | None) -> _Counted:
        return _Counted(self.queued, key or _NO_SERVICE)


class DemandCollector(Collector):
    """Prometheus collector over a `ServiceDemand` (register it on the gateway's registry)."""

    def __init__(self, demand: ServiceDemand) -> None:
        self.demand = demand

    def collect(self):  # type: ignore[no-untyped-def]
        in_flight = GaugeMetricFamily(IN_FLIGHT_METRIC, "Requests in flight at the gateway, queued ones included.", labels=["namespace", "service"])
        queued = GaugeMetricFamily(QUEUED_METRIC, "Requests waiting for a slot or for a replica to start.", labels=["namespace", "service"])
        for key, n in sorted(self.demand.in_flight.items()):
            if key == _NO_SERVICE:
                continue
            in_flight.add_metric([key.namespace, key.name], n)
        for key, n in sorted(self.demand.queued.items()):
            if key == _NO_SERVICE:
                continue
            queued.add_metric([key.namespace, key.name], n)
        yield in_flight
        yield queued
