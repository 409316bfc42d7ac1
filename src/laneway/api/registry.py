"""Kinds by every name a user or a URL may use: kind, plural, singular, short name.

One table answers "what is `md`", "which model class parses a `ModelService`", and "is this
kind namespaced", so the CLI, the API server and manifest loading agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from laneway.api.kinds import ALL_KINDS
from laneway.api.meta import Resource


@dataclass(frozen=True)
class KindInfo:
    kind: str
    plural: str
    singular: str
    short_names: tuple[str, ...]
    namespaced: bool
    api_version: str
    model: type[Resource]

    def parse(self, document: dict[str, Any]) -> Resource:
        return self.model.model_validate(document)


class UnknownKind(LookupError):
    def __init__(self, name: str) -> None:
        known = ", ".join(sorted({i.singular for i in KINDS} | {s for i in KINDS for s in i.short_names}))
        super().__init__(f"unknown resource kind {name!r}; known kinds: {known}")
        self.name = name


KINDS: tuple[KindInfo, ...] = tuple(
    KindInfo(
        kind=m.KIND,
        plural=m.PLURAL,
        singular=m.KIND.lower(),
        short_names=m.SHORT_NAMES,
        namespaced=m.NAMESPACED,
        api_version=m.API_VERSION,
        model=m,
    )
    for m in ALL_KINDS
)

_BY_NAME: dict[str, KindInfo] = {}
for _info in KINDS:
    for _alias in (_info.kind, _info.kind.lower(), _info.plural, _info.singular, *_info.short_names):
        _BY_NAME.setdefault(_alias.lower(), _info)


def lookup(name: str) -> KindInfo:
    """Resolve any spelling (`md`, `modeldeployments`, `ModelDeployment`) to its kind."""
    info = _BY_NAME.get(name.lower())
    if info is None:
        raise UnknownKind(name)
    return info


_BY_KIND: dict[str, KindInfo] = {info.kind: info for info in KINDS}


def by_kind(kind: str) -> KindInfo:
    """The kind of this exact name (`ModelDeployment`); every store call asks, so one lookup."""
    info = _BY_KIND.get(kind)
    if info is None:
        raise UnknownKind(kind)
    return info
