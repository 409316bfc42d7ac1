"""A named object that is not in the namespace asked: say where it is, when the caller may see.

Why: the examples live in `ml-team`, so `laneway describe md sim-chat` (namespace `default`)
answered only "not found"; the hint names the namespaces holding that name and the `-n` to add.
"""

from __future__ import annotations

from collections.abc import Iterable

from laneway.api.meta import Resource
from laneway.api.registry import KindInfo
from laneway.cli.errors import Failure
from laneway.cli.kinds import namespace_for
from laneway.client import ApiError, Client


def namespaces_holding(name: str, objects: Iterable[Resource], *, besides: str | None) -> list[str]:
    """The namespaces, other than `besides`, that hold an object called `name` (pure)."""
    return sorted({o.namespace for o in objects if o.name == name and o.namespace and o.namespace != besides})


def hint(error: ApiError, namespaces: list[str]) -> str:
    """The not-found message with where the name does exist (pure)."""
    if not namespaces:
        return str(error)
    where = ", ".join(repr(n) for n in namespaces)
    return f"{error}\n  it exists in namespace{'s' if len(namespaces) > 1 else ''} {where}: add -n {namespaces[0]}"


def get_or_hint(client: Client, info: KindInfo, name: str, namespace: str | None) -> Resource:
    """`client.get`, whose not-found names the namespaces that hold `name` (those the caller may list)."""
    ns = namespace_for(info, namespace)
    try:
        return client.get(info.kind, name, namespace=ns)
    except ApiError as e:
        if not e.not_found or not info.namespaced:
            raise
        try:
            everywhere = client.list(info.kind, all_namespaces=True).items
        except ApiError:
            raise e from None  # the caller may not list across namespaces: no hint
        raise Failure(hint(e, namespaces_holding(name, everywhere, besides=ns))) from None
