"""Admission checks the API server makes before a write that the store alone would accept.

`refuse_cache_in_use`: deleting a ModelCache that a ModelDeployment still references would
pull the weights from under running replicas, so it is refused (409) with the deployments
named, and the message says what to do first.
"""

from __future__ import annotations

from laneway.api.kinds.cache import ModelCache
from laneway.api.kinds.deployment import ModelDeployment
from laneway.cache.gate import users_of
from laneway.server.errors import ApiError
from laneway.store.base import Store

MAX_NAMED = 5


def refuse_cache_in_use(store: Store, cache: ModelCache) -> None:
    """Raise a 409 naming the deployments that reference `cache`; return when none do."""
    users = users_of(cache, store.list(ModelDeployment, namespace=cache.namespace).items)
    if not users:
        return
    names = ", ".join(d.name for d in users[:MAX_NAMED]) + (f" and {len(users) - MAX_NAMED} more" if len(users) > MAX_NAMED else "")
    raise ApiError(
        409,
        "Conflict",
        f"ModelCache {cache.name!r} is in use by ModelDeployment {names} in namespace {cache.namespace!r}; "
        "remove their modelCacheRef (or delete them) first, then delete the cache",
        name=cache.name,
        kind="ModelCache",
    )
