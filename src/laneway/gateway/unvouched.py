"""The endpoints every data boundary now excludes because nobody but a team vouches for where
they send data, for `laneway audit`. Pure.

The boundary reads a team-written endpoint's labels only through a provider the platform
vouches for at its host (`laneway.gateway.provenance`). An endpoint written before laneway
stamped `laneway.dev/written-by` carries no stamp and is taken as the team's, so after an
upgrade a service with a `dataBoundary` may lose an overflow endpoint that routed the day
before. The gateway says so in the service's `status.excluded`; this lists every such endpoint
across the fleet, with the services it left and the fix, so an operator finds them all at
once. Only endpoints a bounded service selects are listed: without a boundary a team's
endpoint is routed as before, and one no service selects takes no traffic either way.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from laneway.api.kinds.platform import ExternalProvider
from laneway.api.kinds.serving import ModelEndpoint, ModelService
from laneway.api.labels import WRITTEN_BY_ANNOTATION
from laneway.gateway.provenance import boundary_evidence, vouch_hint


@dataclass(frozen=True)
class UnvouchedEndpoint:
    namespace: str
    name: str
    url: str
    stamped: bool
    """False when it carries no `laneway.dev/written-by` (written before laneway stamped writers)."""
    services: tuple[str, ...]
    """The services with a `dataBoundary` whose entries select it (each now excludes it)."""
    fix: str

    @property
    def written_by(self) -> str:
        return "team" if self.stamped else "<none>"

    @property
    def problem(self) -> str:
        who = ("written by the team lane" if self.stamped
               else f"no {WRITTEN_BY_ANNOTATION} (written before laneway recorded who writes an endpoint), so taken as the team's")
        return f"outside every data boundary: {who}, and no provider the platform vouches for is at its host"


def unvouched_endpoints(
    services: Sequence[ModelService], endpoints: Iterable[ModelEndpoint], providers: Sequence[ExternalProvider] = ()
) -> list[UnvouchedEndpoint]:
    """Each endpoint a service with a `dataBoundary` selects but no boundary can place, in
    namespace and name order."""
    bounded = [s for s in services if s.spec.data_boundary is not None and not s.spec.data_boundary.is_empty()]
    found: list[UnvouchedEndpoint] = []
    for ep in sorted(endpoints, key=lambda e: (e.namespace, e.name)):
        if ep.metadata.deletion_timestamp:
            continue
        evidence = boundary_evidence(ep, providers)
        if evidence.labels is not None:
            continue
        left = tuple(sorted(
            s.name for s in bounded
            if s.namespace == ep.namespace and any(e.selector.matches(ep.metadata.labels) for e in s.spec.endpoints)
        ))
        if not left:
            continue
        fix = vouch_hint(ep) + ("" if evidence.stamped else "; or, if the platform wrote it, apply it again with a platform token")
        found.append(UnvouchedEndpoint(ep.namespace, ep.name, ep.spec.url, evidence.stamped, left, fix))
    return found
