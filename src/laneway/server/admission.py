"""Admission checks the API server makes before a write that the store alone would accept.

`refuse_cache_in_use`: deleting a ModelCache that a ModelDeployment still references would
pull the weights from under running replicas, so it is refused (409) with the deployments
named, and the message says what to do first.

`refuse_invalid_cel`: a device selector that does not compile (on a ModelDeployment, an
InferenceTicket's hardware row, a ModelReplica's claimed devices) is refused at the door with
a 422 naming the field and carrying the compiler's caret message, instead of being accepted
and surfacing later as a condition. The check lives here and not in the model's validation on
purpose: stored objects are revalidated on every read, and one that a later (stricter) CEL
compiler rejects must stay readable, so the controller can keep its replicas and say why
(DESIGN rule 4). For the same reason a selector the stored object already holds is not
refused again on update (Kubernetes calls this ratcheting): a label edit on an object stored
before this check is not blocked by a selector it did not touch.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache

from pydantic import BaseModel

from laneway.api.errors import FieldProblem
from laneway.api.kinds.cache import ModelCache
from laneway.api.kinds.deployment import CelSelector, ModelDeployment
from laneway.api.manifest import format_path
from laneway.api.meta import Resource
from laneway.cache.gate import users_of
from laneway.placement.dra.environment import CompileError, compile_selector
from laneway.server.errors import ApiError, invalid
from laneway.store.base import Store

MAX_NAMED = 5
COMPILED_SOURCES = 1024
"""Distinct selector sources whose compile outcome is remembered across requests."""


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


def cel_selectors(obj: BaseModel) -> Iterator[tuple[str, str]]:
    """Every CEL selector inside `obj`, as (field path as the manifest spells it, source)."""
    for loc, selector in _walk(obj, ()):
        yield format_path((*loc, "cel")), selector.cel


def _walk(value: object, loc: tuple[str | int, ...]) -> Iterator[tuple[tuple[str | int, ...], CelSelector]]:
    if isinstance(value, CelSelector):
        yield loc, value
    elif isinstance(value, BaseModel):
        for name, info in type(value).model_fields.items():
            yield from _walk(getattr(value, name), (*loc, info.alias or name))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _walk(item, (*loc, i))


@lru_cache(maxsize=COMPILED_SOURCES)
def _compile_error(source: str) -> str | None:
    """The compiler's message for `source`, or None when it compiles (thread-safe cache)."""
    try:
        compile_selector(source)
    except CompileError as e:
        return str(e)
    return None


def cel_problems(obj: Resource, existing: Resource | None) -> list[FieldProblem]:
    """One problem per selector in `obj` that does not compile and that `existing` does not
    already hold; each names the field and carries the compiler's caret message."""
    kept = {source for _, source in cel_selectors(existing)} if existing is not None else set()
    problems = []
    for path, source in cel_selectors(obj):
        if source in kept:
            continue
        error = _compile_error(source)
        if error is not None:
            problems.append(FieldProblem(
                path, f"CEL selector does not compile: {error}\n"
                "fix the expression; docs/concepts/placement.md lists what a selector may read and call",
            ))
    return problems


def refuse_invalid_cel(obj: Resource, existing: Resource | None) -> None:
    """Raise a 422 naming every selector of `obj` that does not compile; return when all do."""
    problems = cel_problems(obj, existing)
    if problems:
        raise invalid(obj.kind, obj.name, problems)
