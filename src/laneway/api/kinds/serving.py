"""ModelEndpoint (one reachable backend) and ModelService (one URL over endpoints by label).

A service entry's weight is its share of traffic, spread over the ready endpoints it selects.
Tiers and the data boundary are laneway's additions: Overflow and BreakGlass entries take
traffic only under the conditions the gateway documents, and no endpoint outside the boundary
is ever chosen.

Modelplane's later endpoint shape (`origin`, `api`, `credential`) is read too: `origin` fills
`url` and `credential.apiKey.secretRef` fills `auth.secretRef`, so one field is read downstream
whichever shape the manifest used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal
from urllib.parse import unquote

from pydantic import Field, StrictBool, StrictFloat, StrictInt, field_validator, model_validator

from laneway.api.errors import RuleViolation
from laneway.api.kinds.common import SecretKeyRef, check_duration
from laneway.api.meta import Model, OpenModel, Resource, Status
from laneway.api.selectors import LabelSelector

if TYPE_CHECKING:
    from laneway.quality.expect import Expectation

Tier = Literal["Primary", "Overflow", "BreakGlass"]


class EndpointAuth(Model):
    """The upstream credential, sent as a bearer token; never the caller's own key."""

    secret_ref: SecretKeyRef


class EndpointApi(Model):
    """Which API the backend speaks and the path it serves it under (Modelplane's `api`)."""

    schema_: Literal["OpenAI", "Anthropic"] = Field(default="OpenAI", alias="schema")
    prefix: str = "/v1"

    @field_validator("prefix")
    @classmethod
    def _absolute(cls, v: str) -> str:
        if not v.startswith("/"):
            raise ValueError(f"prefix {v!r} must start with '/' (e.g. /v1 or /openai/v1)")
        return v


class CredentialSecretRef(Model):
    name: str = Field(min_length=1, max_length=253)
    key: str = Field(default="apiKey", min_length=1, max_length=253)


class ApiKeyCredential(Model):
    secret_ref: CredentialSecretRef


class EndpointCredential(Model):
    """Modelplane's credential block; laneway reads it as `auth.secretRef`."""

    method: Literal["APIKey"] = "APIKey"
    api_key: ApiKeyCredential


def _check_http_url(v: str, what: str) -> str:
    if not (v.startswith("http://") or v.startswith("https://")) or len(v) <= len("https://"):
        raise ValueError(f"{what} {v!r} must be an http:// or https:// URL such as https://api.example.com")
    return v


class TokenPricing(Model):
    """What an external provider charges per million input and output tokens: what
    `laneway economics` prices the tokens it metered through the endpoint at."""

    per_million_input_tokens: StrictFloat = Field(ge=0)
    per_million_output_tokens: StrictFloat = Field(ge=0)
    currency: str = Field(default="USD", min_length=3, max_length=3)


class ModelEndpointSpec(Model):
    url: str = ""
    rewrite_path: str | None = None
    auth: EndpointAuth | None = None
    model: str | None = None
    max_in_flight: StrictInt | None = Field(default=None, ge=1, le=100000)
    origin: str | None = None
    api: EndpointApi | None = None
    credential: EndpointCredential | None = None
    pricing: TokenPricing | None = None

    @field_validator("url")
    @classmethod
    def _http_url(cls, v: str) -> str:
        return v if v == "" else _check_http_url(v, "url")

    @field_validator("origin")
    @classmethod
    def _http_origin(cls, v: str | None) -> str | None:
        return v if v is None else _check_http_url(v, "origin")

    @field_validator("rewrite_path")
    @classmethod
    def _plain_rewrite_path(cls, v: str | None) -> str | None:
        """The prefix every forwarded path lands under: it may not itself climb elsewhere."""
        if v is None:
            return v
        if any(c in v for c in "?#\\") or not v.isascii() or not v.isprintable():
            raise ValueError(f"rewritePath {v!r} must be a plain path such as /openai: no query, fragment or backslash")
        if any(seg in (".", "..") for seg in unquote(unquote(v)).split("/")) or "%2f" in v.lower():
            raise ValueError(f"rewritePath {v!r} may not contain dot segments ('.', '..') or encoded slashes; write the path it means")
        return v

    @model_validator(mode="after")
    def _one_address(self) -> ModelEndpointSpec:
        if not self.url:
            if not self.origin:
                raise RuleViolation(
                    "an endpoint needs 'url' (e.g. https://api.example.com/v1 or http://127.0.0.1:8000)", at="url"
                )
            prefix = self.api.prefix if self.api else ""
            self.url = self.origin.rstrip("/") + prefix
        if self.auth is None and self.credential is not None:
            ref = self.credential.api_key.secret_ref
            self.auth = EndpointAuth(secret_ref=SecretKeyRef(name=ref.name, key=ref.key))
        return self


class ModelEndpointStatus(Status):
    ready: StrictBool | None = None


class ModelEndpoint(Resource):
    KIND: ClassVar[str] = "ModelEndpoint"
    PLURAL: ClassVar[str] = "modelendpoints"
    SHORT_NAMES: ClassVar[tuple[str, ...]] = ("me",)

    kind: Literal["ModelEndpoint"] = "ModelEndpoint"
    spec: ModelEndpointSpec
    status: ModelEndpointStatus = Field(default_factory=ModelEndpointStatus)


class ServiceEntry(Model):
    """A set of endpoints chosen by label. `weight` shares traffic among entries of one tier and
    priority; a weight of 0 parks the entry (rollback uses it) without removing it."""

    name: str | None = Field(default=None, min_length=1, max_length=63)
    weight: StrictInt = Field(default=1, ge=0, le=1000000)
    selector: LabelSelector
    tier: Tier = "Primary"
    priority: StrictInt = Field(default=0, ge=0, le=63)

    @field_validator("selector")
    @classmethod
    def _selects_something(cls, v: LabelSelector) -> LabelSelector:
        if v.is_empty():
            raise ValueError(
                "an empty selector would match every endpoint in the namespace; "
                "add matchLabels such as {laneway.dev/deployment: my-model}"
            )
        return v


class Owner(Model):
    team: str = Field(min_length=1, max_length=253)
    contact: str | None = Field(default=None, max_length=253)


class ServiceSLO(Model):
    p95_latency: str | None = None
    p95_time_to_first_token: str | None = None

    @field_validator("p95_latency", "p95_time_to_first_token")
    @classmethod
    def _durations(cls, v: str | None) -> str | None:
        return check_duration(v)


class RateLimit(Model):
    requests_per_minute: StrictInt | None = Field(default=None, ge=1)
    tokens_per_minute: StrictInt | None = Field(default=None, ge=1)


DEFAULT_ROUTING_POLICY = "LeastOutstanding"
"""The balancing policy of a service that names none: power of two choices by requests in
flight (see `laneway.gateway.balancer`)."""


class ServiceRouting(Model):
    """How the gateway picks one endpoint among those a request may use (`spec.routing`).

    `policy` names a balancing policy registered with the gateway
    (`laneway.gateway.policy.policy_names()`); an unknown name is refused here, listing the
    registered ones, so a typo never reaches the data plane."""

    policy: str = Field(default=DEFAULT_ROUTING_POLICY, min_length=1, max_length=63)

    @field_validator("policy")
    @classmethod
    def _registered(cls, v: str) -> str:
        # Imported here, not at the top: the policies live with the gateway, which imports
        # this module; by the time a manifest is validated both are loaded.
        from laneway.gateway.policy import policy_class

        policy_class(v)  # UnknownPolicy is a ValueError naming the registered policies
        return v


class ModelServiceSpec(Model):
    endpoints: list[ServiceEntry] = Field(min_length=1, max_length=64)

    @field_validator("endpoints")
    @classmethod
    def _unique_entry_names(cls, v: list[ServiceEntry]) -> list[ServiceEntry]:
        names = [e.name for e in v if e.name]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"endpoint entry names must be unique within a service; repeated: {', '.join(dup)}")
        return v

    @field_validator("model_names")
    @classmethod
    def _model_names(cls, v: list[str]) -> list[str]:
        bad = [n for n in v if not n or len(n) > 253]
        if bad:
            raise ValueError("model names must be 1-253 characters")
        return v
    data_boundary: LabelSelector | None = None
    owner: Owner | None = None
    slo: ServiceSLO | None = None
    break_glass: StrictBool = False
    allow_break_glass_fallback: StrictBool = False
    api_keys: list[SecretKeyRef] = Field(default_factory=list, max_length=64)
    rate_limit: RateLimit | None = None
    model_names: list[str] = Field(default_factory=list, max_length=64)
    queue_timeout: str | None = None
    routing: ServiceRouting | None = None
    quality: QualitySpec | None = None

    @property
    def routing_policy(self) -> str:
        """The balancing policy's name: `routing.policy`, else the default."""
        return self.routing.policy if self.routing is not None else DEFAULT_ROUTING_POLICY

    @field_validator("queue_timeout")
    @classmethod
    def _duration(cls, v: str | None) -> str | None:
        return check_duration(v)


class ResolvedEndpoint(OpenModel):
    name: str
    url: str | None = None
    tier: Tier = "Primary"
    weight: StrictFloat = 0.0


class ExcludedEndpoint(OpenModel):
    name: str
    reason: str


class TrafficFigures(OpenModel):
    """Requests per tier, errors and the p95s of one gateway's recent window: what the canary
    rollback judges (`laneway.ticket.canary.figures_from_status` reads this shape)."""

    requests: dict[str, StrictInt] = Field(default_factory=dict)
    """Requests per tier within the window."""
    errors: StrictInt | None = None
    """Failed requests within the window (5xx, cut streams, failed attempts)."""
    p95_latency_seconds: StrictFloat | None = None
    p95_time_to_first_token_seconds: StrictFloat | None = None
    """Streams only: a plain answer has no first token to time."""
    requests_total: StrictInt | None = None
    """Requests since the gateway started (a canary's judge takes differences of these)."""
    errors_total: StrictInt | None = None


class EndpointTokens(Model):
    """Tokens one gateway metered through one endpoint since it started (what economics prices)."""

    tier: str = "Primary"
    prompt: StrictInt = Field(default=0, ge=0)
    completion: StrictInt = Field(default=0, ge=0)


class GatewayTraffic(TrafficFigures):
    """One gateway's entry in `status.traffic`: service-wide figures and, under `entries`, the
    same figures per service entry. Each gateway writes only its own entry, so token counts
    summed over entries count each request once. `tokens` per endpoint are since `since`, the
    time this gateway started metering; `concurrency` per entry is what its engines held when
    full."""

    gateway: str
    window_seconds: StrictFloat | None = None
    entries: dict[str, TrafficFigures] | None = None
    since: str | None = None
    tokens: dict[str, EndpointTokens] | None = None
    concurrency: dict[str, StrictInt] | None = None
    """Per service entry: the most requests one of its engines was seen running at once while
    requests waited (from the engines' own metrics, since this gateway started): the measured
    concurrency per replica that the ticket's scaling row prefers to a declared limit."""


class QualityProbe(Model):
    """One golden prompt and what its answer must satisfy (exactly one expectation)."""

    name: str = Field(min_length=1, max_length=63)
    prompt: str = Field(min_length=1, max_length=4096)
    max_tokens: StrictInt = Field(default=16, ge=1, le=256)
    exact: str | None = Field(default=None, max_length=4096)
    contains: str | None = Field(default=None, max_length=4096)
    regex: str | None = Field(default=None, max_length=512)
    json_schema: dict[str, Any] | None = None
    similar_to: str | None = Field(default=None, max_length=4096)
    threshold: StrictFloat = Field(default=0.8, ge=0, le=1)

    @model_validator(mode="after")
    def _one_expectation(self) -> QualityProbe:
        from laneway.quality.expect import ExpectationInvalid

        try:
            self.expectation()
        except ExpectationInvalid as e:
            raise RuleViolation(f"probe {self.name}: {e}", at="exact") from None
        return self

    def expectation(self) -> Expectation:
        from laneway.quality.expect import Expectation

        return Expectation(
            exact=self.exact, contains=self.contains, regex=self.regex, json_schema=self.json_schema,
            similar_to=self.similar_to, threshold=self.threshold,
        )


class QualitySpec(Model):
    """Golden-prompt probes run against the service's endpoints every `interval`; an endpoint
    whose pass rate over its last `window` rounds falls below `minPassRate` is failing. With
    `eject`, a failing endpoint is taken out of rotation, never leaving the service with none."""

    probes: list[QualityProbe] = Field(min_length=1, max_length=16)
    interval: str = "60s"
    window: StrictInt = Field(default=10, ge=1, le=32)
    min_pass_rate: StrictFloat = Field(default=0.8, ge=0, le=1)
    eject: StrictBool = False
    external_calls_per_hour: StrictInt = Field(default=60, ge=0, le=3600)
    """Paid probe calls to the service's external (Overflow, BreakGlass) endpoints, at most, per
    hour over all of them; 0 probes only laneway's own replicas. Their tokens count in spend."""

    @field_validator("interval")
    @classmethod
    def _interval(cls, v: str) -> str:
        check_duration(v)
        from laneway.api.kinds.common import parse_duration

        if parse_duration(v) < 1:
            raise ValueError(f"interval {v!r} is under a second; probes cost tokens: use e.g. 60s")
        return v


class ProbeFailure(Model):
    probe: str
    at: str
    why: str
    answer: str = ""
    """The first 200 characters of the answer."""


class EndpointQuality(Model):
    name: str
    tier: str = "Primary"
    recent: list[StrictBool] = Field(default_factory=list)
    """The last `window` rounds' outcomes, oldest first (a round passes when every probe does)."""
    pass_rate: StrictFloat | None = None
    failing: StrictBool = False
    last_failure: ProbeFailure | None = None


class PaidProbeCalls(Model):
    """Probe calls made to external endpoints in the current hour (`externalCallsPerHour` caps them)."""

    period_start: str
    calls: StrictInt = Field(default=0, ge=0)


class ServiceQuality(Model):
    observed_at: str
    endpoints: list[EndpointQuality] = Field(default_factory=list)
    paid_calls: PaidProbeCalls | None = None
    skipped: dict[str, str] | None = None
    """External endpoints not probed in the last round, and why (the hourly cap, a spent budget)."""


class ServiceEconomicsFigures(Model):
    """The service's current economics (`laneway economics` for this service), kept by the
    economics controller: its self-hosted capacity and tokens over `windowSeconds` (from
    `spanStart`, see docs/economics.md), and the same tokens at the compared provider's price."""

    window_seconds: StrictFloat
    span_start: str
    observed_at: str | None = None
    """When these figures were computed."""
    currency: str = "USD"
    capacity_cost: StrictFloat = 0.0
    prompt_tokens: StrictInt = 0
    completion_tokens: StrictInt = 0
    cost_per_million_tokens: StrictFloat | None = None
    compared_with: str | None = None
    same_tokens_bought: StrictFloat | None = None
    bought_per_million_tokens: StrictFloat | None = None
    break_even_tokens_per_hour: StrictFloat | None = None
    tokens_per_hour: StrictFloat = 0.0
    external_cost: StrictFloat = 0.0
    """External providers' cost in `currency`; one priced in another is named in `laneway economics`."""


class ModelServiceStatus(Status):
    address: str | None = None
    endpoints: list[ResolvedEndpoint] = Field(default_factory=list)
    excluded: list[ExcludedEndpoint] = Field(default_factory=list)
    # Written by the gateway (`gateway/status.py`): traffic per gateway, and what keeps an
    # entry from routing (a selector that matches nothing, a missing Secret).
    traffic: list[GatewayTraffic] | None = None
    problems: list[str] | None = None
    # Written by the autoscaler, read by the gateway: a request for this service may wake a
    # deployment scaled to zero, so the gateway queues it instead of answering 503.
    scale_from_zero: StrictBool | None = None
    # Written by the economics controller (`control/economics.py`).
    economics: ServiceEconomicsFigures | None = None
    # Written by the quality controller (`control/quality.py`).
    quality: ServiceQuality | None = None


class ModelService(Resource):
    KIND: ClassVar[str] = "ModelService"
    PLURAL: ClassVar[str] = "modelservices"
    SHORT_NAMES: ClassVar[tuple[str, ...]] = ("ms",)

    kind: Literal["ModelService"] = "ModelService"
    spec: ModelServiceSpec
    status: ModelServiceStatus = Field(default_factory=ModelServiceStatus)
