"""What the platform team publishes: the gateway, the classes of node pools, the clusters.

InferenceClass devices are DRA-style: a device has a driver, typed attributes and capacity
quantities, which device requests' CEL selectors are evaluated against by the scheduler.

Shapes follow Modelplane v1alpha1 so its manifests load unchanged. Provider blocks that only a
cloud driver reads (`gke`, `eks`, ...) are kept as written; laneway checks that the block the
chosen provider needs is there, and leaves their contents to the driver that uses them.
"""

from __future__ import annotations

import builtins
import ipaddress
import re
from typing import Any, ClassVar, Literal

from pydantic import Field, StrictBool, StrictFloat, StrictInt, field_validator, model_validator

from laneway.api.errors import RuleViolation
from laneway.api.kinds.common import SecretKeyRef, check_duration, check_http_url, check_user_labels, parse_duration
from laneway.api.meta import Model, OpenModel, Resource, Status, check_dns1123_label, check_labels
from laneway.api.selectors import LabelSelector
from laneway.egress.hosts import HostPattern

MAX_DEVICES_PER_CLASS = 16
MAX_DEVICE_ATTRIBUTES = 32
MAX_DEVICE_CAPACITIES = 32
MAX_DEVICES_PER_NODE = 1024
MAX_POOLS = 64
MAX_TAINTS = 64
MAX_ZONES = 32
MAX_NODE_SELECTOR = 16
MAX_LISTENERS = 16
MAX_CACHE_ROOTS = 32
MAX_EGRESS_RULES = 256
MAX_RULE_PORTS = 64

Provider = Literal["GKE", "EKS", "AKS", "Nebius", "Vultr"]
_PROVIDER_BLOCK = {"GKE": "gke", "EKS": "eks", "AKS": "aks", "Nebius": "nebius", "Vultr": "vultr"}


def _duplicates(names: list[str]) -> list[str]:
    return sorted({n for n in names if names.count(n) > 1})


class DeviceAttribute(Model):
    """Exactly one typed value, as in DRA's DeviceAttribute."""

    string: str | None = Field(default=None, max_length=253)
    version: str | None = Field(default=None, max_length=32)
    bool: StrictBool | None = None
    int: StrictInt | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> DeviceAttribute:
        set_ = [k for k in ("string", "version", "bool", "int") if getattr(self, k) is not None]
        if len(set_) != 1:
            found = ", ".join(set_) or "none"
            raise ValueError(
                f"a device attribute holds exactly one of 'string', 'version', 'bool' or 'int' (found {found}); "
                "e.g. architecture: {string: Hopper}"
            )
        return self

    def value(self) -> str | builtins.bool | builtins.int:
        for v in (self.string, self.version, self.bool, self.int):
            if v is not None:
                return v
        raise AssertionError("validated to hold one value")


class DeviceCapacity(Model):
    value: str = Field(max_length=32)

    @field_validator("value", mode="before")
    @classmethod
    def _quantity_text(cls, v: object) -> str:
        if isinstance(v, bool) or not isinstance(v, (str, int, float)):
            raise ValueError("capacity value must be a quantity such as '80Gi', '141Gi' or '8'")
        return str(v)


class ClassDevice(Model):
    name: str = Field(min_length=1, max_length=63)
    claim: Literal["DRA", "Synthetic"] = "DRA"
    driver: str = Field(min_length=1, max_length=253)
    device_class_name: str | None = Field(default=None, min_length=1, max_length=253)
    count: StrictInt = Field(default=1, ge=1, le=MAX_DEVICES_PER_NODE)
    attributes: dict[str, DeviceAttribute] = Field(default_factory=dict, max_length=MAX_DEVICE_ATTRIBUTES)
    capacity: dict[str, DeviceCapacity] = Field(default_factory=dict, max_length=MAX_DEVICE_CAPACITIES)

    @model_validator(mode="after")
    def _dra_has_class(self) -> ClassDevice:
        if self.claim == "DRA" and not self.device_class_name:
            raise RuleViolation(
                f"device {self.name!r} has claim DRA (the default) and needs 'deviceClassName' (e.g. gpu.nvidia.com); "
                "or set claim: Synthetic for a device that only constrains placement",
                at="deviceClassName",
            )
        return self


class Provisioning(OpenModel):
    """How a node pool of this class is created; the provider's block is kept as written."""

    provider: Provider

    @model_validator(mode="after")
    def _has_block(self) -> Provisioning:
        block = _PROVIDER_BLOCK[self.provider]
        if not isinstance(getattr(self, block, None), dict):
            raise RuleViolation(
                f"provider {self.provider} needs its block '{block}' (e.g. the machine type and accelerator)", at=block
            )
        return self


class Pricing(Model):
    """What a node of this class costs. `perDeviceHour` prices one device on pools accounted
    by Device (else the node price split evenly over the node's devices)."""

    per_node_hour: StrictFloat = Field(ge=0)
    per_device_hour: StrictFloat | None = Field(default=None, ge=0)
    currency: str = Field(default="USD", min_length=3, max_length=3)


class InferenceClassSpec(Model):
    description: str = Field(default="", max_length=1024)
    devices: list[ClassDevice] = Field(min_length=1, max_length=MAX_DEVICES_PER_CLASS)
    provisioning: Provisioning | None = None
    pricing: Pricing | None = None

    @field_validator("devices")
    @classmethod
    def _unique_names(cls, v: list[ClassDevice]) -> list[ClassDevice]:
        dup = _duplicates([d.name for d in v])
        if dup:
            raise ValueError(f"device names must be unique within a class; repeated: {', '.join(dup)}")
        return v


class InferenceClass(Resource):
    KIND: ClassVar[str] = "InferenceClass"
    PLURAL: ClassVar[str] = "inferenceclasses"
    SHORT_NAMES: ClassVar[tuple[str, ...]] = ("icl",)
    NAMESPACED: ClassVar[bool] = False

    kind: Literal["InferenceClass"] = "InferenceClass"
    spec: InferenceClassSpec
    status: Status = Field(default_factory=Status)


class KubeconfigSecretRef(SecretKeyRef):
    """The Secret (in `laneway-system`) holding an existing cluster's kubeconfig."""

    key: str = Field(default="kubeconfig", min_length=1, max_length=253)


class ExistingSource(OpenModel):
    """A cluster laneway does not provision. Modelplane's further settings (`components`,
    `identitySecretRef`, `cache`) are kept as written for the Kubernetes driver."""

    secret_ref: KubeconfigSecretRef


MAX_LOCAL_ENGINES = 32
MAX_ENGINE_COMMAND = 64


class LocalEngine(Model):
    """An engine the platform lets run on a Local cluster: which container images select it, and
    the command it is on this machine.

    A container whose `image` matches `image` (a shell-style pattern: `*`, `?`, `[...]`) runs
    `command`, followed by the container's `args` when `allowArgs`. The container's own `command`
    must be empty or equal to `command`, unless `allowCommand`, which lets a team run ANY
    command on this machine (confined, as every engine is): a dangerous, explicit choice.
    """

    name: str
    image: str = Field(default="*", min_length=1, max_length=512)
    command: list[str] = Field(default_factory=list, max_length=MAX_ENGINE_COMMAND)
    allow_args: StrictBool = True
    allow_command: StrictBool = False

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return check_dns1123_label(v, "engine name")

    @field_validator("command")
    @classmethod
    def _words(cls, v: list[str]) -> list[str]:
        if any(not w or len(w) > 4096 for w in v):
            raise ValueError("every word of 'command' must be 1 to 4096 characters")
        return v

    @model_validator(mode="after")
    def _runs_something(self) -> LocalEngine:
        if not self.command and not self.allow_command:
            raise RuleViolation(
                f"engine {self.name!r} needs 'command' (the argv to run on this machine, e.g. [laneway, engine, sim]), "
                "or allowCommand: true to let teams name their own command",
                at="command",
            )
        return self


class LocalSource(OpenModel):
    """This machine: engines run as supervised, confined local processes, no Kubernetes at all.

    `engines` lists what may run here; left out, laneway's own engines (`laneway engine sim` and
    `laneway engine llamacpp`, any image) are allowed. An empty list allows nothing.

    `cacheRoots` are the directories a Local ModelCache may copy from on this machine
    (resolved through symlinks when a cache is staged); none means no Local cache source.
    """

    engines: list[LocalEngine] | None = Field(default=None, max_length=MAX_LOCAL_ENGINES)
    cache_roots: list[str] = Field(default_factory=list, max_length=MAX_CACHE_ROOTS)

    @field_validator("engines")
    @classmethod
    def _unique_engines(cls, v: list[LocalEngine] | None) -> list[LocalEngine] | None:
        dup = _duplicates([e.name for e in v or []])
        if dup:
            raise ValueError(f"engine names must be unique; repeated: {', '.join(dup)}")
        return v

    @field_validator("cache_roots")
    @classmethod
    def _absolute_roots(cls, v: list[str]) -> list[str]:
        for root in v:
            if not root.startswith("/") or "\0" in root or len(root) > 4096:
                raise ValueError(f"cache root {root!r} must be an absolute directory path such as /srv/models")
        return v


class SimulatedSource(Model):
    """A cluster that exists only in laneway, as kwok's nodes exist only in Kubernetes: its
    replicas turn Ready without running anything, for tests and capacity planning at scale.

    `endpoints: Simulator` answers every replica's endpoint with one in-process vLLM-like
    simulator (`laneway engine sim`); `None` (the default) publishes no endpoint, for
    placement-only runs. `reachable: false` makes the cluster NotReady, to rehearse losing a
    region. `startupSeconds` is how long a replica takes to turn Ready."""

    reachable: StrictBool = True
    endpoints: Literal["None", "Simulator"] = "None"
    startup_seconds: StrictFloat | StrictInt = Field(default=0.0, ge=0, le=3600)


class MachinesSource(LocalSource):
    """Machines that join with `laneway agent` (on-prem racks, rented GPU boxes, no Kubernetes).

    Each machine runs its engines as the Local source runs them on this machine (the same
    `engines` allow-list and `cacheRoots`, applied by the agent on its machine). A machine
    joins one of the cluster's `nodePools`: the one its agent names (`--pool`), else the first
    whose class its discovered devices cover. A pool publishes as many nodes as it has Ready
    machines. `heartbeatGracePeriod` is how long a machine may go unheard before it is
    NotReady: its endpoints stop receiving traffic and its replicas are run by another machine
    of the pool that has room."""

    heartbeat_grace_period: str = "15s"

    @field_validator("heartbeat_grace_period")
    @classmethod
    def _grace(cls, v: str) -> str:
        checked = check_duration(v)
        assert checked is not None
        if not 1 <= parse_duration(checked) <= 3600:
            raise ValueError(f"heartbeatGracePeriod {v!r} must be between 1s and 1h")
        return checked


ClusterSourceKind = Literal["Local", "Existing", "Simulated", "Machines", "GKE", "EKS", "AKS", "Nebius", "Vultr"]


class ClusterSource(OpenModel):
    """Where the cluster comes from; cloud sources keep their provider blocks as written."""

    source: ClusterSourceKind
    local: LocalSource | None = None
    existing: ExistingSource | None = None
    simulated: SimulatedSource | None = None
    machines: MachinesSource | None = None

    @model_validator(mode="after")
    def _block_matches_source(self) -> ClusterSource:
        if self.source == "Existing" and self.existing is None:
            raise RuleViolation(
                "source Existing needs 'existing.secretRef' naming the Secret (in laneway-system) that holds the kubeconfig",
                at="existing",
            )
        if self.source == "Simulated" and self.simulated is None:
            self.simulated = SimulatedSource()
        if self.source == "Machines" and self.machines is None:
            self.machines = MachinesSource()
        block = _PROVIDER_BLOCK.get(self.source)
        if block is not None and not isinstance(getattr(self, block, None), dict):
            raise RuleViolation(f"source {self.source} needs its block '{block}' (e.g. its region)", at=block)
        return self


class InfinibandFabric(Model):
    fabric: str = Field(min_length=1, max_length=63)


class Fabric(Model):
    """Node-to-node fabric of a pool. Written as Modelplane's object, or as a bare type name."""

    type: Literal["None", "EFA", "InfiniBand"] = "None"
    infiniband: InfinibandFabric | None = None

    @model_validator(mode="after")
    def _infiniband_block(self) -> Fabric:
        if self.infiniband is not None and self.type != "InfiniBand":
            raise RuleViolation("fabric.infiniband is only valid when fabric.type is InfiniBand", at="infiniband")
        return self


class CapacityBlock(Model):
    capacity_reservation_id: str = Field(pattern=r"^cr-[0-9a-f]+$", min_length=4, max_length=64)


class NodePool(Model):
    name: str
    role: Literal["GPU", "System"] = "GPU"
    class_name: str = Field(default="", max_length=253)
    instance_type: str | None = Field(default=None, max_length=253)
    node_count: StrictInt = Field(default=1, ge=0, le=100000)
    min_node_count: StrictInt | None = Field(default=None, ge=0, le=100000)
    max_node_count: StrictInt | None = Field(default=None, ge=0, le=100000)
    zones: list[str] = Field(default_factory=list, max_length=MAX_ZONES)
    fabric: Fabric | None = None
    capacity_block: CapacityBlock | None = None
    accounting: Literal["Node", "Device"] = "Node"
    # On Kubernetes clusters: the node labels that select this pool's nodes (else the cluster's
    # node-pool label with the pool's name; see docs/kubernetes.md).
    node_selector: dict[str, str] = Field(default_factory=dict, max_length=MAX_NODE_SELECTOR)

    @field_validator("node_selector")
    @classmethod
    def _node_selector(cls, v: dict[str, str]) -> dict[str, str]:
        return check_labels(v)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if len(v) > 40:
            raise ValueError(f"node pool name {v!r} is {len(v)} characters; at most 40 are allowed")
        return check_dns1123_label(v, "node pool name")

    @field_validator("fabric", mode="before")
    @classmethod
    def _fabric_shorthand(cls, v: object) -> object:
        return {"type": v} if isinstance(v, str) else v

    @model_validator(mode="after")
    def _bounds(self) -> NodePool:
        if self.role == "GPU" and not self.class_name:
            raise RuleViolation(
                f"pool {self.name!r} needs 'className' naming the InferenceClass that describes its nodes "
                "(or role: System for a pool that runs no engines)",
                at="className",
            )
        if self.min_node_count is not None and self.max_node_count is not None and self.min_node_count > self.max_node_count:
            raise RuleViolation(
                f"pool {self.name!r}: minNodeCount {self.min_node_count} is above maxNodeCount {self.max_node_count}",
                at="minNodeCount",
            )
        return self

    @property
    def published_nodes(self) -> int:
        """Nodes the scheduler may plan onto: the autoscaling ceiling when set, else the fixed count.
        System pools run no engines and publish none."""
        if self.role == "System":
            return 0
        return self.max_node_count if self.max_node_count is not None else self.node_count


class Taint(Model):
    key: str = Field(min_length=1, max_length=316)
    value: str = Field(default="", max_length=63)
    effect: Literal["NoSchedule", "NoExecute"]


class PlacementMetadata(Model):
    labels: dict[str, str] = Field(default_factory=dict)

    @field_validator("labels")
    @classmethod
    def _labels(cls, v: dict[str, str]) -> dict[str, str]:
        return check_user_labels(v, what="placement.metadata.labels")


class ClusterPlacement(Model):
    """Facts about where the cluster is, stamped onto every replica and endpoint composed there."""

    metadata: PlacementMetadata = Field(default_factory=PlacementMetadata)


class ClusterGateway(Model):
    hostname: str | None = Field(default=None, min_length=1, max_length=253)

    @field_validator("hostname")
    @classmethod
    def _bare(cls, v: str | None) -> str | None:
        if v is not None and ("/" in v or ":" in v):
            raise ValueError(f"hostname {v!r} must be a bare DNS name, with no scheme, port or path")
        return v


class InferenceClusterSpec(Model):
    cluster: ClusterSource
    stack: Literal["Standard", "Dynamo"] | None = None
    placement: ClusterPlacement | None = None
    gateway: ClusterGateway | None = None
    node_pools: list[NodePool] = Field(default_factory=list, max_length=MAX_POOLS)
    taints: list[Taint] = Field(default_factory=list, max_length=MAX_TAINTS)
    not_ready_grace_period: str | None = None
    """How long the cluster may stay NotReady before its replicas are placed elsewhere
    (laneway's; a duration such as '5m'). Unset: DEFAULT_NOT_READY_GRACE_PERIOD."""

    @field_validator("not_ready_grace_period")
    @classmethod
    def _grace(cls, v: str | None) -> str | None:
        return check_duration(v)

    @field_validator("node_pools")
    @classmethod
    def _unique_pools(cls, v: list[NodePool]) -> list[NodePool]:
        dup = _duplicates([p.name for p in v])
        if dup:
            raise ValueError(f"node pool names must be unique; repeated: {', '.join(dup)}")
        return v

    @field_validator("taints")
    @classmethod
    def _unique_taints(cls, v: list[Taint]) -> list[Taint]:
        dup = _duplicates([f"{t.key}:{t.effect}" for t in v])
        if dup:
            raise ValueError(f"a taint key may appear once per effect; repeated: {', '.join(dup)}")
        return v


class GpuPoolStatus(OpenModel):
    name: str
    nodes: StrictInt = 0
    devices: StrictInt = 0


class ClusterGatewayStatus(OpenModel):
    address: str | None = None


class MachineAddress(OpenModel):
    """One URL a serving engine on a machine answers on, as its agent reports it."""

    engine: str
    engine_copy: StrictInt = 0
    url: str
    ready: StrictBool = False
    models: list[str] = Field(default_factory=list)


class MachineMember(OpenModel):
    """One engine process of a replica on a machine, as its agent reports it."""

    id: str
    engine: str
    phase: Literal["Pending", "Starting", "Running", "Ready", "CrashLoopBackOff", "Stopped"] = "Pending"
    ready: StrictBool = False
    restarts: StrictInt = 0


class MachineReplicaReport(OpenModel):
    """What an agent last reported of one replica it runs (see `MachineStatus.reports`)."""

    namespace: str
    name: str
    uid: str
    ready: StrictBool = False
    reason: str = ""
    message: str = ""
    addresses: list[MachineAddress] = Field(default_factory=list)
    members: list[MachineMember] = Field(default_factory=list)


class MachineAssignment(OpenModel):
    """A replica the Machines driver has given a machine to run: all of it, or (a gang spread
    over machines) the `processes` named, with the `leaderAddresses` (`host:port` by
    `<engine>-<copy>`) of leaders that run on other machines. `devices` is what it claims."""

    namespace: str
    name: str
    uid: str
    processes: list[str] = Field(default_factory=list)
    leader_addresses: dict[str, str] = Field(default_factory=dict)
    devices: StrictInt = 0


class MachineCacheReport(OpenModel):
    """Where staging one ModelCache stands on one machine, as its agent reports it."""

    namespace: str
    name: str
    uid: str
    state: Literal["Pending", "Hydrating", "Ready", "Failed"] = "Pending"
    message: str = ""
    bytes: StrictInt | None = None


class MachineCacheOrder(OpenModel):
    """A ModelCache every machine of the cluster stages (the Machines driver's `apply_cache`)."""

    namespace: str
    name: str
    uid: str


class MachineStatus(OpenModel):
    """One machine joined to a Machines cluster (written by laneway, never by hand).

    `ready` follows the agent's heartbeat; `assignments` are the replicas this machine runs
    (the driver's choice within the pool the scheduler picked); `reports` what the agent last
    said of them. `devices` summarises what the agent discovered (`2 x NVIDIA H200`)."""

    name: str
    pool: str
    class_name: str = ""
    address: str = ""
    devices: str = ""
    device_count: StrictInt = 0
    joined: str = ""
    ready: StrictBool = False
    since: str = ""
    message: str = ""
    assignments: list[MachineAssignment] = Field(default_factory=list)
    reports: list[MachineReplicaReport] = Field(default_factory=list)
    caches: list[MachineCacheReport] = Field(default_factory=list)


class InferenceClusterStatus(Status):
    gpu_pools: list[GpuPoolStatus] = Field(default_factory=list)
    machines: list[MachineStatus] = Field(default_factory=list)
    machine_caches: list[MachineCacheOrder] = Field(default_factory=list)
    gateway: ClusterGatewayStatus = Field(default_factory=ClusterGatewayStatus)


class InferenceCluster(Resource):
    KIND: ClassVar[str] = "InferenceCluster"
    PLURAL: ClassVar[str] = "inferenceclusters"
    SHORT_NAMES: ClassVar[tuple[str, ...]] = ("ic",)
    NAMESPACED: ClassVar[bool] = False

    kind: Literal["InferenceCluster"] = "InferenceCluster"
    spec: InferenceClusterSpec
    status: InferenceClusterStatus = Field(default_factory=InferenceClusterStatus)


class Listener(OpenModel):
    name: str
    port: StrictInt = Field(ge=1, le=65535)
    protocol: Literal["HTTP", "HTTPS"] = "HTTP"


class CertificateRef(Model):
    name: str = Field(min_length=1, max_length=253)


class GatewayTLS(Model):
    secret_ref: SecretKeyRef | None = None
    cert_secret_ref: SecretKeyRef | None = None
    key_secret_ref: SecretKeyRef | None = None
    certificate_refs: list[CertificateRef] = Field(default_factory=list, max_length=16)


class GatewayPolicy(OpenModel):
    require_api_key: StrictBool = False
    max_request_body_bytes: StrictInt | None = Field(default=None, ge=1)
    client_header_timeout: str | None = None
    """How long a caller may take to send a request's line and headers (a duration, e.g. "20s");
    unset: the gateway's default. See docs/gateway.md, "Slow clients"."""
    client_body_timeout: str | None = None
    """How long a caller may take to send a request's body once its headers are in."""

    @field_validator("client_header_timeout", "client_body_timeout")
    @classmethod
    def _positive_duration(cls, v: str | None) -> str | None:
        if v is not None and parse_duration(v) <= 0:
            raise ValueError(f"{v!r} must be a positive duration such as 20s or 2m")
        return v


class GatewayApiKeyAuth(Model):
    """Caller keys: every key of every Secret the selector matches is one caller."""

    secret_selector: LabelSelector


class GatewayAuth(Model):
    method: Literal["APIKey", "None"] = "APIKey"
    api_key: GatewayApiKeyAuth | None = None


class GatewayListenerPort(Model):
    port: StrictInt = Field(default=80, ge=1, le=65535)


class EgressRule(Model):
    """One door in the egress policy: a CIDR range or a host pattern, optionally on some ports."""

    cidr: str | None = Field(default=None, max_length=64)
    host: str | None = Field(default=None, max_length=253)
    ports: list[StrictInt] = Field(default_factory=list, max_length=MAX_RULE_PORTS)

    @field_validator("cidr")
    @classmethod
    def _cidr(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                ipaddress.ip_network(v, strict=False)
            except ValueError:
                raise ValueError(f"cidr {v!r} is not an address range; write e.g. 10.0.0.0/8, 127.0.0.1/32 or fd00::/8") from None
        return v

    @field_validator("host")
    @classmethod
    def _host(cls, v: str | None) -> str | None:
        if v is not None:
            HostPattern.parse(v)
        return v

    @field_validator("ports")
    @classmethod
    def _ports(cls, v: list[int]) -> list[int]:
        bad = [p for p in v if isinstance(p, bool) or not 1 <= p <= 65535]
        if bad:
            raise ValueError(f"ports {bad} are not TCP ports; use numbers from 1 to 65535")
        return v

    @model_validator(mode="after")
    def _one_of(self) -> EgressRule:
        if (self.cidr is None) == (self.host is None):
            raise RuleViolation("an egress rule names exactly one of 'cidr' (e.g. 10.0.0.0/8) or 'host' (e.g. minio.internal)", at="cidr")
        return self


class GatewayEgress(Model):
    """The platform's egress policy: where laneway may connect for URLs the team lane wrote.

    Addresses that are not globally routable (loopback, link-local with the cloud metadata
    address, private, unique-local, unspecified, multicast, reserved) are refused unless an
    `allow` rule opens them; public ones are allowed unless `allowPublic` is false or a
    `deny` rule closes them. Deny rules win over allow rules."""

    allow_public: StrictBool = True
    allow: list[EgressRule] = Field(default_factory=list, max_length=MAX_EGRESS_RULES)
    deny: list[EgressRule] = Field(default_factory=list, max_length=MAX_EGRESS_RULES)


class ExternalProvider(Model):
    """An external model provider the platform vouches for: its labels (jurisdiction, ...) are
    the platform's word, so a ticket's overflow row can name it and be judged against the
    sovereignty rule on facts a team cannot rewrite. `secretRef` names the key, a Secret the
    platform lane writes in each namespace it lets use the provider, whose
    `laneway.dev/destinations` must include the provider's host."""

    name: str = Field(min_length=1, max_length=63)
    url: str = Field(max_length=2048)
    labels: dict[str, str] = Field(default_factory=dict, max_length=32)
    models: list[str] = Field(default_factory=list, max_length=256)
    price_per_million_tokens: StrictFloat | None = Field(default=None, ge=0)
    secret_ref: SecretKeyRef | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return check_dns1123_label(v)

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        return check_http_url(v)

    @field_validator("labels")
    @classmethod
    def _labels(cls, v: dict[str, str]) -> dict[str, str]:
        return check_labels(v)


class GatewayTickets(Model):
    """The platform's rules for tickets (see docs/tickets.md, "The platform's side").

    `maxRetirementHorizon`: the furthest ahead a ticket's `retireAfter` may lie (e.g. 365d);
    with it set, a ticket without a retirement date fails its lifecycle row. `contactPattern`:
    a regular expression every pager contact must match in full (e.g. `#[a-z0-9-]+-oncall`).
    `requireTicket`: namespaces (or `*`) where the API server refuses team-written
    ModelDeployments and ModelServices that an approved ticket did not compose. `providers`:
    the external providers a ticket's overflow row may name. `tombstonePeriod`: how long the
    service of a deleted or expired ticket stands as a tombstone answering 410 Gone with its
    owner's name before it goes (default 30d); the platform's, so a team cannot make its own
    service vanish sooner, nor hold a name longer, than the fleet's callers are promised."""

    max_retirement_horizon: str | None = None
    tombstone_period: str | None = None
    contact_pattern: str | None = Field(default=None, max_length=256)
    require_ticket: list[str] = Field(default_factory=list, max_length=1024)
    providers: list[ExternalProvider] = Field(default_factory=list, max_length=256)

    @field_validator("max_retirement_horizon")
    @classmethod
    def _horizon(cls, v: str | None) -> str | None:
        return check_duration(v)

    @field_validator("tombstone_period")
    @classmethod
    def _tombstone(cls, v: str | None) -> str | None:
        check_duration(v)
        if v is not None and parse_duration(v) <= 0:
            raise ValueError(f"tombstonePeriod {v!r} is no time at all; write e.g. 30d or 7d (leave it out for 30d)")
        return v

    @field_validator("contact_pattern")
    @classmethod
    def _pattern(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as e:
                raise ValueError(f"contactPattern {v!r} is not a regular expression ({e}); write e.g. '#[a-z0-9-]+-oncall'") from None
        return v


class Budget(Model):
    """A namespace's spending limit for external (priced) providers over a period. Written by
    the platform on the InferenceGateway, so a team cannot raise its own. `warnAt`: the share
    of the limit at which the budget is reported as approached."""

    namespace: str = Field(min_length=1, max_length=63)
    limit: StrictFloat = Field(ge=0)
    currency: str = Field(default="USD", min_length=3, max_length=3)
    period: str = "30d"
    warn_at: StrictFloat = Field(default=0.8, ge=0, le=1)

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, v: str) -> str:
        return check_dns1123_label(v, "namespace")

    @field_validator("period")
    @classmethod
    def _period(cls, v: str) -> str:
        check_duration(v)
        if parse_duration(v) <= 0:
            raise ValueError(f"period {v!r} is no time at all; write e.g. 30d or 7d")
        return v


class SeenTokens(Model):
    """The last token totals the budget ledger read from one gateway's entry for one endpoint."""

    since: str | None = None
    prompt: StrictInt = 0
    completion: StrictInt = 0


class BudgetStatus(Model):
    """Where a namespace stands against its budget in the current period (the ledger)."""

    namespace: str
    period_start: str
    spent: StrictFloat = 0.0
    limit: StrictFloat = 0.0
    currency: str = "USD"
    approached: StrictBool = False
    exhausted: StrictBool = False
    seen: dict[str, SeenTokens] = Field(default_factory=dict)
    """Per `gateway/service/endpoint`, the totals already counted (so nothing counts twice)."""


class InferenceGatewaySpec(Model):
    address: str | None = None
    listeners: list[Listener] = Field(default_factory=list, max_length=MAX_LISTENERS)
    tls: GatewayTLS | None = None
    policy: GatewayPolicy = Field(default_factory=GatewayPolicy)
    auth: GatewayAuth | None = None
    service_selector: LabelSelector | None = None
    cluster_name: str | None = Field(default=None, max_length=253)
    backend: Literal["EnvoyGateway"] | None = None
    envoy_gateway: dict[str, Any] | None = None
    gateway: GatewayListenerPort | None = None
    egress: GatewayEgress = Field(default_factory=GatewayEgress)
    tickets: GatewayTickets = Field(default_factory=GatewayTickets)
    budgets: list[Budget] = Field(default_factory=list, max_length=1024)


class InferenceGatewayStatus(Status):
    address: str | None = None
    # The listen address of the gateway process that holds this object (`gateway/presence.py`).
    served_by: str | None = None
    # Written by the budget controller (`control/budget.py`); the gateway reads `exhausted`.
    budgets: list[BudgetStatus] | None = None


class InferenceGateway(Resource):
    KIND: ClassVar[str] = "InferenceGateway"
    PLURAL: ClassVar[str] = "inferencegateways"
    SHORT_NAMES: ClassVar[tuple[str, ...]] = ("ig",)
    NAMESPACED: ClassVar[bool] = False

    kind: Literal["InferenceGateway"] = "InferenceGateway"
    spec: InferenceGatewaySpec = Field(default_factory=InferenceGatewaySpec)
    status: InferenceGatewayStatus = Field(default_factory=InferenceGatewayStatus)
