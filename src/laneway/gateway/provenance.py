"""Whose word an endpoint's labels are, when the data boundary judges them. Pure.

A service's `dataBoundary` is a label selector, and labels are only as true as whoever wrote
them: a team that labels a US provider `laneway.dev/jurisdiction: eu` has not moved the
provider. So the boundary reads labels only where someone other than the team vouches for
them, as recorded in `laneway.dev/written-by` (stamped on every write; no client can set it):

- `laneway`: an endpoint of a replica laneway placed (the replica controller writes it). Only
  the keys it lists in `laneway.dev/boundary-labels` count: the InferenceCluster's labels and
  the cluster name, which the platform wrote, never the deployment template's labels, which the
  team wrote;
- `ticket`: the overflow endpoint a ticket composed from a provider the platform vouches for
  (the InferenceGateway's `spec.tickets.providers`): the provider's labels, listed the same way;
- `platform`: written through the API with an admin token (the platform lane): all its labels;
- `team` (a team token, a ticket's own `url` and `labels`) or no stamp at all: its labels are
  the team's claim. If its URL points at the host of a provider the platform vouches for, the
  boundary reads that provider's labels instead; otherwise its place is unknown and every
  boundary excludes it, whatever the requirement (a `NotIn` cannot pass on what is not known).

No stamp at all means the endpoint was written before laneway stamped writers (an upgrade):
nobody can tell a team's from the platform's any more, so it is taken as the team's. Its
exclusion says so and names both fixes: the platform vouches for the provider's host (an
entry in an InferenceGateway's `spec.tickets.providers`), or the platform re-applies an
endpoint it wrote with a platform token (stamped `platform`). `laneway audit` lists every such
endpoint a boundary now excludes (`laneway.gateway.unvouched`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from laneway.api.kinds.platform import ExternalProvider, InferenceGateway
from laneway.api.kinds.serving import ModelEndpoint
from laneway.api.labels import BOUNDARY_LABELS_ANNOTATION, WRITTEN_BY_ANNOTATION
from laneway.api.selectors import LabelSelector
from laneway.egress.destinations import PLATFORM_LANE
from laneway.egress.hosts import HostPort, host_port

LANEWAY_WRITER = "laneway"
"""`written-by` of an endpoint the replica controller wrote for a replica it placed."""
TICKET_WRITER = "ticket"
"""`written-by` of the overflow endpoint a ticket composed from a provider the platform vouches for."""
VOUCHED_WRITERS = frozenset({LANEWAY_WRITER, TICKET_WRITER})


@dataclass(frozen=True)
class Evidence:
    """The labels the boundary may judge an endpoint on, and whose they are.

    `labels` is None when nobody but the team vouches for where the endpoint sends data."""

    labels: Mapping[str, str] | None
    whose: str
    stamped: bool = True
    """False when the endpoint carries no `laneway.dev/written-by` (written before the stamp)."""


def vouched_providers(gateways: Iterable[InferenceGateway]) -> tuple[ExternalProvider, ...]:
    """Every provider the platform vouches for, over all InferenceGateways."""
    return tuple(p for g in sorted(gateways, key=lambda g: g.name) for p in g.spec.tickets.providers)


def boundary_keys(labels: Mapping[str, str]) -> str:
    """The `laneway.dev/boundary-labels` value that vouches for exactly these labels' keys."""
    return ",".join(sorted(labels))


def _listed(endpoint: ModelEndpoint) -> dict[str, str]:
    keys = {k.strip() for k in endpoint.metadata.annotations.get(BOUNDARY_LABELS_ANNOTATION, "").split(",") if k.strip()}
    return {k: v for k, v in endpoint.metadata.labels.items() if k in keys}


def _where(url: str) -> HostPort | None:
    try:
        return host_port(url)
    except ValueError:
        return None


def _provider_labels(endpoint: ModelEndpoint, providers: Sequence[ExternalProvider]) -> tuple[dict[str, str], str] | None:
    """The labels of the vouched providers at the endpoint's host (only those they all agree on)."""
    where = _where(endpoint.spec.url)
    if where is None:
        return None
    matching = [p for p in providers if _where(p.url) == where]
    if not matching:
        return None
    agreed = dict(matching[0].labels)
    for p in matching[1:]:
        agreed = {k: v for k, v in agreed.items() if p.labels.get(k) == v}
    names = ", ".join(p.name for p in matching)
    return agreed, f"the platform vouches for {where.host} as provider {names}"


def boundary_evidence(endpoint: ModelEndpoint, providers: Sequence[ExternalProvider] = ()) -> Evidence:
    """What the data boundary may read of `endpoint` (see the module docstring)."""
    writer = endpoint.metadata.annotations.get(WRITTEN_BY_ANNOTATION)
    if writer == PLATFORM_LANE:
        return Evidence(dict(endpoint.metadata.labels), "written by the platform lane")
    if writer in VOUCHED_WRITERS:
        return Evidence(_listed(endpoint), f"written by {writer}")
    vouched = _provider_labels(endpoint, providers)
    if vouched is not None:
        return Evidence(vouched[0], vouched[1], stamped=writer is not None)
    if writer is None:
        return Evidence(None, f"no {WRITTEN_BY_ANNOTATION}: written before laneway recorded who writes an endpoint, "
                              "so taken as the team's", stamped=False)
    return Evidence(None, "written by the team lane")


def vouch_hint(endpoint: ModelEndpoint) -> str:
    """How the platform makes the boundary know where `endpoint` sends data: vouch for its host."""
    where = _where(endpoint.spec.url)
    return (f"the platform vouches for {where or endpoint.spec.url} by listing its provider (url and labels) in an InferenceGateway's "
            "spec.tickets.providers")


def boundary_refusal(endpoint: ModelEndpoint, boundary: LabelSelector | None, providers: Sequence[ExternalProvider] = ()) -> str | None:
    """Why `endpoint` lies outside `boundary`, or None when it lies inside (or there is none)."""
    if boundary is None or boundary.is_empty():
        return None
    evidence = boundary_evidence(endpoint, providers)
    requirements = boundary.requirements()
    if evidence.labels is None:
        wanted = ", ".join(r.describe() for r in requirements)
        if not evidence.stamped:
            return (
                f"outside the data boundary ({evidence.whose}; at no host the platform vouches for, so {wanted} is "
                f"unknown; {vouch_hint(endpoint)}, or an endpoint the platform wrote is applied again with a platform "
                "token)"
            )
        return (
            f"outside the data boundary ({evidence.whose}, at no host the platform vouches for: its labels are the "
            f"team's claim, so {wanted} is unknown; point it at a provider the platform vouches for, or name one in "
            "a ticket's overflow row)"
        )
    failed = [r.describe() for r in requirements if not r.matches(evidence.labels)]
    if not failed:
        return None
    if evidence.whose.startswith("written by"):
        return "outside the data boundary (labels do not satisfy " + ", ".join(failed) + ")"
    return f"outside the data boundary ({evidence.whose}, whose labels do not satisfy " + ", ".join(failed) + ")"
