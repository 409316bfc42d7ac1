"""InferenceTicket: the ten questions answered before any GPU is bought or endpoint exposed.

The spec has exactly one key per row, in the ticket's order (`TICKET_ROWS`). A row answered
with `none: <why>` is deliberately empty and counts as filled; a missing row does not.

Validation here checks each row's *shape* (types, formats, a `none` row carrying nothing
else), never its completeness: a half-filled ticket still loads, so `laneway ticket check` can
report every unfilled row at once instead of the loader stopping at the first. Rows reuse the
shapes of the resources they compose into (device requests, selectors, cache sources), so a
ticket's answers mean exactly what they will mean once composed.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, StrictBool, StrictFloat, StrictInt, field_validator, model_validator

from laneway.api.errors import RuleViolation
from laneway.api.kinds.cache import HTTPSource, HuggingFaceSource, LocalPathSource, S3Source
from laneway.api.kinds.common import SecretKeyRef, check_date, check_duration, check_http_url, date_text
from laneway.api.kinds.deployment import MAX_CONTAINER_ARGS, MAX_DEVICE_REQUESTS, DeviceRequest, EnvVar
from laneway.api.meta import Model, OpenModel, Resource, Status, check_labels
from laneway.api.selectors import LabelSelectorRequirement

TICKET_ROWS = (
    "model",
    "engine",
    "hardware",
    "fleetBoundary",
    "sovereignty",
    "scaling",
    "endpoint",
    "overflow",
    "cache",
    "lifecycle",
)


class Row(Model):
    """Every row may instead say `none: <why>`; such a row carries nothing else."""

    none: str | None = Field(default=None, max_length=1024)

    @model_validator(mode="after")
    def _none_alone(self) -> Row:
        if self.none is None:
            return self
        if not self.none.strip():
            raise RuleViolation("'none' needs the reason the row is deliberately empty, e.g. none: \"public weights\"", at="none")
        filled = sorted(
            (type(self).model_fields[f].alias or f)
            for f in self.model_fields_set
            if f != "none" and getattr(self, f) not in (None, [], {}, "")
        )
        if filled:
            raise RuleViolation(
                f"a row answered with 'none' takes no other fields (found {', '.join(filled)}); remove 'none' or the fields",
                at="none",
            )
        return self

    def is_none(self) -> bool:
        """Deliberately empty: answered with `none: <why>`."""
        return self.none is not None


class ModelRow(Row):
    """Row 1: which model, doing what work for whom (the job is required free text when filled)."""

    name: str | None = Field(default=None, max_length=253)
    job: str | None = Field(default=None, max_length=2048)


class EngineRow(Row):
    """Row 2: the serving engine's container."""

    image: str | None = Field(default=None, max_length=1024)
    command: list[str] = Field(default_factory=list, max_length=MAX_CONTAINER_ARGS)
    args: list[str] = Field(default_factory=list, max_length=MAX_CONTAINER_ARGS)
    env: list[EnvVar] = Field(default_factory=list, max_length=128)
    port: StrictInt | None = Field(default=None, ge=1, le=65535)


class MemoryAnswer(Model):
    """The hardware row's memory need: what the model is, from its own metadata, and how much
    context it holds at once. `laneway ticket check --model-file` fills the model's part from a
    GGUF header or a HuggingFace `config.json`; a team may also paste `config` or declare the
    numbers. Checked by `laneway.ticket.memory`, never fetched from anywhere."""

    config: dict[str, Any] | None = Field(default=None, max_length=256)
    """A HuggingFace `config.json`, inline: its layer, head and size fields give the parameter
    count and KV shape; `torch_dtype` (or `dtype`) the bytes per weight."""
    weight_size: str | None = Field(default=None, max_length=32)
    """The weights' size as a quantity (`96Mi`, `61G`): exact for a GGUF (its tensors' bytes)."""
    parameters: StrictInt | None = Field(default=None, ge=1, le=10**14)
    dtype: str | None = Field(default=None, max_length=32)
    """The weights' element type (`bfloat16`, `float16`, `float32`, `fp8`, `int8`, `int4`), with `parameters`."""
    layers: StrictInt | None = Field(default=None, ge=1, le=100000)
    kv_heads: StrictInt | None = Field(default=None, ge=1, le=100000)
    head_dim: StrictInt | None = Field(default=None, ge=1, le=100000)
    max_context_length: StrictInt | None = Field(default=None, ge=1, le=10**9)
    """The model's own longest context (GGUF `context_length`, `max_position_embeddings`)."""
    context_length: StrictInt | None = Field(default=None, ge=1, le=10**9)
    """Tokens one sequence may hold (default: the engine's `--max-model-len`, else the model's own)."""
    concurrency: StrictInt | None = Field(default=None, ge=1, le=100000)
    """Sequences a replica holds at full context at once (default 1: what an engine needs to start)."""
    kv_cache_dtype: Literal["float32", "float16", "bfloat16", "fp8", "int8"] = "float16"
    """The KV cache's element type (vLLM's `--kv-cache-dtype`): fp8 and int8 take one byte."""

    @field_validator("weight_size")
    @classmethod
    def _size(cls, v: str | None) -> str | None:
        if v is None:
            return v
        from laneway.placement.dra.quantity import QuantityError, parse_quantity

        try:
            size = parse_quantity(v)
        except QuantityError as e:
            raise ValueError(f"weightSize: {e}") from None
        if not 0 < size.value <= 10**18:
            raise ValueError(f"weightSize {v!r} is not a size a model can have; write bytes such as '61G' or '96Mi'")
        return v

    @model_validator(mode="after")
    def _one_source(self) -> MemoryAnswer:
        declared = [n for n, v in (("weightSize", self.weight_size), ("parameters", self.parameters)) if v is not None]
        if self.config is not None and declared:
            raise RuleViolation(
                f"memory takes the model from 'config' or from declared numbers ({', '.join(declared)}), not both", at="config"
            )
        if self.parameters is not None and self.dtype is None:
            raise RuleViolation("'parameters' needs 'dtype' (e.g. bfloat16) to give bytes", at="dtype")
        return self


class HardwareRow(Row):
    """Row 3: device requests in CEL, or a named InferenceClass resolved to its devices, and
    optionally the model's memory need (checked against the devices' memory)."""

    devices: list[DeviceRequest] = Field(default_factory=list, max_length=MAX_DEVICE_REQUESTS)
    class_name: str | None = Field(default=None, max_length=253)
    memory: MemoryAnswer | None = None

    @field_validator("devices")
    @classmethod
    def _unique(cls, v: list[DeviceRequest]) -> list[DeviceRequest]:
        """The requests become one engine member's, whose names must differ (a repeat was a 500 in
        the ticket check, where the member is built)."""
        names = [d.name for d in v]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"device request names must be unique; repeated: {', '.join(dup)}")
        return v

    @model_validator(mode="after")
    def _one_form(self) -> HardwareRow:
        if self.devices and self.class_name:
            raise RuleViolation(
                "hardware is either 'devices' (requests in CEL) or 'className' (a published class), not both", at="className"
            )
        return self


class SelectorRow(Row):
    """A label selector that may also be answered with `none`."""

    match_labels: dict[str, str] = Field(default_factory=dict, max_length=64)
    match_expressions: list[LabelSelectorRequirement] = Field(default_factory=list, max_length=64)

    @field_validator("match_labels")
    @classmethod
    def _labels(cls, v: dict[str, str]) -> dict[str, str]:
        return check_labels(v)


class FleetBoundaryRow(SelectorRow):
    """Row 4: which clusters (cloud, neocloud, on-prem; regions) as InferenceCluster labels."""


class SovereigntyRow(SelectorRow):
    """Row 5: where data and model may run; binds placement and the service's data boundary."""


class LatencyBudget(Model):
    p95: str | None = None
    p95_time_to_first_token: str | None = None

    @field_validator("p95", "p95_time_to_first_token")
    @classmethod
    def _durations(cls, v: str | None) -> str | None:
        return check_duration(v)


class ScalingRow(Row):
    """Row 6: replicas or autoscaling bounds, the peak load, the latency budget."""

    replicas: StrictInt | None = Field(default=None, ge=0, le=100000)
    min_replicas: StrictInt | None = Field(default=None, ge=0, le=100000)
    max_replicas: StrictInt | None = Field(default=None, ge=0, le=100000)
    peak_concurrency: StrictInt | None = Field(default=None, ge=1, le=10000000)
    latency_budget: LatencyBudget | None = None

    @model_validator(mode="after")
    def _forms(self) -> ScalingRow:
        if self.replicas is not None and (self.min_replicas is not None or self.max_replicas is not None):
            raise RuleViolation(
                "scaling is either fixed 'replicas' or autoscaling 'minReplicas'/'maxReplicas', not both", at="replicas"
            )
        if self.min_replicas is not None and self.max_replicas is not None and self.min_replicas > self.max_replicas:
            raise RuleViolation(f"minReplicas {self.min_replicas} is above maxReplicas {self.max_replicas}", at="minReplicas")
        return self


class TicketOwner(Model):
    team: str | None = Field(default=None, max_length=253)
    contact: str | None = Field(default=None, max_length=253)


class EndpointRow(Row):
    """Row 7: the service name, the model names it answers to, the owning team and who is paged."""

    service: str | None = Field(default=None, max_length=63)
    model_names: list[str] = Field(default_factory=list, max_length=64)
    owner: TicketOwner | None = None


class TicketOverflowAuth(Model):
    secret_ref: SecretKeyRef


class OverflowRow(Row):
    """Row 8: an external endpoint taking Overflow or BreakGlass traffic, and its jurisdiction labels."""

    tier: Literal["Overflow", "BreakGlass"] | None = None
    provider: str | None = Field(default=None, max_length=63)
    """A provider the platform vouches for (InferenceGateway `spec.tickets.providers`): its URL,
    labels and key come from the platform, not from this row."""
    url: str | None = None
    model: str | None = Field(default=None, max_length=253)
    auth: TicketOverflowAuth | None = None
    labels: dict[str, str] = Field(default_factory=dict, max_length=32)

    @field_validator("url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        return None if v is None else check_http_url(v)

    @field_validator("labels")
    @classmethod
    def _labels(cls, v: dict[str, str]) -> dict[str, str]:
        return check_labels(v)

    @model_validator(mode="after")
    def _provider_alone(self) -> OverflowRow:
        if self.provider and (self.url or self.labels or self.auth):
            raise RuleViolation(
                "an overflow row naming a 'provider' takes its url, labels and key from the platform; remove url, labels and auth",
                at="provider",
            )
        return self


class CacheRow(Row):
    """Row 9: where the weights come from, as a ModelCache source."""

    source: Literal["HuggingFace", "S3", "HTTP", "Local"] | None = None
    hugging_face: HuggingFaceSource | None = Field(default=None, alias="huggingFace")
    s3: S3Source | None = None
    http: HTTPSource | None = None
    local: LocalPathSource | None = None
    egress_price_per_gib: StrictFloat | None = Field(default=None, ge=0, alias="egressPricePerGiB")
    """What moving one GiB out of the source costs (its provider's egress price), to show what a cold pull costs."""


class Rollback(Model):
    on_budget_breach: StrictBool = False
    to_revision: StrictInt | None = Field(default=None, ge=1)
    window: str | None = None
    max_error_rate: StrictFloat | None = Field(default=None, ge=0, le=1)

    @field_validator("window")
    @classmethod
    def _window(cls, v: str | None) -> str | None:
        return check_duration(v)


class TicketCanary(Model):
    """A canary the ticket composes (`<ticket>-canary`): the engine row with another image or
    arguments, taking `weight` percent of the service's Primary traffic. The only canary a
    namespace under the platform's ticket switch can have."""

    image: str | None = Field(default=None, max_length=1024)
    args: list[str] | None = Field(default=None, max_length=MAX_CONTAINER_ARGS)
    weight: StrictInt = Field(default=10, ge=1, le=99)
    replicas: StrictInt = Field(default=1, ge=1, le=100)


class LifecycleRow(Row):
    """Row 10: revisions kept, the rollback rule, a canary, and the retirement date."""

    revision_history_limit: StrictInt | None = Field(default=None, ge=0, le=1000)
    rollback: Rollback | None = None
    canary: TicketCanary | None = None
    retire_after: str | None = None
    warn_before: str | None = None
    grace_period: str | None = None

    @field_validator("warn_before", "grace_period")
    @classmethod
    def _periods(cls, v: str | None) -> str | None:
        return check_duration(v)

    @field_validator("retire_after", mode="before")
    @classmethod
    def _retire_text(cls, v: object) -> object:
        return date_text(v)

    @field_validator("retire_after")
    @classmethod
    def _retire_date(cls, v: str | None) -> str | None:
        return check_date(v, what="retireAfter")


class InferenceTicketSpec(Model):
    model: ModelRow | None = None
    engine: EngineRow | None = None
    hardware: HardwareRow | None = None
    fleet_boundary: FleetBoundaryRow | None = None
    sovereignty: SovereigntyRow | None = None
    scaling: ScalingRow | None = None
    endpoint: EndpointRow | None = None
    overflow: OverflowRow | None = None
    cache: CacheRow | None = None
    lifecycle: LifecycleRow | None = None

    def row(self, key: str) -> Row | None:
        """A row by its wire key (`fleetBoundary`), as `TICKET_ROWS` names it."""
        for name, field in type(self).model_fields.items():
            if (field.alias or name) == key:
                value = getattr(self, name)
                return value if isinstance(value, Row) else None
        raise KeyError(f"{key!r} is not a ticket row; rows are {', '.join(TICKET_ROWS)}")

    def missing_rows(self) -> list[str]:
        """Rows not answered at all (a `none: <why>` row counts as answered)."""
        return [key for key in TICKET_ROWS if self.row(key) is None]


class CanaryStatus(OpenModel):
    """What the ticket controller remembers of a canary between reconciles
    (`laneway.ticket.canary.CanaryWatch` on the wire)."""

    deployment: str
    generation: StrictInt
    since: StrictFloat
    base_requests: StrictInt = 0
    base_errors: StrictInt = 0
    rolled_back: StrictBool = False
    breach_since: StrictFloat | None = None
    reason: str | None = None


class RollbackPin(OpenModel):
    """The template `lifecycle.rollback.toRevision` restored, pinned on first use (restoring a
    revision gives it a new number, and the old one leaves the history)."""

    to_revision: StrictInt
    template: dict[str, Any]


class InferenceTicketStatus(Status):
    """`approved*` and `override*` are stamped by the API server from the approving token and
    the ticket as it stood (`laneway.server.ticket_approval`); no client writes them."""

    approved: StrictBool | None = None
    approved_by: str | None = None
    approved_role: str | None = None
    approved_at: str | None = None
    approved_generation: StrictInt | None = None
    approved_hash: str | None = None
    approved_rows: dict[str, Any] | None = None
    approval_override: str | None = Field(default=None, max_length=1024)
    overridden_rows: list[str] | None = None
    composed: list[str] | None = None
    canary: CanaryStatus | None = None
    rollback: RollbackPin | None = None


class InferenceTicket(Resource):
    KIND: ClassVar[str] = "InferenceTicket"
    PLURAL: ClassVar[str] = "inferencetickets"
    SHORT_NAMES: ClassVar[tuple[str, ...]] = ("tk",)

    kind: Literal["InferenceTicket"] = "InferenceTicket"
    spec: InferenceTicketSpec
    status: InferenceTicketStatus = Field(default_factory=InferenceTicketStatus)
