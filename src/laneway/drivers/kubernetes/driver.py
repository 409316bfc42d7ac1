"""KubernetesDriver: the Driver for `cluster.source: Existing`, one API connection per cluster.

How it works:
- The kubeconfig comes from the Secret `spec.cluster.existing.secretRef` names, in
  `laneway-system`, read from the store. One `KubeConnection` per cluster, rebuilt when the
  Secret's content changes; several clusters are driven side by side.
- `apply` renders the replica (pure), validates every object against the official schemas,
  then sends them in order with server-side apply under field manager `laneway`, and deletes
  objects it owned that the rendering no longer has (an engine renamed or removed). A
  rendering already applied is not re-sent for `REAPPLY_SECONDS`, so steady reconciles cost
  reads only; drift is corrected at the next re-apply.
- `apply` never raises for a replica's or cluster's problem: it remembers the failure and
  `observe` reports it (reason RenderFailed, InvalidManifests, MissingAPI, ClusterUnavailable,
  ApplyFailed), so the ModelReplica's Ready condition says what to fix.
- `observe` reads the replica's workloads, pods, claims and route and summarizes them (see
  `observe.py`); `teardown` deletes every object carrying the replica's labels, kind by kind.
- `healthy` is Ready when the API answers and the required APIs are served; it also reads
  the cluster's Gateway, whose address `gateway_address` returns for the cluster controller.
- `apply_cache` / `observe_cache` / `delete_cache` do the same for a ModelCache's claim,
  hydration Job and credential Secret (rendered by `cache_render`), for the
  ModelCache controller: the cache's state on the cluster is read from its Job.

Every blocking client call runs in a worker thread (`asyncio.to_thread`).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from laneway.api.kinds.cache import ModelCache
from laneway.api.kinds.deployment import ModelReplica
from laneway.api.kinds.platform import InferenceCluster
from laneway.api.meta import ObjectKey
from laneway.cache.state import CacheState
from laneway.drivers.base import ReplicaObservation
from laneway.drivers.kubeconfig import KubeconfigSource, NoKubeconfig, SecretKubeconfigs
from laneway.drivers.kubernetes import cache_objects, kinds
from laneway.drivers.kubernetes.cache_render import (
    CacheSettingsMissing,
    render_cache_objects,
    render_credentials_secret,
)
from laneway.drivers.kubernetes.checks import (
    Check,
    api_checks,
    failed,
    gateway_address,
    gather,
)
from laneway.drivers.kubernetes.connection import KubeConnection, connect
from laneway.drivers.kubernetes.errors import (
    ClusterUnavailable,
    InvalidRendered,
    KubeApiError,
    RenderError,
)
from laneway.drivers.kubernetes.naming import (
    gateway_ref,
    pool_name,
    replica_selector,
    route_targets,
    target_namespace,
)
from laneway.drivers.kubernetes.observe import Snapshot, expected_workloads, summarize
from laneway.drivers.kubernetes.render import (
    RenderOptions,
    namespace_object,
    object_id,
    render,
)
from laneway.drivers.kubernetes.stacks import stack_note
from laneway.drivers.kubernetes.validation import validate_objects
from laneway.egress.policy import EgressPolicy
from laneway.store.base import Store

log = logging.getLogger(__name__)

REAPPLY_SECONDS = 300.0
MAX_VALIDATED = 4096
Connector = Callable[[str, str], KubeConnection]  # (kubeconfig text, where) -> connection


def _default_connector(kubeconfig: str, where: str) -> KubeConnection:
    return connect(kubeconfig, where=where)


@dataclass
class _Link:
    fingerprint: str
    conn: KubeConnection


@dataclass(frozen=True)
class _Applied:
    digest: str
    at: float


class KubernetesDriver:
    drains_itself = True
    """Pods finish their requests through a preStop sleep and a grace period (`DrainsItself`)."""

    def __init__(
        self,
        *,
        store: Store,
        options: RenderOptions = RenderOptions(),
        connector: Connector = _default_connector,
        clock: Callable[[], float] = time.monotonic,
        kubeconfigs: KubeconfigSource | None = None,
    ) -> None:
        """`kubeconfigs` says where each cluster's kubeconfig comes from: by default the Secret
        an Existing cluster names, read from `store`; a provisioner for the clusters it made."""
        self.store = store
        self.kubeconfigs: KubeconfigSource = kubeconfigs if kubeconfigs is not None else SecretKubeconfigs(store)
        self.options = options
        self.connector = connector
        self.clock = clock
        self._links: dict[str, _Link] = {}
        self._applied: dict[str, _Applied] = {}
        self._failures: dict[str, tuple[str, str]] = {}
        self._gateways: dict[str, str | None] = {}
        self._validated: set[str] = set()

    # --- connections ---------------------------------------------------------------------

    def _kubeconfig(self, cluster: InferenceCluster) -> str:
        try:
            return self.kubeconfigs.kubeconfig(cluster).text
        except NoKubeconfig as missing:
            raise ClusterUnavailable(str(missing)) from None

    async def _connection(self, cluster: InferenceCluster) -> KubeConnection:
        text = self._kubeconfig(cluster)
        fingerprint = hashlib.sha256(text.encode()).hexdigest()
        link = self._links.get(cluster.name)
        if link is not None and link.fingerprint == fingerprint:
            return link.conn
        where = f"the kubeconfig of cluster {cluster.name}"
        conn = await asyncio.to_thread(self.connector, text, where)
        # Several reconciles may connect at once: keep the first connection made for this
        # kubeconfig and close the others, so none is left open and unowned.
        current = self._links.get(cluster.name)
        if current is not None and current.fingerprint == fingerprint:
            await asyncio.to_thread(conn.close)
            return current.conn
        self._links[cluster.name] = _Link(fingerprint, conn)
        if current is not None:  # the kubeconfig changed: the old connection goes
            await asyncio.to_thread(current.conn.close)
        return conn

    async def connection(self, cluster: InferenceCluster) -> KubeConnection:
        """The connection to `cluster` this driver holds (made when first needed); raises
        ClusterUnavailable when there is no kubeconfig for it. For callers that act on the
        cluster beside replicas (a provisioned cluster's bootstrap)."""
        return await self._connection(cluster)

    def _remember_valid(self, digest: str) -> None:
        """Validation is slow (schemas of two Kubernetes versions), so a rendering already found
        valid is not checked again; the memory is bounded, forgetting everything when full."""
        if len(self._validated) >= MAX_VALIDATED:
            self._validated.clear()
        self._validated.add(digest)

    def _cluster(self, name: str) -> InferenceCluster | None:
        return self.store.find(InferenceCluster, ObjectKey("", name))

    @staticmethod
    def _rkey(replica: ModelReplica) -> str:
        return f"{replica.namespace}/{replica.name}/{replica.metadata.uid}"

    # --- Driver --------------------------------------------------------------------------

    async def apply(self, replica: ModelReplica, cluster: InferenceCluster) -> None:
        rkey = self._rkey(replica)
        try:
            objects = render(replica, cluster, self.options)
        except RenderError as error:
            self._failures[rkey] = ("RenderFailed", str(error))
            return
        digest = hashlib.sha256(json.dumps(objects, sort_keys=True).encode()).hexdigest()
        last = self._applied.get(rkey)
        if last is not None and last.digest == digest and self.clock() - last.at < REAPPLY_SECONDS and rkey not in self._failures:
            return
        try:
            if digest not in self._validated:
                await asyncio.to_thread(validate_objects, objects)
                self._remember_valid(digest)
            conn = await self._connection(cluster)
            await asyncio.to_thread(self._send, conn, replica, objects)
        except InvalidRendered as error:
            self._failures[rkey] = ("InvalidManifests", str(error))
            return
        except ClusterUnavailable as error:
            self._failures[rkey] = ("ClusterUnavailable", str(error))
            return
        except _MissingApi as error:
            self._failures[rkey] = ("MissingAPI", str(error))
            return
        except KubeApiError as error:
            self._failures[rkey] = ("ApplyFailed", str(error))
            return
        self._failures.pop(rkey, None)
        self._applied[rkey] = _Applied(digest, self.clock())

    def _send(self, conn: KubeConnection, replica: ModelReplica, objects: list[dict[str, Any]]) -> None:
        for obj in objects:
            try:
                conn.apply(obj)
            except KubeApiError as error:
                if error.status == 404 and obj["kind"] != "Namespace" and "namespaces" not in str(error):
                    raise _MissingApi(
                        f"the cluster does not serve {obj['apiVersion']} {obj['kind']}: {kinds.install_hint(obj['apiVersion'])}"
                    ) from None
                raise KubeApiError(error.status, error.reason, f"{object_id(obj)}: {error}") from None
        wanted = {(o["kind"], o["metadata"]["name"]) for o in objects}
        namespace = target_namespace(replica.namespace)
        for resource in kinds.OWNED:
            for stale in self._owned(conn, resource, replica, namespace):
                name = stale["metadata"]["name"]
                if (resource.kind, name) not in wanted:
                    conn.delete(resource, name, namespace=namespace)

    @staticmethod
    def _owned(conn: KubeConnection, resource: kinds.ApiResource, replica: ModelReplica, namespace: str) -> list[dict[str, Any]]:
        try:
            return conn.list(resource, namespace=namespace, selector=replica_selector(replica))
        except KubeApiError as error:
            if error.status == 404:
                return []  # the kind is not served here (a CRD not installed): nothing of it to own
            raise

    async def observe(self, replica: ModelReplica) -> ReplicaObservation:
        failure = self._failures.get(self._rkey(replica))
        if failure is not None:
            return ReplicaObservation(False, failure[0], failure[1])
        cluster = self._cluster(replica.spec.cluster_name)
        if cluster is None:
            return ReplicaObservation(False, "ClusterNotFound", f"cluster {replica.spec.cluster_name!r} does not exist")
        try:
            conn = await self._connection(cluster)
            snapshot = await asyncio.to_thread(self._snapshot, conn, replica, cluster)
        except ClusterUnavailable as error:
            return ReplicaObservation(False, "ClusterUnavailable", str(error))
        except KubeApiError as error:
            return ReplicaObservation(False, "ObserveFailed", f"reading the replica's objects failed: {error}")
        return summarize(replica, snapshot)

    def _snapshot(self, conn: KubeConnection, replica: ModelReplica, cluster: InferenceCluster) -> Snapshot:
        namespace = target_namespace(replica.namespace)
        selector = replica_selector(replica)
        workloads: dict[str, dict[str, Any]] = {}
        stack = cluster.spec.stack or "Standard"
        for expected in expected_workloads(replica, stack=stack):
            resource = kinds.WORKLOADS[expected.kind]
            try:
                found = conn.find(resource, expected.name, namespace=namespace)
            except KubeApiError as error:
                if error.status != 404:
                    raise
                found = None
            if found is not None:
                workloads[expected.name] = found
        pods = tuple(conn.list(kinds.POD, namespace=namespace, selector=selector))
        try:
            claims = tuple(conn.list(kinds.RESOURCE_CLAIM, namespace=namespace, selector=selector))
        except KubeApiError:
            claims = ()
        routes: dict[str, dict[str, Any]] = {}
        for target in route_targets(replica):
            try:
                found = conn.find(kinds.HTTP_ROUTE, target.name, namespace=namespace)
            except KubeApiError:
                found = None
            if found is not None:
                routes[target.name] = found
        pool = None
        if replica.spec.serving.mode == "PrefillDecode":
            try:
                pool = conn.find(kinds.INFERENCE_POOL, pool_name(replica), namespace=namespace)
            except KubeApiError:
                pool = None
        address = self._gateways.get(cluster.name)
        if address is None:
            address = self._read_gateway(conn, cluster)
        return Snapshot(
            workloads=workloads, pods=pods, claims=claims, routes=routes, pool=pool, gateway=gateway_ref(cluster),
            gateway_address=address, stack=stack,
        )

    def _read_gateway(self, conn: KubeConnection, cluster: InferenceCluster) -> str | None:
        ref = gateway_ref(cluster)
        try:
            gateway = conn.find(kinds.GATEWAY, ref.name, namespace=ref.namespace)
        except KubeApiError:
            gateway = None
        address = gateway_address(gateway, cluster)
        self._gateways[cluster.name] = address
        return address

    async def teardown(self, replica: ModelReplica) -> None:
        rkey = self._rkey(replica)
        self._failures.pop(rkey, None)
        self._applied.pop(rkey, None)
        cluster = self._cluster(replica.spec.cluster_name)
        if cluster is None:
            log.warning(
                "cluster %s of replica %s is gone; objects labelled %s stay on it", replica.spec.cluster_name, replica.key,
                replica_selector(replica),
            )
            return
        conn = await self._connection(cluster)
        await asyncio.to_thread(self._delete_all, conn, replica)

    def _delete_all(self, conn: KubeConnection, replica: ModelReplica) -> None:
        namespace = target_namespace(replica.namespace)
        for resource in kinds.OWNED:
            for obj in self._owned(conn, resource, replica, namespace):
                conn.delete(resource, obj["metadata"]["name"], namespace=namespace)

    async def healthy(self, cluster: InferenceCluster) -> tuple[bool, str]:
        try:
            conn = await self._connection(cluster)
        except ClusterUnavailable as error:
            self._gateways.pop(cluster.name, None)
            return False, str(error)
        facts = await asyncio.to_thread(gather, conn, cluster, deep=False)
        stack = cluster.spec.stack or "Standard"
        problems = failed(api_checks(facts, stack=stack))
        note: str | None = None
        try:
            note = stack_note(cluster)
        except RenderError as error:  # a setting of the cluster that cannot be used
            problems.append(Check("settings", "fail", str(error)))
        address = None if facts.error else await asyncio.to_thread(self._read_gateway, conn, cluster)
        if facts.error:
            self._gateways.pop(cluster.name, None)
        if problems:
            return False, "; ".join(f"{c.message}: {c.fix}" if c.fix else c.message for c in problems)
        where = f"gateway at {address}" if address else "no gateway address yet"
        ready = f"Kubernetes {facts.version.get('gitVersion', '?')} serves the required APIs; {where}"
        return True, f"{ready}; {note}" if note else ready

    async def gateway_address(self, cluster: InferenceCluster) -> str | None:
        """The cluster's gateway address as last read by `healthy` (or now, when never read)."""
        if cluster.name not in self._gateways:
            try:
                conn = await self._connection(cluster)
            except ClusterUnavailable:
                return None
            return await asyncio.to_thread(self._read_gateway, conn, cluster)
        return self._gateways[cluster.name]

    # --- ModelCache objects -------------------------------------------------------------

    @staticmethod
    def _ckey(cache: ModelCache, cluster: InferenceCluster) -> str:
        return f"cache:{cache.namespace}/{cache.name}/{cache.metadata.uid}@{cluster.name}"

    async def apply_cache(
        self, cache: ModelCache, cluster: InferenceCluster, *, credential: str | None = None, egress: EgressPolicy | None = None
    ) -> None:
        """Put the cache's claim and hydration Job (and, when the source needs one, the
        credential Secret) on the cluster; idempotent. The Job judges its connections by
        `egress` (handed to it in `LANEWAY_EGRESS`). Like `apply`, it never raises for the
        cluster's or the objects' problems: `observe_cache` reports them."""
        ckey = self._ckey(cache, cluster)
        if cache.spec.source == "Local":
            self._failures[ckey] = (
                "SourceNotReachable",
                f"source Local names a path on the control-plane machine, which cluster {cluster.name} cannot read; "
                "use a HuggingFace, S3 or HTTP source, or narrow clusterSelector to Local clusters",
            )
            return
        namespace = target_namespace(cache.namespace)
        try:
            objects = [namespace_object(namespace, cache.namespace), *render_cache_objects(cache, cluster, egress=egress)]
        except CacheSettingsMissing as error:
            self._failures[ckey] = ("CacheSettingsMissing", str(error))
            return
        secret = render_credentials_secret(cache, credential) if credential else None
        digest = hashlib.sha256(json.dumps([objects, secret], sort_keys=True).encode()).hexdigest()
        last = self._applied.get(ckey)
        if last is not None and last.digest == digest and self.clock() - last.at < REAPPLY_SECONDS and ckey not in self._failures:
            return
        if secret is not None:  # Secret before the Job that reads it; its value never reaches a message
            objects.insert(2, secret)
        try:
            if digest not in self._validated:
                shown = [o if o is not secret else {**o, "data": {k: "" for k in o["data"]}} for o in objects]
                await asyncio.to_thread(validate_objects, shown)
                self._remember_valid(digest)
            conn = await self._connection(cluster)
            await asyncio.to_thread(cache_objects.send, conn, cache, objects)
        except InvalidRendered as error:
            self._failures[ckey] = ("InvalidManifests", str(error))
            return
        except ClusterUnavailable as error:
            self._failures[ckey] = ("ClusterUnavailable", str(error))
            return
        except KubeApiError as error:
            self._failures[ckey] = ("ApplyFailed", str(error))
            return
        self._failures.pop(ckey, None)
        self._applied[ckey] = _Applied(digest, self.clock())

    async def observe_cache(self, cache: ModelCache, cluster: InferenceCluster) -> CacheState:
        """The cache's state on the cluster: from the last apply's failure, else from its Job."""
        failure = self._failures.get(self._ckey(cache, cluster))
        if failure is not None:
            reason, message = failure
            if reason == "ClusterUnavailable":
                return CacheState("Pending", f"cluster {cluster.name} cannot be reached: {message}")
            return CacheState("Failed", f"{reason}: {message}")
        try:
            conn = await self._connection(cluster)
            return await asyncio.to_thread(cache_objects.read, conn, cache)
        except ClusterUnavailable as error:
            return CacheState("Pending", f"cluster {cluster.name} cannot be reached: {error}")
        except KubeApiError as error:
            return CacheState("Pending", f"reading the cache's Job on cluster {cluster.name} failed: {error}")

    async def delete_cache(self, cache: ModelCache, cluster: InferenceCluster) -> None:
        """Delete the cache's Job, credential Secret and claim from the cluster; idempotent.
        Raises ClusterUnavailable or KubeApiError when the cluster cannot do it now."""
        ckey = self._ckey(cache, cluster)
        self._failures.pop(ckey, None)
        self._applied.pop(ckey, None)
        conn = await self._connection(cluster)
        await asyncio.to_thread(cache_objects.delete_all, conn, cache)

    async def close(self) -> None:
        links = list(self._links.values())
        self._links.clear()
        for link in links:
            await asyncio.to_thread(link.conn.close)


class _MissingApi(Exception):
    """A rendered kind the cluster does not serve (its CRD is not installed)."""
