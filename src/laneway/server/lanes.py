"""Which lane wrote a Secret or a ModelEndpoint, recorded by the API server where nobody can forge it.

Every Secret and ModelEndpoint written through the API gets `laneway.dev/written-by` set from
the writer's token (`platform` for platform and admin tokens, `team` for team tokens), whatever
the body said. On an endpoint it decides whose word its labels are for the data boundary (see
`laneway.gateway.provenance`): a team's endpoint is judged on the labels of the provider the
platform vouches for at its host, never on its own. A platform-written Secret's `laneway.dev/destinations` (the hosts it may be sent to,
see `laneway.egress.destinations`) is the platform's to set; a team token may not rewrite a
platform-written Secret at all (403), because a team write that kept the platform's value
and changed its stamp or destinations would send the platform's key wherever the team
likes. The team may still delete it, as it may delete anything in its namespace.
"""

from __future__ import annotations

from laneway.api.kinds.secret import Secret
from laneway.api.kinds.serving import ModelEndpoint
from laneway.api.labels import BOUNDARY_LABELS_ANNOTATION, WRITTEN_BY_ANNOTATION
from laneway.api.meta import Resource
from laneway.egress.destinations import (
    DESTINATIONS_ANNOTATION,
    PLATFORM_LANE,
    TEAM_LANE,
    written_by_platform,
)
from laneway.server.errors import forbidden
from laneway.store.base import TokenRecord


def lane_of(grant: TokenRecord) -> str:
    return TEAM_LANE if grant.role == "team" else PLATFORM_LANE


def stamp_writer(grant: TokenRecord, obj: Resource, existing: Resource | None) -> Resource:
    """`obj` with the writer's lane stamped (Secrets and ModelEndpoints; other kinds pass
    through unchanged).

    Raises 403 when a team token rewrites a Secret the platform lane wrote."""
    if not isinstance(obj, (Secret, ModelEndpoint)):
        return obj
    lane = lane_of(grant)
    if lane == TEAM_LANE and isinstance(existing, Secret) and written_by_platform(existing):
        raise forbidden(
            f"Secret {existing.key} was written by the platform lane (a credential the team may use but not read or "
            "change); ask the platform to change it, or create a Secret of your own under another name",
            kind="secrets",
            name=existing.name,
        )
    annotations = dict(obj.metadata.annotations)
    annotations[WRITTEN_BY_ANNOTATION] = lane
    if lane == TEAM_LANE and isinstance(obj, Secret):
        annotations.pop(DESTINATIONS_ANNOTATION, None)
    annotations.pop(BOUNDARY_LABELS_ANNOTATION, None)  # only laneway's own writes vouch for labels
    meta = obj.metadata.model_copy(update={"annotations": annotations})
    return obj.model_copy(update={"metadata": meta})
