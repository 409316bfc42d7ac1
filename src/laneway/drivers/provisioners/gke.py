"""GKE clusters created through the official `google-cloud-container` client: the cluster with
its declared node pools (machine type, accelerators and NVIDIA driver installation from the
InferenceClass) and GKE's Gateway API enabled, pools added, resized and removed as
`nodePools` change, and the cluster deleted when its InferenceCluster is.

GKE runs one long-running operation per cluster at a time, so `ensure` issues at most one
mutation per call, remembers the operation, and on the next calls polls it: while it runs
the cluster is `Provisioning` with what it waits for and for how long; when it ends with an
error (a quota, say) the cluster is `Failed` with GKE's message and retried with backoff
(`retry.Retrying`). A node pool GKE left in ERROR is deleted so the retry can create it again.
GKE reports no current size for a pool, so the size this process last set is remembered and,
after a restart, set once more (setting the same size is harmless).

Credentials come only from the service account key in the Secret (in `laneway-system`) that
`gke.credentialsSecretRef` names (key `credentials.json` unless `key` says otherwise); they are
handed to the client explicitly, so Application Default Credentials
(GOOGLE_APPLICATION_CREDENTIALS, gcloud's files, the metadata server) are never consulted.
`gke.endpointUrl` (platform lane) sends every call elsewhere (the fake GKE API in tests). The
kubeconfig carries an OAuth access token minted from that key (an hour, refreshed when it
expires), never the key itself.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from laneway.api.kinds.platform import InferenceClass, InferenceCluster
from laneway.api.meta import SYSTEM_NAMESPACE
from laneway.drivers.kubeconfig import Kubeconfig, NoKubeconfig
from laneway.drivers.provisioners.credentials import credentials_secret
from laneway.drivers.provisioners.plan import ClusterPlan, PoolPlan, provider_block
from laneway.drivers.provisioners.retry import ProviderBlockError, StepFailed, duration_text
from laneway.drivers.provisioners.stepwise import StepwiseProvisioner
from laneway.drivers.provisioning import ProvisionState
from laneway.store.base import Store

if TYPE_CHECKING:
    from google.cloud.container_v1 import ClusterManagerClient, NodePool

SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
DEFAULT_KEY = "credentials.json"
POOL_LABEL = "laneway.dev/pool"
CLUSTER_LABEL = "laneway-cluster"  # GCE resource labels allow no '/' or '.'
DRIVER_VERSIONS = ("LATEST", "DEFAULT", "INSTALLATION_DISABLED")


class GkeUnavailable(ProviderBlockError):
    """The google-cloud-container client is not installed (the `gke` extra)."""


@dataclass(frozen=True)
class _Pending:
    """An operation this process started and polls; `sizes` are recorded when it succeeds."""

    name: str
    what: str
    started: float
    sizes: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class GkeTarget:
    project: str
    location: str
    endpoint: str | None

    @property
    def parent(self) -> str:
        return f"projects/{self.project}/locations/{self.location}"

    def cluster(self, name: str) -> str:
        return f"{self.parent}/clusters/{name}"


def gke_target(cluster: InferenceCluster) -> GkeTarget:
    block = provider_block(cluster)
    project, location = block.get("project"), block.get("location") or block.get("region")
    if not isinstance(project, str) or not project:
        raise ProviderBlockError(f"cluster {cluster.name}: gke.project is required (the GCP project id)")
    if not isinstance(location, str) or not location:
        raise ProviderBlockError(f"cluster {cluster.name}: gke.location is required (a region such as us-central1, or a zone)")
    endpoint = block.get("endpointUrl")
    return GkeTarget(project, location, endpoint if isinstance(endpoint, str) and endpoint else None)


def service_account_info(store: Store, cluster: InferenceCluster) -> dict[str, str]:
    """The service account key in the Secret `gke.credentialsSecretRef` names."""
    secret, ref = credentials_secret(store, cluster, holding=f"a service account key (JSON) under key {DEFAULT_KEY!r}")
    key = ref.get("key") if isinstance(ref.get("key"), str) and ref.get("key") else DEFAULT_KEY
    text = secret.value(str(key))
    where = f"Secret {SYSTEM_NAMESPACE}/{secret.name} key {key!r}"
    if not text:
        raise ProviderBlockError(f"{where} is empty or missing: put the service account key file (JSON) there")
    try:
        info = json.loads(text)
    except json.JSONDecodeError:
        raise ProviderBlockError(f"{where} is not JSON: it must hold a service account key file as GCP issues it") from None
    needed = ("client_email", "private_key", "token_uri")
    if not isinstance(info, dict) or info.get("type") != "service_account" or any(not isinstance(info.get(k), str) for k in needed):
        raise ProviderBlockError(f"{where} is not a service account key (type service_account with {', '.join(needed)})")
    return {k: v for k, v in info.items() if isinstance(v, str)}


def _error_message(error: Exception) -> str:
    message = getattr(error, "message", None)
    code = getattr(error, "code", None)
    name = getattr(code, "name", None) or type(error).__name__
    return f"{name}: {message}" if isinstance(message, str) and message else f"{type(error).__name__}: {error}"


def _google_errors() -> tuple[type[Exception], ...]:
    try:
        from google.api_core.exceptions import GoogleAPIError
        from google.auth.exceptions import GoogleAuthError
    except ImportError:
        return ()
    return (GoogleAPIError, GoogleAuthError)


@dataclass
class GkeProvisioner(StepwiseProvisioner):
    """The `Provisioner` of `source: GKE` (see `laneway.drivers.provisioning`)."""

    _pending: dict[str, _Pending] = field(default_factory=dict)
    _sizes: dict[tuple[str, str], int] = field(default_factory=dict)
    _tokens: dict[str, object] = field(default_factory=dict)

    def _provider_errors(self) -> tuple[type[Exception], ...]:
        return _google_errors()

    def _describe_error(self, error: Exception) -> str:
        return _error_message(error)

    def _client(self, cluster: InferenceCluster) -> tuple[ClusterManagerClient, GkeTarget]:
        target = gke_target(cluster)
        info = service_account_info(self.store, cluster)
        try:
            from google.api_core.client_options import ClientOptions
            from google.cloud.container_v1 import ClusterManagerClient
            from google.oauth2 import service_account
        except ImportError:
            raise GkeUnavailable("GKE provisioning needs google-cloud-container: pip install 'laneway[gke]'") from None
        credentials = service_account.Credentials.from_service_account_info(info, scopes=list(SCOPES))
        options = ClientOptions(api_endpoint=target.endpoint) if target.endpoint else None
        return ClusterManagerClient(credentials=credentials, transport="rest", client_options=options), target

    # The steps below run in a worker thread (the client is blocking).

    def _poll(self, client: ClusterManagerClient, target: GkeTarget, cluster: str) -> str | None:
        """What the cluster waits for while the operation this process started runs; raises
        StepFailed with GKE's message when it ended in an error; None once it is done."""
        from google.cloud.container_v1 import Operation

        pending = self._pending.get(cluster)
        if pending is None:
            return None
        op = client.get_operation(name=f"{target.parent}/operations/{pending.name}")
        if op.status != Operation.Status.DONE:
            return f"waiting for {pending.what} (operation {pending.name}, {duration_text(self.clock() - pending.started)})"
        del self._pending[cluster]
        if op.error.message:
            raise StepFailed(f"GKE operation {pending.name} ({pending.what}) failed: {op.error.message}")
        for pool, size in pending.sizes:
            self._sizes[(cluster, pool)] = size
        return None

    def _start(self, cluster: str, op_name: str, what: str, sizes: tuple[tuple[str, int], ...] = ()) -> str:
        self._pending[cluster] = _Pending(op_name, what, self.clock(), sizes)
        return f"waiting for {what} (operation {op_name}, 0s)"

    def _node_pool(self, cluster: InferenceCluster, pool: PoolPlan) -> NodePool:
        from google.cloud import container_v1 as gke

        block = class_block(self._classes().get(pool.class_name))
        config = gke.NodeConfig(machine_type=pool.machine, labels={POOL_LABEL: pool.name}, resource_labels={CLUSTER_LABEL: cluster.name})
        disk = block.get("diskSizeGb")
        if isinstance(disk, int) and not isinstance(disk, bool):
            config.disk_size_gb = disk
        if block.get("spot") is True:
            config.spot = True
        if pool.accelerator and pool.accelerators_per_node:
            version = block.get("gpuDriverVersion", "LATEST")
            if version not in DRIVER_VERSIONS:
                raise ProviderBlockError(
                    f"InferenceClass {pool.class_name}: provisioning.gke.gpuDriverVersion is {version!r}; use one of {', '.join(DRIVER_VERSIONS)}"
                )
            config.accelerators = [gke.AcceleratorConfig(
                accelerator_count=pool.accelerators_per_node,
                accelerator_type=pool.accelerator,
                gpu_driver_installation_config=gke.GPUDriverInstallationConfig(gpu_driver_version=str(version)),
            )]
        node_pool = gke.NodePool(name=pool.name, initial_node_count=pool.node_count, config=config)
        if pool.max_node_count > pool.min_node_count:
            node_pool.autoscaling = gke.NodePoolAutoscaling(
                enabled=True, min_node_count=pool.min_node_count, max_node_count=pool.max_node_count
            )
        return node_pool

    def _converge(self, cluster: InferenceCluster, plan: ClusterPlan) -> ProvisionState:
        from google.api_core.exceptions import NotFound
        from google.cloud import container_v1 as gke

        client, target = self._client(cluster)
        name = cluster.name
        waiting = self._poll(client, target, name)
        if waiting:
            return ProvisionState("Provisioning", waiting)
        try:
            found = client.get_cluster(name=target.cluster(name))
        except NotFound:
            pools = [self._node_pool(cluster, p) for p in plan.pools]
            # GKE's own Gateway API CRDs and controller (its gateway classes route to InferencePools).
            gateway_api = gke.GatewayAPIConfig(channel=gke.GatewayAPIConfig.Channel.CHANNEL_STANDARD)
            spec = gke.Cluster(
                name=name, node_pools=pools, resource_labels={CLUSTER_LABEL: name}, network_config=gke.NetworkConfig(gateway_api_config=gateway_api)
            )
            channel = provider_block(cluster).get("releaseChannel")
            if isinstance(channel, str) and channel:
                spec.release_channel = gke.ReleaseChannel(channel=channel)
            op = client.create_cluster(parent=target.parent, cluster=spec)
            self._start(name, op.name, f"GKE cluster {name} to be created", tuple((p.name, p.node_count) for p in plan.pools))
            return ProvisionState("Provisioning", f"creating GKE cluster {name} in {target.location}")
        status = gke.Cluster.Status(found.status).name
        if status == "ERROR":
            raise StepFailed(f"GKE cluster {name} is in ERROR: {found.status_message or 'no message'}")
        if status != "RUNNING":
            return ProvisionState("Provisioning", f"waiting for GKE cluster {name} to become RUNNING (it is {status})")
        existing = {p.name: p for p in found.node_pools}
        for pool in plan.pools:
            state = self._converge_pool(client, target, cluster, pool, existing.get(pool.name))
            if state is not None:
                return state
        for stale in sorted(set(existing) - {p.name for p in plan.pools}):
            op = client.delete_node_pool(name=f"{target.cluster(name)}/nodePools/{stale}")
            self._sizes.pop((name, stale), None)
            return ProvisionState("Provisioning", self._start(name, op.name, f"node pool {stale} (no longer declared) to be deleted"))
        return ProvisionState("Ready", f"GKE cluster {name} RUNNING with node pools " + ", ".join(p.name for p in plan.pools))

    def _converge_pool(
        self, client: ClusterManagerClient, target: GkeTarget, cluster: InferenceCluster, pool: PoolPlan, found: NodePool | None
    ) -> ProvisionState | None:
        from google.cloud import container_v1 as gke

        name = cluster.name
        path = f"{target.cluster(name)}/nodePools/{pool.name}"
        if found is None:
            op = client.create_node_pool(parent=target.cluster(name), node_pool=self._node_pool(cluster, pool))
            what = f"node pool {pool.name} ({pool.node_count} x {pool.machine}) to be created"
            return ProvisionState("Provisioning", self._start(name, op.name, what, ((pool.name, pool.node_count),)))
        status = gke.NodePool.Status(found.status).name
        if status == "ERROR":
            client.delete_node_pool(name=path)  # so the retry after the backoff creates it again
            self._sizes.pop((name, pool.name), None)
            raise StepFailed(f"node pool {pool.name} is in ERROR: {found.status_message or 'no message'}; deleting it to create it again")
        if status not in ("RUNNING", "RUNNING_WITH_ERROR"):
            return ProvisionState("Provisioning", f"waiting for node pool {pool.name} to become RUNNING (it is {status})")
        current = self._sizes.get((name, pool.name))
        if current != pool.node_count:
            op = client.set_node_pool_size(request=gke.SetNodePoolSizeRequest(name=path, node_count=pool.node_count))
            was = "an unknown size" if current is None else f"{current}"
            what = f"node pool {pool.name} to resize from {was} to {pool.node_count} nodes"
            return ProvisionState("Provisioning", self._start(name, op.name, what, ((pool.name, pool.node_count),)))
        return None

    def _delete_step(self, cluster: InferenceCluster) -> ProvisionState:
        from google.api_core.exceptions import NotFound
        from google.cloud import container_v1 as gke

        client, target = self._client(cluster)
        name = cluster.name
        try:
            waiting = self._poll(client, target, name)
        except StepFailed:
            waiting = None  # what the interrupted operation was doing no longer matters: the cluster goes
        if waiting:
            return ProvisionState("Deleting", waiting)
        try:
            found = client.get_cluster(name=target.cluster(name))
        except NotFound:
            for key in [k for k in self._sizes if k[0] == name]:
                del self._sizes[key]
            self._tokens.pop(name, None)
            return ProvisionState("Pending", f"GKE cluster {name} and its node pools are deleted")
        status = gke.Cluster.Status(found.status).name
        if status == "STOPPING":
            return ProvisionState("Deleting", f"waiting for GKE cluster {name} to be deleted")
        if status in ("PROVISIONING", "RECONCILING"):
            return ProvisionState("Deleting", f"waiting for GKE cluster {name} to finish {status} before deleting it")
        op = client.delete_cluster(name=target.cluster(name))
        return ProvisionState("Deleting", self._start(name, op.name, f"GKE cluster {name} and its node pools to be deleted"))

    def kubeconfig(self, cluster: InferenceCluster) -> Kubeconfig:
        """A kubeconfig for the created cluster whose token is an OAuth access token minted from
        the service account key (what gke-gcloud-auth-plugin hands kubectl): an hour, refreshed
        here when it expires, never the key; described again every 10 minutes (`MintedKubeconfigs`)."""
        return self._kubeconfigs.get(cluster.name, lambda: self._mint_kubeconfig(cluster))

    def _mint_kubeconfig(self, cluster: InferenceCluster) -> Kubeconfig:
        from google.cloud import container_v1 as gke

        errors: tuple[type[Exception], ...] = (*_google_errors(), ProviderBlockError)
        try:
            client, target = self._client(cluster)
            found = client.get_cluster(name=target.cluster(cluster.name))
            token = self._token(cluster)
        except errors as error:
            raise NoKubeconfig(f"GKE cluster {cluster.name}: {_error_message(error) if not isinstance(error, ProviderBlockError) else error}") from None
        if gke.Cluster.Status(found.status).name != "RUNNING":
            raise NoKubeconfig(f"GKE cluster {cluster.name} is not RUNNING yet")
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": cluster.name, "cluster": {
                "server": f"https://{found.endpoint}", "certificate-authority-data": found.master_auth.cluster_ca_certificate}}],
            "users": [{"name": "laneway", "user": {"token": token}}],
            "contexts": [{"name": cluster.name, "context": {"cluster": cluster.name, "user": "laneway"}}],
            "current-context": cluster.name,
        }
        return Kubeconfig(json.dumps(config), f"GKE cluster {cluster.name} (OAuth token from its service account, 1 hour)")

    def _token(self, cluster: InferenceCluster) -> str:
        import google.auth.transport.requests
        from google.oauth2 import service_account

        credentials = self._tokens.get(cluster.name)
        if not isinstance(credentials, service_account.Credentials):
            info = service_account_info(self.store, cluster)
            credentials = service_account.Credentials.from_service_account_info(info, scopes=list(SCOPES))
            self._tokens[cluster.name] = credentials
        if not credentials.valid:
            credentials.refresh(google.auth.transport.requests.Request())
        return str(credentials.token)

    async def close(self) -> None:
        self._retrying.clear()
        self._tokens.clear()
        self._kubeconfigs.forget()


def class_block(klass: InferenceClass | None) -> dict[str, object]:
    """The class's `provisioning.gke` block (empty when it has none)."""
    provisioning = klass.spec.provisioning if klass is not None else None
    block = (provisioning.model_extra or {}).get("gke") if provisioning is not None else None
    return dict(block) if isinstance(block, dict) else {}
