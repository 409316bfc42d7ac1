"""ModelDeployment (what the ML team declares) and ModelReplica (what laneway composes).

The shapes follow Modelplane v1alpha1: a deployment's template holds engines; an engine is one
Standalone member or a Leader with Workers; each member runs exactly one container named
`engine` and asks for devices with DRA-style requests whose selectors are CEL expressions.
A replica is the template pinned to one cluster, with each member pinned to one node pool.

Rules kept from Modelplane (so a manifest valid there is valid here, and one refused there is
refused here with a clearer message): engine topology, `worker` only on a Worker, a
nodeSelector on at least one member, PrefillDecode pairing, one container named `engine`,
bounded CEL and list sizes, toleration operators, no reserved label prefix. Where laneway goes
further: `replicas` may be 0 and has no cap of 10, and autoscaling is built in.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar, Literal

from pydantic import Field, StrictBool, StrictFloat, StrictInt, field_validator, model_validator

from laneway.api.errors import RuleViolation
from laneway.api.kinds.common import check_date, check_duration, check_user_labels, date_text
from laneway.api.meta import Model, OpenModel, Resource, Status, check_dns1123_label, check_label_key
from laneway.api.selectors import LabelSelector

MAX_CEL_BYTES = 10 * 1024
MAX_SELECTORS = 32
MAX_DEVICE_REQUESTS = 16
MAX_ENGINES = 8
MAX_MEMBERS = 8
MAX_COPIES = 1024
MAX_WORKER_NODES = 1024
MAX_DEVICE_COUNT = 1024
MAX_TOLERATIONS = 64
MAX_CONTAINER_ARGS = 256
MAX_ENV = 128
MAX_REPLICAS = 100000
MAX_ANNOTATIONS = 64


class CelSelector(Model):
    cel: str

    @field_validator("cel")
    @classmethod
    def _bounded(cls, v: str) -> str:
        size = len(v.encode())
        if size > MAX_CEL_BYTES:
            raise ValueError(f"CEL selector is {size} bytes; the limit is {MAX_CEL_BYTES} (10 KiB)")
        if not v.strip():
            raise ValueError("CEL selector is empty; write an expression such as 'device.driver == \"gpu.nvidia.com\"'")
        return v


class DeviceRequest(Model):
    """Devices each pod of a member needs from its node; every selector must hold for a device."""

    name: str = Field(min_length=1, max_length=63)
    count: StrictInt = Field(default=1, ge=1, le=MAX_DEVICE_COUNT)
    selectors: list[CelSelector] = Field(default_factory=list, max_length=MAX_SELECTORS)


class MemberNodeSelector(Model):
    devices: list[DeviceRequest] = Field(default_factory=list, max_length=MAX_DEVICE_REQUESTS)

    @model_validator(mode="after")
    def _not_empty(self) -> MemberNodeSelector:
        if not self.devices:
            raise RuleViolation(
                "a nodeSelector needs at least one device request (e.g. {name: gpu, count: 1, selectors: [{cel: ...}]}); "
                "omit nodeSelector entirely for a member that claims no devices",
                at="devices",
            )
        return self

    @field_validator("devices")
    @classmethod
    def _unique(cls, v: list[DeviceRequest]) -> list[DeviceRequest]:
        names = [d.name for d in v]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"device request names must be unique within a member; repeated: {', '.join(sorted(dup))}")
        return v


class EnvVar(OpenModel):
    name: str
    value: str | None = None


class ContainerPort(OpenModel):
    container_port: StrictInt = Field(ge=1, le=65535)
    name: str | None = None
    protocol: str | None = None


class Container(OpenModel):
    """The engine container. Kubernetes fields beyond these (resources, probes) are kept as written."""

    name: str
    image: str = Field(min_length=1)
    command: list[str] = Field(default_factory=list, max_length=MAX_CONTAINER_ARGS)
    args: list[str] = Field(default_factory=list, max_length=MAX_CONTAINER_ARGS)
    env: list[EnvVar] = Field(default_factory=list, max_length=MAX_ENV)
    port: StrictInt | None = Field(default=None, ge=1, le=65535)
    ports: list[ContainerPort] = Field(default_factory=list)


class PodSpec(OpenModel):
    containers: list[Container]

    @field_validator("containers")
    @classmethod
    def _one_engine(cls, v: list[Container]) -> list[Container]:
        if len(v) != 1 or v[0].name != "engine":
            names = ", ".join(repr(c.name) for c in v) or "none"
            raise ValueError(f"a member runs exactly one container named 'engine' (found {names})")
        return v


class PodMetadata(Model):
    """Labels and annotations for a member's pods; the reserved prefix is laneway's own."""

    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict, max_length=MAX_ANNOTATIONS)

    @field_validator("labels")
    @classmethod
    def _labels(cls, v: dict[str, str]) -> dict[str, str]:
        return check_user_labels(v, what="member template.metadata.labels")

    @field_validator("annotations")
    @classmethod
    def _annotations(cls, v: dict[str, str]) -> dict[str, str]:
        for key in v:
            check_label_key(key)
        return v


class PodTemplate(Model):
    metadata: PodMetadata | None = None
    spec: PodSpec


class WorkerSpec(Model):
    nodes: StrictInt = Field(default=1, ge=1, le=MAX_WORKER_NODES)


class Member(Model):
    role: Literal["Standalone", "Leader", "Worker"] = "Standalone"
    worker: WorkerSpec | None = None
    node_selector: MemberNodeSelector | None = None
    template: PodTemplate

    @model_validator(mode="after")
    def _worker_only(self) -> Member:
        if self.worker is not None and self.role != "Worker":
            raise RuleViolation(
                f"'worker' is only valid on a Worker member; this member's role is {self.role} "
                "(a Standalone or Leader is always one pod): remove 'worker' or set role: Worker",
                at="worker",
            )
        return self

    @property
    def pods(self) -> int:
        """Pods (nodes, under node accounting) one copy of this member occupies."""
        return (self.worker.nodes if self.worker else 1) if self.role == "Worker" else 1

    @property
    def container(self) -> Container:
        return self.template.spec.containers[0]


class Engine(Model):
    name: str
    copies: StrictInt = Field(default=1, ge=1, le=MAX_COPIES)
    phase: Literal["Prefill", "Decode"] | None = None
    members: list[Member] = Field(min_length=1, max_length=MAX_MEMBERS)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return check_dns1123_label(v, "engine name")

    @model_validator(mode="after")
    def _topology(self) -> Engine:
        roles = [m.role for m in self.members]
        if roles == ["Standalone"]:
            pass
        elif "Standalone" in roles:
            raise RuleViolation(
                f"engine {self.name!r}: a Standalone member must be the engine's only member "
                f"(found {', '.join(roles)}); use one Leader plus Workers for multi-node serving",
                at=f"members[{roles.index('Standalone')}].role",
            )
        elif roles.count("Leader") != 1 or roles.count("Worker") < 1:
            raise RuleViolation(
                f"engine {self.name!r}: members are one Standalone, or exactly one Leader plus at least one Worker "
                f"(found {', '.join(roles)})",
                at="members",
            )
        if not self._names_hardware():
            raise RuleViolation(
                f"engine {self.name!r}: at least one member needs 'nodeSelector.devices' so the scheduler knows "
                "what hardware it runs on",
                at="members",
            )
        return self

    def _names_hardware(self) -> bool:
        return any(m.node_selector and m.node_selector.devices for m in self.members)


class Toleration(Model):
    key: str | None = None
    operator: Literal["Equal", "Exists"] = "Equal"
    value: str | None = None
    effect: Literal["NoSchedule", "NoExecute"] | None = None

    @model_validator(mode="after")
    def _operator_rules(self) -> Toleration:
        if self.operator == "Equal" and not self.key:
            raise RuleViolation(
                "a toleration with operator Equal (the default) needs a 'key'; "
                "use operator: Exists without a key to tolerate every taint",
                at="key",
            )
        if self.operator == "Exists" and self.value is not None:
            raise RuleViolation(
                "a toleration with operator Exists takes no 'value'; remove it or use operator Equal", at="value"
            )
        return self

    def tolerates(self, key: str, value: str, effect: str) -> bool:
        if self.effect is not None and self.effect != effect:
            return False
        if self.operator == "Exists":
            return self.key is None or self.key == key
        return self.key == key and (self.value or "") == value


class Serving(Model):
    mode: Literal["Unified", "PrefillDecode"] = "Unified"


class ModelCacheRef(Model):
    """A ModelCache of the deployment's namespace. Its name becomes part of the path a Local
    engine's cache is mounted from, so it is a DNS label like every object name, never `..`."""

    name: str

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return check_dns1123_label(v, "modelCacheRef.name")


class ReplicaTemplateSpec(Model):
    cluster_selector: LabelSelector = Field(default_factory=LabelSelector)
    model_cache_ref: ModelCacheRef | None = None
    serving: Serving = Field(default_factory=Serving)
    tolerations: list[Toleration] = Field(default_factory=list, max_length=MAX_TOLERATIONS)
    engines: list[Engine] = Field(min_length=1, max_length=MAX_ENGINES)

    @model_validator(mode="after")
    def _engines(self) -> ReplicaTemplateSpec:
        names = [e.name for e in self.engines]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise RuleViolation(
                f"engine names must be unique; repeated: {', '.join(dup)}", at=f"engines[{names.index(dup[0], names.index(dup[0]) + 1)}].name"
            )
        phases = [e.phase for e in self.engines]
        if self.serving.mode == "PrefillDecode":
            if len(self.engines) != 2 or sorted(p or "" for p in phases) != ["Decode", "Prefill"]:
                found = ", ".join(f"{e.name}: {e.phase or 'no phase'}" for e in self.engines)
                raise RuleViolation(
                    "serving.mode PrefillDecode needs exactly two engines, one with phase: Prefill and one with "
                    f"phase: Decode (found {found})",
                    at="engines",
                )
        else:
            for i, phase in enumerate(phases):
                if phase:
                    raise RuleViolation(
                        f"'phase' is only valid under serving.mode PrefillDecode (mode is {self.serving.mode}); "
                        "remove it or set serving.mode: PrefillDecode",
                        at=f"engines[{i}].phase",
                    )
        return self


class TemplateMetadata(Model):
    """Labels laneway stamps onto the replicas and endpoints it composes (a service selects by them)."""

    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict, max_length=MAX_ANNOTATIONS)

    @field_validator("labels")
    @classmethod
    def _no_system_prefix(cls, v: dict[str, str]) -> dict[str, str]:
        return check_user_labels(v, what="template.metadata.labels")


class ReplicaTemplate(Model):
    metadata: TemplateMetadata = Field(default_factory=TemplateMetadata)
    spec: ReplicaTemplateSpec


class Autoscaling(Model):
    min_replicas: StrictInt = Field(default=0, ge=0, le=MAX_REPLICAS)
    max_replicas: StrictInt = Field(ge=0, le=MAX_REPLICAS)
    target_in_flight: StrictFloat = Field(default=8, gt=0)
    scale_to_zero_after: str | None = None
    scale_up_stabilization: str | None = None
    scale_down_stabilization: str | None = None

    @field_validator("scale_to_zero_after", "scale_up_stabilization", "scale_down_stabilization")
    @classmethod
    def _durations(cls, v: str | None) -> str | None:
        return check_duration(v)

    @model_validator(mode="after")
    def _bounds(self) -> Autoscaling:
        if self.min_replicas > self.max_replicas:
            raise RuleViolation(
                f"minReplicas {self.min_replicas} is above maxReplicas {self.max_replicas}; raise maxReplicas or lower minReplicas",
                at="minReplicas",
            )
        return self


_SURGE_TEXT = re.compile(r"^(100|[1-9]?[0-9])%$")


def _count_or_percent(value: int | str | None, *, at: str) -> int | str | None:
    if value is None or isinstance(value, int):
        if isinstance(value, int) and not 0 <= value <= MAX_REPLICAS:
            raise RuleViolation(f"{at} {value} must be between 0 and {MAX_REPLICAS}, or a percentage like '25%'", at=at)
        return value
    if not _SURGE_TEXT.match(value):
        raise RuleViolation(f"{at} {value!r} must be a whole number of replicas or a percentage from '0%' to '100%'", at=at)
    return value


class RollingUpdate(Model):
    """How many replicas a template change may add and take down at once (Kubernetes'
    `RollingUpdate` fields: a count, or a percentage of `replicas`)."""

    max_surge: StrictInt | str | None = None
    """Extra replicas started with the new template while old ones remain (default 1; rounded up)."""
    max_unavailable: StrictInt | str | None = None
    """Replicas that may be below Ready during the update (default 0; rounded down). With no
    capacity for a surge the update goes one replica at a time."""

    @field_validator("max_surge")
    @classmethod
    def _surge(cls, v: int | str | None) -> int | str | None:
        return _count_or_percent(v, at="strategy.rollingUpdate.maxSurge")

    @field_validator("max_unavailable")
    @classmethod
    def _unavailable(cls, v: int | str | None) -> int | str | None:
        return _count_or_percent(v, at="strategy.rollingUpdate.maxUnavailable")

    @model_validator(mode="after")
    def _some_progress(self) -> RollingUpdate:
        if self.max_surge in (0, "0%") and self.max_unavailable in (0, "0%"):
            raise RuleViolation(
                "maxSurge and maxUnavailable are both 0, so no replica could ever be updated; set maxSurge to 1 (or maxUnavailable to 1)",
                at="strategy.rollingUpdate",
            )
        return self


class DeploymentStrategy(Model):
    """How replicas take a new template, and how long a leaving replica drains."""

    type: Literal["RollingUpdate"] = "RollingUpdate"
    rolling_update: RollingUpdate = Field(default_factory=RollingUpdate)
    drain_timeout: str | None = None
    """How long a replica that leaves (scale-down, update, deletion) keeps its engines after it
    left the routing table, for requests in flight to finish (default 30s)."""

    @field_validator("drain_timeout")
    @classmethod
    def _duration(cls, v: str | None) -> str | None:
        return check_duration(v)


_TEMPLATE_SPEC_KEYS = ("engines", "clusterSelector", "modelCacheRef", "serving", "tolerations")


class ModelDeploymentSpec(Model):
    replicas: StrictInt = Field(default=1, ge=0, le=MAX_REPLICAS)
    template: ReplicaTemplate
    autoscaling: Autoscaling | None = None
    revision_history_limit: StrictInt = Field(default=10, ge=0, le=1000)
    retire_after: str | None = None
    strategy: DeploymentStrategy | None = None
    """Rolling update settings (see `control.rolling`); None: the defaults."""
    paused: StrictBool | None = None
    """True holds a rollout where it stands: no further replica takes the new template."""

    @model_validator(mode="before")
    @classmethod
    def _flat_form(cls, data: Any) -> Any:
        """Earlier Modelplane v1alpha1 manifests put `engines` (and its siblings) directly under
        spec; read them as the template they became, so those manifests still apply."""
        if isinstance(data, dict) and "template" not in data and "engines" in data:
            data = dict(data)
            inner = {k: data.pop(k) for k in _TEMPLATE_SPEC_KEYS if k in data}
            data["template"] = {"spec": inner}
        return data

    @field_validator("retire_after", mode="before")
    @classmethod
    def _retire_text(cls, v: object) -> object:
        return date_text(v)

    @field_validator("retire_after")
    @classmethod
    def _retire_date(cls, v: str | None) -> str | None:
        return check_date(v, what="retireAfter")


class ReplicaCounts(OpenModel):
    total: StrictInt = 0
    ready: StrictInt = 0


class PlacementChange(OpenModel):
    """When replicas were last created or deleted, and which."""

    time: str
    message: str = ""


class AutoscalingRecord(OpenModel):
    """One replica recommendation the autoscaler remembers (`at`: seconds since the epoch)."""

    at: StrictFloat
    replicas: StrictInt


class AutoscalingStatus(OpenModel):
    """What the autoscaler decided last and what it remembers across a restart
    (`laneway.autoscale.memory` explains `history` and `lastActive`)."""

    desired_replicas: StrictInt | None = None
    wanted_by_demand: StrictInt | None = None
    load: StrictFloat | None = None
    reason: str | None = None
    recommendation: StrictInt | None = None
    """The replica count demand asks for now, within min/max (before stabilization)."""
    message: str | None = None
    history: list[AutoscalingRecord] | None = None
    last_active: StrictFloat | None = None


class RolloutStatus(OpenModel):
    """Where the rolling update of the template stands (see `control.rolling`)."""

    state: str
    updated: StrictInt = 0
    ready: StrictInt = 0
    total: StrictInt = 0
    message: str = ""


class ModelDeploymentStatus(Status):
    replicas: ReplicaCounts = Field(default_factory=ReplicaCounts)
    rollout: RolloutStatus | None = None
    last_placement_change: PlacementChange | None = None
    autoscaling: AutoscalingStatus | None = None


class ModelDeployment(Resource):
    KIND: ClassVar[str] = "ModelDeployment"
    PLURAL: ClassVar[str] = "modeldeployments"
    SHORT_NAMES: ClassVar[tuple[str, ...]] = ("md",)

    kind: Literal["ModelDeployment"] = "ModelDeployment"
    spec: ModelDeploymentSpec
    status: ModelDeploymentStatus = Field(default_factory=ModelDeploymentStatus)


class ClaimedDevice(Model):
    """A device request the replica's member claims on its pinned pool (DRA devices only)."""

    name: str
    device_class_name: str
    count: StrictInt = Field(default=1, ge=1)
    selectors: list[CelSelector] = Field(default_factory=list)


class ReplicaMember(Member):
    node_pool_name: str | None = None
    device_requests: list[ClaimedDevice] = Field(default_factory=list)


class ReplicaEngine(Engine):
    """A replica's engine. Modelplane composes members that carry only what they were pinned
    to (`nodePoolName`, `deviceRequests`) and no `nodeSelector`; either names the hardware."""

    members: list[ReplicaMember] = Field(min_length=1, max_length=MAX_MEMBERS)  # type: ignore[assignment]

    def _names_hardware(self) -> bool:
        return super()._names_hardware() or any(m.device_requests or m.node_pool_name for m in self.members)


class ModelReplicaSpec(Model):
    cluster_name: str
    cluster_selector: LabelSelector = Field(default_factory=LabelSelector)
    model_cache_ref: ModelCacheRef | None = None
    serving: Serving = Field(default_factory=Serving)
    tolerations: list[Toleration] = Field(default_factory=list)
    engines: list[ReplicaEngine] = Field(min_length=1, max_length=MAX_ENGINES)


class ModelReplicaStatus(Status):
    phase: str | None = None
    endpoint: str | None = None
    # How many times the replica's engine processes were restarted after exiting (None: never).
    restarts: StrictInt | None = None
    applied_generation: StrictInt | None = None
    """The generation the driver last applied: a newer one is drained before it is applied."""
    draining_since: StrictFloat | None = None
    """When the replica left the routing table to drain (seconds since the epoch), until it stops
    or takes its new spec."""


class ModelReplica(Resource):
    KIND: ClassVar[str] = "ModelReplica"
    PLURAL: ClassVar[str] = "modelreplicas"
    SHORT_NAMES: ClassVar[tuple[str, ...]] = ("mr",)

    kind: Literal["ModelReplica"] = "ModelReplica"
    spec: ModelReplicaSpec
    status: ModelReplicaStatus = Field(default_factory=ModelReplicaStatus)
