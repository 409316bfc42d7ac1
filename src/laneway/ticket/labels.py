"""Label and annotation keys the ticket, rollout and retirement logic writes and reads.

One place spells them, so the controllers, the CLI and the gateway (which reads
`RETIRED_ANNOTATION` to answer 410 Gone) agree. All use laneway's reserved prefix: users do
not write them by hand, and `laneway apply` keeps them when a manifest leaves them out.
"""

from __future__ import annotations

from laneway.api.meta import LABEL_PREFIX
from laneway.placement.existing import DEPLOYMENT_LABEL

TICKET_LABEL = LABEL_PREFIX + "ticket"
"""On every object a ticket composes: the ticket's name (the owner reference carries its uid)."""

ROLE_LABEL = LABEL_PREFIX + "ticket-role"
"""On a composed external ModelEndpoint: `overflow`, so the service entry selects exactly it."""

OWNER_TEAM_ANNOTATION = LABEL_PREFIX + "owner-team"
OWNER_CONTACT_ANNOTATION = LABEL_PREFIX + "owner-contact"
JOB_ANNOTATION = LABEL_PREFIX + "job"
MODEL_ANNOTATION = LABEL_PREFIX + "model"

CANARY_LABEL = LABEL_PREFIX + "canary-for"
"""On a ModelDeployment that is a canary of a ticket's deployment: the ticket's name."""
CANARY_WEIGHT_ANNOTATION = LABEL_PREFIX + "canary-weight"
"""On the canary deployment: the percent of the service's Primary traffic it takes (1-99)."""

AUTO_APPROVE_ANNOTATION = LABEL_PREFIX + "auto-approve-tickets"
"""On an InferenceGateway (written by the platform lane): namespaces whose tickets need no
`laneway ticket approve`, comma-separated, or `*` for every namespace."""

REVISION_ANNOTATION = LABEL_PREFIX + "revision"
"""On a ModelDeployment: the number of the revision its template is now."""
REVISION_HISTORY_ANNOTATION = LABEL_PREFIX + "revision-history"
"""On a ModelDeployment: JSON list of the kept revisions (see `laneway.ticket.revisions`)."""

RETIRED_ANNOTATION = LABEL_PREFIX + "retired"
"""On a ModelService whose deployments are retired: the message its 410 Gone answers with."""
RETIREMENT_WARNING_ANNOTATION = LABEL_PREFIX + "retirement-warning"
"""On a ModelDeployment: how long before `retireAfter` the warning shows (a duration, e.g. 14d)."""
RETIREMENT_GRACE_ANNOTATION = LABEL_PREFIX + "retirement-grace"
"""On a ModelDeployment: how long after `retireAfter` its resources are deleted (e.g. 7d)."""

__all__ = [
    "AUTO_APPROVE_ANNOTATION",
    "CANARY_LABEL",
    "CANARY_WEIGHT_ANNOTATION",
    "DEPLOYMENT_LABEL",
    "JOB_ANNOTATION",
    "MODEL_ANNOTATION",
    "OWNER_CONTACT_ANNOTATION",
    "OWNER_TEAM_ANNOTATION",
    "RETIRED_ANNOTATION",
    "RETIREMENT_GRACE_ANNOTATION",
    "RETIREMENT_WARNING_ANNOTATION",
    "REVISION_ANNOTATION",
    "REVISION_HISTORY_ANNOTATION",
    "ROLE_LABEL",
    "TICKET_LABEL",
]
