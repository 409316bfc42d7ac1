"""ModelEndpoint (one reachable backend) and ModelService (one URL over endpoints by label).

A service entry's weight is its share of traffic, spread over the ready endpoints it selects.
Tiers and the data boundary are laneway's additions: Overflow and BreakGlass entries take
traffic only under the conditions the gateway documents, and no endpoint outside the boundary
is ever chosen.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, field_validator

from laneway.api.kinds.common import SecretKeyRef, check_duration
from laneway.api.meta import Model, OpenModel, Resource, Status
from laneway.api.selectors import LabelSelector

Tier = Literal["Primary", "Overflow", "BreakGlass"]


class EndpointAuth(Model):
    secret_ref: SecretKeyRef


class ModelEndpointSpec(Model):
    url: str
    rewrite_path: str | None = None
    auth: EndpointAuth | None = None
    model: str | None = None
    max_in_flight: int | None = Field(default=None, ge=1)

    @field_validator("url")
    @classmethod
    def _http_url(cls, v: str) -> str:
        if not (v.startswith("http://") or v.startswith("https://")):
            raise ValueError(f"url {v!r} must start with http:// or https://")
        return v


class ModelEndpointStatus(Status):
    ready: bool | None = None


class ModelEndpoint(Resource):
    KIND: ClassVar[str] = "ModelEndpoint"
    PLURAL: ClassVar[str] = "modelendpoints"
    SHORT_NAMES: ClassVar[tuple[str, ...]] = ("me",)

    kind: Literal["ModelEndpoint"] = "ModelEndpoint"
    spec: ModelEndpointSpec
    status: ModelEndpointStatus = Field(default_factory=ModelEndpointStatus)


class ServiceEntry(Model):
    weight: int = Field(default=1, ge=0, le=1000000)
    selector: LabelSelector
    tier: Tier = "Primary"


class Owner(Model):
    team: str
    contact: str | None = None


class ServiceSLO(Model):
    p95_latency: str | None = None
    p95_time_to_first_token: str | None = None

    @field_validator("p95_latency", "p95_time_to_first_token")
    @classmethod
    def _durations(cls, v: str | None) -> str | None:
        return check_duration(v)


class RateLimit(Model):
    requests_per_minute: int | None = Field(default=None, ge=1)
    tokens_per_minute: int | None = Field(default=None, ge=1)


class ModelServiceSpec(Model):
    endpoints: list[ServiceEntry] = Field(min_length=1, max_length=64)
    data_boundary: LabelSelector | None = None
    owner: Owner | None = None
    slo: ServiceSLO | None = None
    break_glass: bool = False
    allow_break_glass_fallback: bool = False
    api_keys: list[SecretKeyRef] = Field(default_factory=list)
    rate_limit: RateLimit | None = None
    model_names: list[str] = Field(default_factory=list, max_length=64)
    queue_timeout: str | None = None

    @field_validator("queue_timeout")
    @classmethod
    def _duration(cls, v: str | None) -> str | None:
        return check_duration(v)


class ResolvedEndpoint(OpenModel):
    name: str
    url: str | None = None
    tier: Tier = "Primary"
    weight: float = 0.0


class ExcludedEndpoint(OpenModel):
    name: str
    reason: str


class ModelServiceStatus(Status):
    address: str | None = None
    endpoints: list[ResolvedEndpoint] = Field(default_factory=list)
    excluded: list[ExcludedEndpoint] = Field(default_factory=list)


class ModelService(Resource):
    KIND: ClassVar[str] = "ModelService"
    PLURAL: ClassVar[str] = "modelservices"
    SHORT_NAMES: ClassVar[tuple[str, ...]] = ("ms",)

    kind: Literal["ModelService"] = "ModelService"
    spec: ModelServiceSpec
    status: ModelServiceStatus = Field(default_factory=ModelServiceStatus)
