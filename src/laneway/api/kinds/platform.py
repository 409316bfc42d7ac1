"""What the platform team publishes: the gateway, the classes of node pools, the clusters.

InferenceClass devices are DRA-style: a device has a driver, typed attributes and capacity
quantities, which device requests' CEL selectors are evaluated against by the scheduler.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, StrictBool, StrictInt, field_validator, model_validator

from laneway.api.kinds.common import SecretKeyRef
from laneway.api.meta import Model, OpenModel, Resource, Status, check_dns1123_label

MAX_DEVICES_PER_CLASS = 32
MAX_POOLS = 64


class DeviceAttribute(Model):
    """Exactly one typed value, as in DRA's DeviceAttribute."""

    string: str | None = None
    version: str | None = None
    bool: StrictBool | None = None
    int: StrictInt | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> "DeviceAttribute":
        set_ = [k for k in ("string", "version", "bool", "int") if getattr(self, k) is not None]
        if len(set_) != 1:
            raise ValueError("a device attribute holds exactly one of 'string', 'version', 'bool' or 'int'")
        return self

    def value(self) -> str | bool | int:
        for k in ("string", "version", "bool", "int"):
            v = getattr(self, k)
            if v is not None:
                return v
        raise AssertionError("validated to hold one value")


class DeviceCapacity(Model):
    value: str

    @field_validator("value", mode="before")
    @classmethod
    def _quantity_text(cls, v: object) -> str:
        if isinstance(v, bool) or not isinstance(v, (str, int, float)):
            raise ValueError("capacity value must be a quantity such as '80Gi', '141Gi' or '8'")
        return str(v)


class ClassDevice(Model):
    name: str
    claim: Literal["DRA", "Synthetic"] = "DRA"
    driver: str
    device_class_name: str | None = None
    count: int = Field(default=1, ge=1, le=1024)
    attributes: dict[str, DeviceAttribute] = Field(default_factory=dict)
    capacity: dict[str, DeviceCapacity] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _dra_has_class(self) -> "ClassDevice":
        if self.claim == "DRA" and not self.device_class_name:
            raise ValueError(
                f"device {self.name!r} has claim DRA and needs 'deviceClassName' (e.g. gpu.nvidia.com); "
                "or set claim: Synthetic for a device that only constrains placement"
            )
        return self


class Provisioning(OpenModel):
    provider: Literal["GKE", "EKS", "AKS", "Nebius", "Vultr"]


class Pricing(Model):
    per_node_hour: float = Field(ge=0)
    currency: str = "USD"


class InferenceClassSpec(Model):
    description: str = ""
    devices: list[ClassDevice] = Field(min_length=1, max_length=MAX_DEVICES_PER_CLASS)
    provisioning: Provisioning | None = None
    pricing: Pricing | None = None

    @field_validator("devices")
    @classmethod
    def _unique_names(cls, v: list[ClassDevice]) -> list[ClassDevice]:
        names = [d.name for d in v]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"device names must be unique within a class; repeated: {', '.join(sorted(dup))}")
        return v


class InferenceClass(Resource):
    KIND: ClassVar[str] = "InferenceClass"
    PLURAL: ClassVar[str] = "inferenceclasses"
    SHORT_NAMES: ClassVar[tuple[str, ...]] = ("ic",)
    NAMESPACED: ClassVar[bool] = False

    kind: Literal["InferenceClass"] = "InferenceClass"
    spec: InferenceClassSpec
    status: Status = Field(default_factory=Status)


class ExistingSource(Model):
    secret_ref: SecretKeyRef


class LocalSource(OpenModel):
    pass


class ClusterSource(OpenModel):
    """Where the cluster comes from; cloud sources keep their provider blocks as written."""

    source: Literal["Local", "Existing", "GKE", "EKS", "AKS", "Nebius", "Vultr"]
    local: LocalSource | None = None
    existing: ExistingSource | None = None

    @model_validator(mode="after")
    def _block_matches_source(self) -> "ClusterSource":
        if self.source == "Existing" and self.existing is None:
            raise ValueError("source Existing needs an 'existing.secretRef' naming the Secret that holds the kubeconfig")
        return self


class NodePool(Model):
    name: str
    class_name: str
    node_count: int = Field(default=1, ge=0, le=100000)
    min_node_count: int | None = Field(default=None, ge=0)
    max_node_count: int | None = Field(default=None, ge=0)
    zones: list[str] = Field(default_factory=list)
    fabric: str | None = None
    accounting: Literal["Node", "Device"] = "Node"

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return check_dns1123_label(v, "node pool name")

    @model_validator(mode="after")
    def _bounds(self) -> "NodePool":
        if self.min_node_count is not None and self.max_node_count is not None and self.min_node_count > self.max_node_count:
            raise ValueError(f"pool {self.name!r}: minNodeCount {self.min_node_count} is above maxNodeCount {self.max_node_count}")
        return self

    @property
    def published_nodes(self) -> int:
        """Nodes the scheduler may plan onto: the autoscaling ceiling when set, else the fixed count."""
        return self.max_node_count if self.max_node_count is not None else self.node_count


class Taint(Model):
    key: str
    value: str = ""
    effect: Literal["NoSchedule", "NoExecute"]


class InferenceClusterSpec(Model):
    cluster: ClusterSource
    node_pools: list[NodePool] = Field(default_factory=list, max_length=MAX_POOLS)
    taints: list[Taint] = Field(default_factory=list, max_length=64)

    @field_validator("node_pools")
    @classmethod
    def _unique_pools(cls, v: list[NodePool]) -> list[NodePool]:
        names = [p.name for p in v]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"node pool names must be unique; repeated: {', '.join(sorted(dup))}")
        return v


class GpuPoolStatus(OpenModel):
    name: str
    nodes: int = 0
    devices: int = 0


class ClusterGatewayStatus(OpenModel):
    address: str | None = None


class InferenceClusterStatus(Status):
    gpu_pools: list[GpuPoolStatus] = Field(default_factory=list)
    gateway: ClusterGatewayStatus = Field(default_factory=ClusterGatewayStatus)


class InferenceCluster(Resource):
    KIND: ClassVar[str] = "InferenceCluster"
    PLURAL: ClassVar[str] = "inferenceclusters"
    SHORT_NAMES: ClassVar[tuple[str, ...]] = ("icl",)
    NAMESPACED: ClassVar[bool] = False

    kind: Literal["InferenceCluster"] = "InferenceCluster"
    spec: InferenceClusterSpec
    status: InferenceClusterStatus = Field(default_factory=InferenceClusterStatus)


class Listener(OpenModel):
    name: str
    port: int = Field(ge=1, le=65535)
    protocol: Literal["HTTP", "HTTPS"] = "HTTP"


class GatewayTLS(Model):
    secret_ref: SecretKeyRef | None = None
    cert_secret_ref: SecretKeyRef | None = None
    key_secret_ref: SecretKeyRef | None = None


class GatewayPolicy(OpenModel):
    require_api_key: bool = False
    max_request_body_bytes: int | None = Field(default=None, ge=1)


class InferenceGatewaySpec(Model):
    address: str | None = None
    listeners: list[Listener] = Field(default_factory=list, max_length=16)
    tls: GatewayTLS | None = None
    policy: GatewayPolicy = Field(default_factory=GatewayPolicy)


class InferenceGatewayStatus(Status):
    address: str | None = None


class InferenceGateway(Resource):
    KIND: ClassVar[str] = "InferenceGateway"
    PLURAL: ClassVar[str] = "inferencegateways"
    SHORT_NAMES: ClassVar[tuple[str, ...]] = ("ig",)
    NAMESPACED: ClassVar[bool] = False

    kind: Literal["InferenceGateway"] = "InferenceGateway"
    spec: InferenceGatewaySpec = Field(default_factory=InferenceGatewaySpec)
    status: InferenceGatewayStatus = Field(default_factory=InferenceGatewayStatus)
