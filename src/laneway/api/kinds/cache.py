"""ModelCache: weights staged once on every cluster its selector matches.

The shape is Modelplane's `source` discriminator with one block per source. `sizeGiB` (how
much room the staged weights take) is Modelplane's; laneway also adds S3, HTTP and Local
sources beyond Hugging Face.
"""

from __future__ import annotations

import re
from typing import ClassVar, Literal

from pydantic import Field, StrictBool, StrictInt, field_validator, model_validator

from laneway.api.errors import RuleViolation
from laneway.api.kinds.common import SecretKeyRef
from laneway.api.meta import Model, OpenModel, Resource, Status
from laneway.api.selectors import LabelSelector

MAX_SIZE_GIB = 100000
_HF_REPO = re.compile(r"^[A-Za-z0-9][-A-Za-z0-9_.]*(/[A-Za-z0-9][-A-Za-z0-9_.]*)?$")


class HuggingFaceSource(Model):
    repo: str
    revision: str | None = None
    auth_secret: SecretKeyRef | None = None
    size_gib: StrictInt | None = Field(default=None, alias="sizeGiB", ge=1, le=MAX_SIZE_GIB)

    @field_validator("repo")
    @classmethod
    def _repo(cls, v: str) -> str:
        if not _HF_REPO.match(v):
            raise ValueError(f"repo {v!r} is not a Hugging Face repository id; write it as 'owner/name', e.g. 'Qwen/Qwen3-8B'")
        return v


class S3Source(Model):
    uri: str
    region: str | None = None
    endpoint: str | None = None
    credentials_secret: SecretKeyRef | None = None
    size_gib: StrictInt | None = Field(default=None, alias="sizeGiB", ge=1, le=MAX_SIZE_GIB)

    @field_validator("uri")
    @classmethod
    def _uri(cls, v: str) -> str:
        if not v.startswith("s3://") or len(v) <= len("s3://"):
            raise ValueError(f"uri {v!r} must be an S3 URI such as s3://bucket/prefix/")
        return v


class HTTPSource(Model):
    url: str
    sha256: str | None = None
    auth_secret: SecretKeyRef | None = None
    size_gib: StrictInt | None = Field(default=None, alias="sizeGiB", ge=1, le=MAX_SIZE_GIB)

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not (v.startswith("http://") or v.startswith("https://")):
            raise ValueError(f"url {v!r} must start with http:// or https://")
        return v

    @field_validator("sha256")
    @classmethod
    def _sha(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"[0-9a-fA-F]{64}", v):
            raise ValueError("sha256 must be 64 hexadecimal characters (the file's SHA-256 digest)")
        return v


class LocalPathSource(Model):
    path: str

    @field_validator("path")
    @classmethod
    def _absolute(cls, v: str) -> str:
        if not v.startswith("/"):
            raise ValueError(f"path {v!r} must be absolute, e.g. /srv/models/qwen3-8b")
        return v


_BLOCKS = {"HuggingFace": "hugging_face", "S3": "s3", "HTTP": "http", "Local": "local"}
_ALIASES = {"hugging_face": "huggingFace"}


class ModelCacheSpec(Model):
    source: Literal["HuggingFace", "S3", "HTTP", "Local"]
    hugging_face: HuggingFaceSource | None = Field(default=None, alias="huggingFace")
    s3: S3Source | None = None
    http: HTTPSource | None = None
    local: LocalPathSource | None = None
    cluster_selector: LabelSelector = Field(default_factory=LabelSelector)
    # False (the default): staged on a selected cluster only once a replica placed there needs
    # it, so applying a cache downloads nothing by itself. True: staged ahead on every selected
    # cluster, so the first replica starts from local disk.
    stage_ahead: StrictBool = Field(default=False, alias="stageAhead")

    def declared_size_gib(self) -> int | None:
        """The source block's `sizeGiB`, when the manifest declares one."""
        block = getattr(self, _BLOCKS[self.source])
        size = getattr(block, "size_gib", None)
        return size if isinstance(size, int) else None

    @model_validator(mode="after")
    def _one_block(self) -> ModelCacheSpec:
        wanted = _BLOCKS[self.source]
        if getattr(self, wanted) is None:
            alias = _ALIASES.get(wanted, wanted)
            raise RuleViolation(f"source {self.source} needs its block '{alias}'", at=alias)
        extra = [_ALIASES.get(a, a) for s, a in _BLOCKS.items() if s != self.source and getattr(self, a) is not None]
        if extra:
            raise RuleViolation(
                f"source is {self.source}; remove the other source blocks ({', '.join(extra)})", at=extra[0]
            )
        return self


class ClusterCacheStatus(OpenModel):
    cluster: str
    state: Literal["Pending", "Hydrating", "Ready", "Failed"] = "Pending"
    bytes: StrictInt | None = None
    message: str | None = None


class ModelCacheStatus(Status):
    clusters: list[ClusterCacheStatus] = Field(default_factory=list)


class ModelCache(Resource):
    KIND: ClassVar[str] = "ModelCache"
    PLURAL: ClassVar[str] = "modelcaches"
    SHORT_NAMES: ClassVar[tuple[str, ...]] = ("mc",)

    kind: Literal["ModelCache"] = "ModelCache"
    spec: ModelCacheSpec
    status: ModelCacheStatus = Field(default_factory=ModelCacheStatus)
