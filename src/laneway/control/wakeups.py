"""Which deployments a change can re-place, so the deployment controller is woken by every
change that can change a plan and by no other.

A plan depends on the clusters (labels, taints, pools, readiness, gateway, grace period), the
classes, every replica (they hold capacity) and the caches. Re-planning every deployment on
each of those events would re-plan the world thousands of times a minute on a large fleet
(every cluster's status is rewritten as it is observed). Instead:

- a cluster or class event counts only when what placement reads of it changed (a fingerprint
  is kept per object); it then wakes the deployments waiting for capacity and those with
  replicas on the clusters concerned;
- a replica going away (being deleted, or gone) frees capacity: it wakes the deployments
  waiting for capacity; any replica event wakes its own deployment;
- which deployments wait is taken from every plan; which deployment has replicas where is kept
  from replica events (the manager lists every replica when it starts leading) and from the
  replicas a pass creates.

What it does not do: it keeps no history. It must only ever be a superset of what needs a
look (a spare re-plan is harmless, a missed one is not): the manager's periodic resync replays
only events the watch missed, never every deployment, so a change that can alter a plan and
wakes nothing here stays unplanned until something else wakes that deployment (a deployment
short of replicas also looks again on its own every `SHORT_RECHECK_SECONDS`, the backstop).
"""

from __future__ import annotations

from collections.abc import Iterable

from laneway.api.conditions import is_true
from laneway.api.kinds.deployment import ModelReplica
from laneway.api.kinds.platform import InferenceClass, InferenceCluster
from laneway.api.labels import DEPLOYMENT_LABEL
from laneway.api.meta import ObjectKey, Resource
from laneway.placement.fleet import published_nodes


def cluster_fingerprint(cluster: InferenceCluster) -> tuple[object, ...]:
    """Everything placement reads of a cluster."""
    spec = cluster.spec
    return (
        cluster.metadata.deletion_timestamp is not None,
        tuple(sorted(cluster.metadata.labels.items())),
        spec.cluster.source,
        tuple((p.name, p.class_name, published_nodes(cluster, p), p.accounting) for p in spec.node_pools),
        tuple((t.key, t.value, t.effect) for t in spec.taints),
        spec.not_ready_grace_period,
        is_true(cluster.status.conditions, "Ready"),
        bool(cluster.status.gateway.address),
    )


def class_fingerprint(cls: InferenceClass) -> tuple[object, ...]:
    return (cls.metadata.deletion_timestamp is not None, cls.spec.model_dump_json())


class PlanWakeups:
    """The deployment controller's memory of the last plans, used only to map events to keys."""

    def __init__(self) -> None:
        self.waiting: set[ObjectKey] = set()
        self._homes: dict[ObjectKey, tuple[str, ObjectKey]] = {}  # replica -> (cluster, deployment)
        self._clusters: dict[str, tuple[object, ...]] = {}
        self._classes: dict[str, tuple[object, ...]] = {}
        self._pools_of_class: dict[str, set[str]] = {}  # class name -> clusters with a pool of it

    def on_cluster(self, names: Iterable[str]) -> set[ObjectKey]:
        wanted = set(names)
        return {d for cluster, d in self._homes.values() if cluster in wanted}

    def replica_changed(self, replica: Resource) -> list[ObjectKey]:
        if not isinstance(replica, ModelReplica):
            return []
        owner = replica.metadata.labels.get(DEPLOYMENT_LABEL)
        keys = [ObjectKey(replica.namespace, owner)] if owner else []
        if replica.metadata.deletion_timestamp:
            self._homes.pop(replica.key, None)
            keys.extend(self.waiting)
        elif owner:
            self._homes[replica.key] = (replica.spec.cluster_name, keys[0])
        return keys

    def cluster_changed(self, cluster: Resource) -> list[ObjectKey]:
        if not isinstance(cluster, InferenceCluster):
            return []
        fingerprint = cluster_fingerprint(cluster)
        if self._clusters.get(cluster.name) == fingerprint:
            return []
        self._clusters[cluster.name] = fingerprint
        for pool in cluster.spec.node_pools:
            self._pools_of_class.setdefault(pool.class_name, set()).add(cluster.name)
        return sorted(self.waiting | self.on_cluster([cluster.name]))

    def class_changed(self, cls: Resource) -> list[ObjectKey]:
        if not isinstance(cls, InferenceClass):
            return []
        fingerprint = class_fingerprint(cls)
        if self._classes.get(cls.name) == fingerprint:
            return []
        self._classes[cls.name] = fingerprint
        return sorted(self.waiting | self.on_cluster(self._pools_of_class.get(cls.name, ())))

    def planned(self, *, short: Iterable[ObjectKey], settled: Iterable[ObjectKey], created: Iterable[ModelReplica]) -> None:
        """After a pass: `short` deployments now wait for capacity, `settled` ones do not;
        `created` replicas are indexed at once (their events follow)."""
        self.waiting -= set(settled)
        self.waiting |= set(short)
        for r in created:
            self.replica_changed(r)
