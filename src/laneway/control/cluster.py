"""The InferenceCluster controller: publishes each cluster's readiness, gateway and capacity.

The scheduler places only on clusters that are Ready and have a gateway address, so this is
what turns a platform team's manifest into capacity. A Local cluster's gateway is laneway's
own gateway; its readiness is its driver's. `status.gpuPools` counts the nodes and devices
each pool publishes, from the pool's InferenceClass.

A provisioned cluster (EKS, GKE) is created by its driver's provisioner while the controller
asks the driver whether it is healthy; its `Provisioned` condition carries the provisioner's
phase (Provisioning, Ready, Failed, Deleting) and what it waits on. Once its credentials Secret
exists the controller holds the finalizer `laneway.dev/cloud-resources` on it, and on deletion
calls the provisioner's `release` until everything it created is gone (node pools before the
cluster, then what the cluster needed), so nothing is left billing. Without the Secret nothing
can have been created, and the cluster goes at once. A cluster whose source changes to one
laneway does not provision (adopted as Existing) loses the finalizer: laneway deletes nothing
it no longer manages.
"""

from __future__ import annotations

from collections.abc import Mapping

from laneway.api.kinds.platform import (
    ClusterGatewayStatus,
    GpuPoolStatus,
    InferenceClass,
    InferenceCluster,
)
from laneway.api.meta import LABEL_PREFIX, ObjectKey, Resource, rfc3339
from laneway.control.base import ControlContext, KeyMapper, Result
from laneway.control.reconcile import allow_deletion, block_deletion, is_deleting
from laneway.control.status import ConditionUpdate, write_status
from laneway.drivers.base import GatewayReporter, Paced, PoolReporter
from laneway.drivers.provisioners.credentials import credentials_configured
from laneway.drivers.provisioners.plan import PROVISIONED_SOURCES
from laneway.drivers.provisioning import ProvisionedDriver, not_provisioned_message
from laneway.drivers.registry import DriverSet
from laneway.store.base import Conflict

RECHECK_SECONDS = 15.0
DELETE_RECHECK_SECONDS = 5.0
CLOUD_FINALIZER = LABEL_PREFIX + "cloud-resources"


def pool_capacity(
    cluster: InferenceCluster, classes: Mapping[str, InferenceClass], joined: Mapping[str, int] | None = None
) -> list[GpuPoolStatus]:
    """Nodes and devices per pool: as the manifest says, or as have joined (`joined`, by pool)."""
    out = []
    for pool in cluster.spec.node_pools:
        if pool.role == "System":
            continue
        cls = classes.get(pool.class_name)
        per_node = sum(d.count for d in cls.spec.devices) if cls else 0
        nodes = joined.get(pool.name, 0) if joined is not None else pool.published_nodes
        out.append(GpuPoolStatus(name=pool.name, nodes=nodes, devices=per_node * nodes))
    return out


class ClusterController:
    name = "inferencecluster"
    kind = "InferenceCluster"

    def __init__(self, ctx: ControlContext, drivers: DriverSet) -> None:
        self.ctx = ctx
        self.store = ctx.store
        self.drivers = drivers
        self._classes_of: dict[ObjectKey, frozenset[str]] = {}  # cluster -> the classes its pools name
        self.watches: Mapping[str, KeyMapper] = {"InferenceClass": self._clusters_using, "InferenceCluster": self._remember_classes}

    def _remember_classes(self, cluster: Resource) -> list[ObjectKey]:
        """Index clusters by the classes their pools name as their events pass (the cluster's
        own key is queued anyway): a class event then finds its clusters without listing every
        cluster, which on a fleet of a thousand clusters read them all on each class event."""
        if isinstance(cluster, InferenceCluster):
            if cluster.metadata.deletion_timestamp and not cluster.metadata.finalizers:  # gone
                self._classes_of.pop(cluster.key, None)
            else:
                self._classes_of[cluster.key] = frozenset(p.class_name for p in cluster.spec.node_pools)
        return []

    def _clusters_using(self, cls: Resource) -> list[ObjectKey]:
        return sorted(key for key, classes in self._classes_of.items() if cls.name in classes)

    async def reconcile(self, key: ObjectKey) -> Result:
        cluster = self.store.find(InferenceCluster, key)
        if cluster is None:
            return Result()
        driver = self.drivers.for_cluster(cluster)
        try:
            if isinstance(driver, ProvisionedDriver):
                if is_deleting(cluster):
                    return await self._release(cluster, driver)
                if credentials_configured(self.store, cluster):
                    cluster = block_deletion(self.store, cluster, CLOUD_FINALIZER)
            elif CLOUD_FINALIZER in cluster.metadata.finalizers:
                # Its source changed (say EKS to Existing): the platform adopted what laneway
                # created, so laneway no longer deletes it, and the object may go when deleted.
                cluster = allow_deletion(self.store, cluster, CLOUD_FINALIZER)
                if is_deleting(cluster):
                    return Result()
        except Conflict:
            return Result(requeue_after=0.1)
        classes = {c.name: c for c in self.store.list(InferenceClass).items}
        missing = sorted({p.class_name for p in cluster.spec.node_pools if p.role != "System"} - set(classes))

        if driver is None and cluster.spec.cluster.source in PROVISIONED_SOURCES:
            ready, reason, message = False, "NotProvisioned", not_provisioned_message(cluster.spec.cluster.source)
        elif driver is None:
            ready, reason, message = (
                False,
                "NoDriver",
                f"source {cluster.spec.cluster.source} has no driver in this laneway; replicas cannot run here yet",
            )
        else:
            ok, why = await driver.healthy(cluster)
            ready, reason, message = ok, ("DriverReady" if ok else "DriverUnavailable"), why
        if isinstance(driver, GatewayReporter):  # the cluster has a gateway of its own (Kubernetes)
            address = await driver.gateway_address(cluster)
        elif driver is not None:  # engines this laneway runs answer through its own gateway
            address = self.ctx.gateway_address
        else:
            address = cluster.status.gateway.address

        joined = await driver.pool_nodes(cluster) if isinstance(driver, PoolReporter) else None
        cluster = self.store.find(InferenceCluster, key) or cluster  # drivers may have written its status meanwhile
        if missing:
            ready_condition = ConditionUpdate(
                "Ready",
                "False",
                "ClassNotFound",
                f"node pools name InferenceClass(es) that do not exist: {', '.join(missing)}; apply them or fix className",
            )
        elif not ready:
            ready_condition = ConditionUpdate("Ready", "False", reason, message)
        elif not address:
            ready_condition = ConditionUpdate("Ready", "False", "NoGatewayAddress", "no gateway address is known for this cluster yet")
        else:
            ready_condition = ConditionUpdate("Ready", "True", "Ready", f"gateway at {address}")
        conditions = [ConditionUpdate("BackendReady", "True" if ready else "False", reason, message), ready_condition]
        provisioned = driver.last_state.get(cluster.name) if isinstance(driver, ProvisionedDriver) else None
        if provisioned is not None:
            conditions.append(
                ConditionUpdate("Provisioned", "True" if provisioned.phase == "Ready" else "False", provisioned.phase, provisioned.message)
            )
        try:
            write_status(
                self.store,
                cluster,
                conditions=conditions,
                fields={"gateway": ClusterGatewayStatus(address=address), "gpu_pools": pool_capacity(cluster, classes, joined)},
                now=rfc3339(self.ctx.clock()),
            )
        except Conflict:
            return Result(requeue_after=0.1)
        # Drivers whose health changes only with the cluster's spec (simulated clusters) say
        # how often to look (`Paced`; None: never).
        interval = driver.health_interval if isinstance(driver, Paced) else RECHECK_SECONDS
        return Result(requeue_after=interval)

    async def _release(self, cluster: InferenceCluster, driver: ProvisionedDriver) -> Result:
        """One step of deleting a provisioned cluster's cloud resources; the finalizer goes
        once the provisioner reports nothing left."""
        if CLOUD_FINALIZER not in cluster.metadata.finalizers:
            return Result()
        state = await driver.release(cluster)
        try:
            if state.phase == "Pending":
                allow_deletion(self.store, cluster, CLOUD_FINALIZER)
                return Result()
            write_status(
                self.store,
                cluster,
                conditions=[
                    ConditionUpdate("Provisioned", "False", state.phase, state.message),
                    ConditionUpdate("Ready", "False", "Deleting", f"deleting the cloud resources laneway created: {state.message}"),
                ],
                now=rfc3339(self.ctx.clock()),
            )
        except Conflict:
            return Result(requeue_after=0.1)
        return Result(requeue_after=DELETE_RECHECK_SECONDS)
