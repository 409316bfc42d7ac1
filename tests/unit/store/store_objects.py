"""Small valid objects for the store tests (the store does not care what the spec says)."""

from __future__ import annotations

from typing import Any

from laneway.api.kinds import InferenceGateway, ModelEndpoint, Secret
from laneway.api.meta import OwnerReference, Resource


def endpoint(
    name: str,
    namespace: str = "ml-team",
    *,
    url: str = "http://127.0.0.1:9000",
    labels: dict[str, str] | None = None,
    finalizers: list[str] | None = None,
    owners: list[Resource] | None = None,
) -> ModelEndpoint:
    meta: dict[str, Any] = {"name": name, "namespace": namespace, "labels": labels or {}}
    if finalizers:
        meta["finalizers"] = finalizers
    obj = ModelEndpoint.model_validate({"metadata": meta, "spec": {"url": url}})
    if owners:
        obj.metadata.owner_references = [o.owner_reference() for o in owners]
    return obj


def gateway(name: str = "front", *, address: str | None = None) -> InferenceGateway:
    spec = {"address": address} if address else {}
    return InferenceGateway.model_validate({"metadata": {"name": name}, "spec": spec})


def secret(name: str, namespace: str = "ml-team", **values: str) -> Secret:
    return Secret.model_validate({"metadata": {"name": name, "namespace": namespace}, "stringData": values})


def with_url(obj: ModelEndpoint, url: str) -> ModelEndpoint:
    return obj.model_copy(update={"spec": obj.spec.model_copy(update={"url": url})}, deep=True)


def with_labels(obj: Resource, labels: dict[str, str]) -> Resource:
    copy = obj.model_copy(deep=True)
    copy.metadata.labels = labels
    return copy


def owned_by(owner: Resource) -> OwnerReference:
    return owner.owner_reference()
