"""The label and annotation keys laneway stamps and reads, spelled once.

Labels tie every composed object to what it came from: a ModelReplica to its deployment and
index, a ModelEndpoint to its replica and cluster, a ticket's objects to the ticket. A
ModelService selects a deployment's endpoints by `laneway.dev/deployment`. Annotations carry
what the controllers and the gateway must agree on (a retired service's 410 message, a
deployment's revision history). All use laneway's reserved prefix: users do not write them by
hand, and `laneway apply` keeps them when a manifest leaves them out.

Keys that only the Kubernetes driver writes on the objects it renders into a cluster (pool,
engine, role, ...) live with it in `drivers/kubernetes/naming.py`.
"""

from __future__ import annotations

from laneway.api.meta import LABEL_PREFIX

# --- placement and serving identity -----------------------------------------------------------

DEPLOYMENT_LABEL = LABEL_PREFIX + "deployment"
"""On a ModelReplica, its ModelEndpoints and what a driver runs: the deployment's name."""
REPLICA_LABEL = LABEL_PREFIX + "replica"
"""On a ModelEndpoint (and a driver's objects): the ModelReplica it serves."""
REPLICA_INDEX_LABEL = LABEL_PREFIX + "replica-index"
"""On a ModelReplica: its index within the deployment (scale-down drops the highest)."""
CLUSTER_LABEL = LABEL_PREFIX + "cluster"
"""On a ModelEndpoint: the InferenceCluster its replica runs on."""
ENGINE_LABEL = LABEL_PREFIX + "engine"
"""On a ModelEndpoint (and the pods the Kubernetes driver renders): the replica engine it
serves, so a service can select one engine of a replica that runs several."""

REPLACES_ANNOTATION = LABEL_PREFIX + "replaces"
"""On a ModelReplica placed to stand in for one on a lost cluster: the name of that replica."""

NAMESPACE_KEY_LABEL = LABEL_PREFIX + "gateway-api-key"
"""On a Secret: it holds a gateway API key for its own namespace's services."""
PRIORITY_ANNOTATION = LABEL_PREFIX + "priority"
"""On a Secret holding gateway API keys: the priority class of its keys' requests while a service
is saturated (`Critical`, `Standard`, `Sheddable`; see `gateway.fair_queue`)."""
TENANT_ANNOTATION = LABEL_PREFIX + "tenant"
"""On a Secret holding gateway API keys: the tenant its keys share one fair share as."""
WEIGHT_ANNOTATION = LABEL_PREFIX + "fair-share-weight"
"""On a Secret holding gateway API keys: the weight of its keys' fair share (1 to 1000)."""

# --- tickets, rollout and retirement ----------------------------------------------------------

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
"""On a ModelService whose deployments are retired (written by the ticket and rollout
controllers): the message the gateway's 410 Gone answers with."""
TOMBSTONE_UNTIL_ANNOTATION = LABEL_PREFIX + "tombstone-until"
"""On a ModelService a deleted ticket left behind as a tombstone (no owner any more): until when
(RFC 3339) it stands, answering 410 Gone with its `laneway.dev/retired` message; the ticket
controller deletes it then (see `laneway.ticket.tombstone`)."""
RETIREMENT_WARNING_ANNOTATION = LABEL_PREFIX + "retirement-warning"
"""On a ModelDeployment: how long before `retireAfter` the warning shows (a duration, e.g. 14d)."""
RETIREMENT_GRACE_ANNOTATION = LABEL_PREFIX + "retirement-grace"
"""On a ModelDeployment: how long after `retireAfter` its resources are deleted (e.g. 7d)."""

WRITTEN_BY_ANNOTATION = LABEL_PREFIX + "written-by"
"""On a Secret and a ModelEndpoint: who wrote it. The API server stamps the lane of the writer's
token (`platform` or `team`) on every write (see `laneway.server.lanes`); the replica
controller writes `laneway` on a replica's endpoints, the ticket controller `ticket` on an
overflow endpoint composed from a provider the platform vouches for. No client can set it. A
platform-written Secret goes only to its `laneway.dev/destinations` (see
`laneway.egress.destinations`); the data boundary reads an endpoint's labels only as far as its
writer vouches for them (see `laneway.gateway.provenance`)."""
BOUNDARY_LABELS_ANNOTATION = LABEL_PREFIX + "boundary-labels"
"""On a ModelEndpoint laneway wrote (`written-by: laneway` or `ticket`): the label keys, comma-
separated, that are the platform's word (the cluster's labels, a vouched provider's), the only
ones a data boundary reads on it."""
