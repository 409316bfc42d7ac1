"""ModelCache: weights staged once on every cluster its selector matches."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from laneway.api.kinds.common import SecretKeyRef
from laneway.api.meta import Model, OpenModel, Resource, Status
from laneway.api.selectors import LabelSelector


class HuggingFaceSource(Model):
    repo: str
    revision: str | None = None
    auth_secret: SecretKeyRef | None = None


class S3Source(Model):
    uri: str
    region: str | None = None
    endpoint: str | None = None
    credentials_secret: SecretKeyRef | None = None


class HTTPSource(Model):
    url: str
    sha256: str | None = None


class LocalPathSource(Model):
    path: str


_BLOCKS = {"HuggingFace": "hugging_face", "S3": "s3", "HTTP": "http", "Local": "local"}


class ModelCacheSpec(Model):
    source: Literal["HuggingFace", "S3", "HTTP", "Local"]
    hugging_face: HuggingFaceSource | None = Field(default=None, alias="huggingFace")
    s3: S3Source | None = None
    http: HTTPSource | None = None
    local: LocalPathSource | None = None
    cluster_selector: LabelSelector = Field(default_factory=LabelSelector)

    @model_validator(mode="after")
    def _one_block(self) -> "ModelCacheSpec":
        wanted = _BLOCKS[self.source]
        if getattr(self, wanted) is None:
            alias = {"hugging_face": "huggingFace"}.get(wanted, wanted)
            raise ValueError(f"source {self.source} needs its block '{alias}'")
        extra = [a for s, a in _BLOCKS.items() if s != self.source and getattr(self, a) is not None]
        if extra:
            raise ValueError(f"source is {self.source}; remove the other source blocks ({', '.join(extra)})")
        return self


class ClusterCacheStatus(OpenModel):
    cluster: str
    state: Literal["Pending", "Hydrating", "Ready", "Failed"] = "Pending"
    bytes: int | None = None
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
