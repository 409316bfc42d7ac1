"""From a URL to what it names: kind, namespace, name, subresource.

laneway serves its kinds where Kubernetes would: `/apis/laneway.dev/v1alpha1/...` for its own
group, and `/api/v1/...` (the core group) for Secrets. A kind is served at one group only, a
cluster-scoped kind never under `namespaces/{ns}`, and only ModelDeployment has `/scale`.
Every mistake here is a 404 or 400 that names the path that would work.
"""

from __future__ import annotations

from dataclasses import dataclass

from laneway.api.meta import GROUP_VERSION, ObjectKey, check_dns1123_label
from laneway.api.registry import KINDS, KindInfo
from laneway.server.errors import bad_request, method_not_allowed, not_found

CORE_VERSION = "v1"
SUBRESOURCES: dict[str, frozenset[str]] = {
    "status": frozenset(k.kind for k in KINDS if k.kind != "Secret"),
    "scale": frozenset({"ModelDeployment"}),
}


@dataclass(frozen=True)
class Target:
    """What one request addresses. `namespace` is "" for cluster-scoped kinds and all-namespace lists."""

    kind: KindInfo
    namespace: str = ""
    name: str | None = None
    subresource: str | None = None

    @property
    def key(self) -> ObjectKey:
        assert self.name is not None, "only object targets have a key"
        return ObjectKey(self.namespace, self.name)

    def describe(self) -> str:
        what = f'{self.kind.kind} "{self.name}"' if self.name else self.kind.plural
        return f"{what} in namespace {self.namespace!r}" if self.namespace else what


def collection_path(kind: KindInfo, namespace: str = "") -> str:
    """The URL path of a kind's collection (in `namespace` when given and the kind is namespaced)."""
    base = f"/apis/{GROUP_VERSION}" if kind.api_version == GROUP_VERSION else f"/api/{kind.api_version}"
    if kind.namespaced and namespace:
        return f"{base}/namespaces/{namespace}/{kind.plural}"
    return f"{base}/{kind.plural}"


def kinds_served_at(group_version: str) -> dict[str, KindInfo]:
    return {k.plural: k for k in KINDS if k.api_version == group_version}


def resolve(
    group_version: str,
    *,
    plural: str,
    namespace: str | None = None,
    name: str | None = None,
    subresource: str | None = None,
) -> Target:
    """The target of a path under `/apis/<group_version>` or `/api/<group_version>`."""
    served = kinds_served_at(group_version)
    kind = served.get(plural)
    if kind is None and plural == "namespaces":
        if group_version == CORE_VERSION:
            # Only GET is routed to the namespace handlers; any other method lands here.
            raise method_not_allowed(
                "namespaces are only read (GET): one exists once something is stored in it", allow=("GET",)
            )
        raise not_found("namespaces are served at /api/v1/namespaces")
    if kind is None:
        elsewhere = next((k for k in KINDS if k.plural == plural), None)
        if elsewhere is not None:
            raise not_found(f"{plural} are served at {collection_path(elsewhere, namespace or '')}, not under {group_version}")
        known = ", ".join(sorted(served)) or "none"
        raise not_found(f"the server has no resource {plural!r} in {group_version}; known resources: {known}")
    if namespace is not None:
        if not kind.namespaced:
            raise bad_request(
                f"{kind.kind} is cluster-scoped and takes no namespace: use {collection_path(kind)}"
                + (f"/{name}" if name else "")
            )
        try:
            check_dns1123_label(namespace, "namespace")
        except ValueError as e:
            raise bad_request(str(e)) from None
    if name is not None:
        try:
            check_dns1123_label(name, "name")
        except ValueError as e:
            raise not_found(f'{kind.kind} "{name}" not found: {e}', kind=kind.plural, name=name) from None
    if subresource is not None:
        if subresource not in SUBRESOURCES:
            raise not_found(f"{kind.plural} have no subresource {subresource!r}; known: {', '.join(sorted(SUBRESOURCES))}")
        if kind.kind not in SUBRESOURCES[subresource]:
            raise not_found(f"{kind.plural} have no {subresource!r} subresource")
    if kind.namespaced and name is not None and not namespace:
        raise not_found(
            f"{kind.kind} is namespaced: address it as {collection_path(kind, '{namespace}')}/{name}",
            kind=kind.plural,
            name=name,
        )
    return Target(kind=kind, namespace=namespace or "", name=name, subresource=subresource)
