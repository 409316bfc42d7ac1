"""Object metadata, conditions and the base every resource kind derives from.

Every laneway object is a Kubernetes-style document. The models here are the typed shape of
that document at every boundary (manifest loading, the store, the API, controllers), so a
field name is spelled once. Field names are snake_case in Python and camelCase on the wire
(`model_dump(by_alias=True)`), exactly as in Kubernetes manifests.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal, NamedTuple, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, field_validator
from pydantic.alias_generators import to_camel

API_GROUP = "laneway.dev"
API_VERSION = "v1alpha1"
GROUP_VERSION = f"{API_GROUP}/{API_VERSION}"
LABEL_PREFIX = "laneway.dev/"
MODELPLANE_GROUP = "modelplane.ai"
MODELPLANE_LABEL_PREFIX = "modelplane.ai/"
SYSTEM_NAMESPACE = "laneway-system"

# The patterns below are written once and serve twice: the checks here match them whole
# (`fullmatch`, so a trailing newline is not a match as `$` alone would allow), and the OpenAPI
# document publishes the same strings (ECMA-262 reads them alike: no flags, no lookbehind).
DNS1123_LABEL_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS1123_LABEL = re.compile(DNS1123_LABEL_PATTERN)
DNS1123_LABEL_MAX = 63
LABEL_NAME_MAX = 63
LABEL_PREFIX_MAX = 253
_SUBDOMAIN = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
LABEL_NAME_BODY = r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
"""A label key's name part (and a non-empty label value), unanchored, to build patterns from."""
LABEL_KEY_BODY = rf"(?![-a-z0-9.]{{{LABEL_PREFIX_MAX + 1},}}/)({_SUBDOMAIN}/)?{LABEL_NAME_BODY}"
"""A label key, unanchored: the lookahead bounds the prefix to 253 characters."""
LABEL_KEY_PATTERN = rf"^{LABEL_KEY_BODY}$"
"""A label key: an optional DNS-subdomain prefix of at most 253 characters and '/', then a name
of 1-63 letters, digits, '-', '_' or '.' that starts and ends with a letter or digit."""
LABEL_VALUE_PATTERN = rf"^({LABEL_NAME_BODY})?$"
"""A label value: empty, or what a key's name part may be."""
LABEL_KEY_MAX = LABEL_PREFIX_MAX + 1 + LABEL_NAME_MAX
_LABEL_NAME = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$")
_DNS1123_SUBDOMAIN = re.compile(rf"^{_SUBDOMAIN}$")
_LABEL_VALUE = re.compile(LABEL_VALUE_PATTERN)


def dns1123_label_schema() -> dict[str, Any]:
    """The JSON Schema constraints of a DNS-1123 label, as `check_dns1123_label` checks it
    (no `type`, so that it also fits a field that may be null)."""
    return {"pattern": DNS1123_LABEL_PATTERN, "minLength": 1, "maxLength": DNS1123_LABEL_MAX}


def label_map_schema() -> dict[str, Any]:
    """The JSON Schema of a label map, as `check_labels` checks it."""
    return {
        "type": "object",
        "propertyNames": {"pattern": LABEL_KEY_PATTERN, "maxLength": LABEL_KEY_MAX},
        "additionalProperties": {"type": "string", "pattern": LABEL_VALUE_PATTERN, "maxLength": LABEL_NAME_MAX},
    }


def now_rfc3339() -> str:
    """Timestamps are stored as RFC 3339 strings in UTC, as the Kubernetes API writes them."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def rfc3339(at: float) -> str:
    """A time in seconds since the epoch (a controller's clock) as a stored timestamp."""
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class ObjectKey(NamedTuple):
    """The identity of one object within its kind: namespace ("" when cluster-scoped) and name."""

    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}" if self.namespace else self.name


def check_dns1123_label(value: str, what: str = "name") -> str:
    if len(value) > DNS1123_LABEL_MAX or not DNS1123_LABEL.fullmatch(value):
        raise ValueError(
            f"{what} {value!r} is not a DNS-1123 label: use at most 63 lowercase letters, digits "
            "and '-', starting and ending with a letter or digit (e.g. 'llama-8b')"
        )
    return value


def check_label_key(key: str) -> str:
    """Label keys follow Kubernetes: optional DNS subdomain prefix, '/', a name of <= 63 chars."""
    prefix, slash, name = key.rpartition("/")
    if slash and (len(prefix) > LABEL_PREFIX_MAX or not _DNS1123_SUBDOMAIN.fullmatch(prefix)):
        raise ValueError(f"label key {key!r} has an invalid prefix {prefix!r}: use a DNS subdomain such as 'example.com'")
    if not name or len(name) > LABEL_NAME_MAX or not _LABEL_NAME.fullmatch(name):
        raise ValueError(
            f"label key {key!r} is invalid: the name part must be 1-63 letters, digits, '-', '_' or '.', "
            "starting and ending with a letter or digit"
        )
    return key


def check_label_value(key: str, value: str) -> str:
    if len(value) > LABEL_NAME_MAX or not _LABEL_VALUE.fullmatch(value):
        raise ValueError(
            f"label {key!r} has invalid value {value!r}: use at most 63 letters, digits, '-', '_' or '.', "
            "starting and ending with a letter or digit"
        )
    return value


def check_labels(labels: dict[str, str]) -> dict[str, str]:
    """Every key and value of a label map, as Kubernetes checks them."""
    for key, value in labels.items():
        check_label_key(key)
        check_label_value(key, value)
    return labels


class Model(BaseModel):
    """Base of every wire shape: camelCase aliases, unknown fields refused (as `kubectl --validate=strict`)."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        validate_assignment=False,
    )

    def wire(self) -> dict[str, Any]:
        """The JSON-ready document, with camelCase keys and unset optionals left out."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class OpenModel(Model):
    """A shape that keeps fields it does not know (statuses that later controllers extend)."""

    model_config = ConfigDict(extra="allow")


class OwnerReference(Model):
    api_version: str = GROUP_VERSION
    kind: str
    name: str
    uid: str
    controller: StrictBool | None = None
    block_owner_deletion: StrictBool | None = None


class ObjectMeta(Model):
    name: str = Field(json_schema_extra=dns1123_label_schema())
    namespace: str | None = Field(default=None, json_schema_extra=dns1123_label_schema())
    labels: dict[str, str] = Field(default_factory=dict, json_schema_extra=label_map_schema())
    annotations: dict[str, str] = Field(default_factory=dict)
    uid: str | None = None
    generation: StrictInt | None = None
    resource_version: str | None = None
    creation_timestamp: str | None = None
    deletion_timestamp: str | None = None
    finalizers: list[str] = Field(default_factory=list)
    owner_references: list[OwnerReference] = Field(default_factory=list)

    @field_validator("name")
    @classmethod
    def _name_is_dns_label(cls, v: str) -> str:
        return check_dns1123_label(v, "metadata.name")

    @field_validator("namespace")
    @classmethod
    def _namespace_is_dns_label(cls, v: str | None) -> str | None:
        return v if v is None else check_dns1123_label(v, "metadata.namespace")

    @field_validator("labels")
    @classmethod
    def _labels_are_valid(cls, v: dict[str, str]) -> dict[str, str]:
        return check_labels(v)


ConditionStatus = Literal["True", "False", "Unknown"]


class Condition(Model):
    type: str
    status: ConditionStatus
    reason: str = ""
    message: str = ""
    last_transition_time: str | None = None
    observed_generation: StrictInt | None = None


class Status(OpenModel):
    """Common status: the generation last acted on and the conditions that describe the object."""

    observed_generation: StrictInt | None = None
    conditions: list[Condition] = Field(default_factory=list)


class Resource(Model):
    """One laneway object. Subclasses set the class-level kind facts and add spec/status."""

    KIND: ClassVar[str] = ""
    PLURAL: ClassVar[str] = ""
    SHORT_NAMES: ClassVar[tuple[str, ...]] = ()
    NAMESPACED: ClassVar[bool] = True
    API_VERSION: ClassVar[str] = GROUP_VERSION

    api_version: str = GROUP_VERSION
    kind: str
    metadata: ObjectMeta

    @property
    def key(self) -> ObjectKey:
        return ObjectKey(self.metadata.namespace or "", self.metadata.name)

    @property
    def namespace(self) -> str:
        return self.metadata.namespace or ""

    @property
    def name(self) -> str:
        return self.metadata.name

    def owner_reference(self, *, controller: bool = True) -> OwnerReference:
        """A reference to this object for the children it composes (cascade deletion follows it)."""
        assert self.metadata.uid, "only stored objects can own others"
        return OwnerReference(
            api_version=self.api_version,
            kind=self.kind,
            name=self.metadata.name,
            uid=self.metadata.uid,
            controller=controller,
            block_owner_deletion=True,
        )


@runtime_checkable
class HasSpec(Protocol):
    """A kind with a spec (every kind but Secret, whose data plays that part)."""

    @property
    def spec(self) -> Model: ...


@runtime_checkable
class HasStatus(Protocol):
    """A kind with a status subresource (every kind but Secret)."""

    status: Status


def status_of(obj: object) -> Status | None:
    """The object's status, or None for a kind without one (a Secret)."""
    return obj.status if isinstance(obj, HasStatus) else None
