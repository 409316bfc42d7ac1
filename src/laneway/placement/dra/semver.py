"""Semantic versions for DRA `version` attributes and CEL's `semver()`, with semver 2.0 precedence.

Parsing is strict by default (`1.2.3`, `1.2.3-rc.1+build.5`), as Kubernetes' semver library is;
`semver(text, true)` first normalizes the forms drivers publish (`v1.2`, `01.2.3`): a leading
`v` is dropped, missing minor and patch become 0 and leading zeros of the core go.
Build metadata never takes part in comparison or equality.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_NUM = r"0|[1-9][0-9]*"
_IDENT = r"[0-9A-Za-z-]+"
_SEMVER = re.compile(
    rf"^(?P<major>{_NUM})\.(?P<minor>{_NUM})\.(?P<patch>{_NUM})"
    rf"(?:-(?P<pre>{_IDENT}(?:\.{_IDENT})*))?(?:\+(?P<build>{_IDENT}(?:\.{_IDENT})*))?$"
)
_CORE_PART = re.compile(r"^[0-9]+$")


class SemverError(ValueError):
    """Text that is not a semantic version. A ValueError so CEL reports an evaluation error."""


PreRelease = tuple[int | str, ...]


@dataclass(frozen=True)
class Semver:
    major: int
    minor: int
    patch: int
    pre: PreRelease = ()
    build: tuple[str, ...] = ()

    def _key(self) -> tuple[int, int, int]:
        return (self.major, self.minor, self.patch)

    def compare(self, other: Semver) -> int:
        if self._key() != other._key():
            return 1 if self._key() > other._key() else -1
        return _compare_pre(self.pre, other.pre)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Semver) and self.compare(other) == 0

    def __hash__(self) -> int:
        return hash(("semver", self._key(), self.pre))

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.pre:
            text += "-" + ".".join(str(p) for p in self.pre)
        if self.build:
            text += "+" + ".".join(self.build)
        return text


def _compare_pre(a: PreRelease, b: PreRelease) -> int:
    """Semver 2.0 rule 11: a release outranks its pre-releases; identifiers compare pairwise,
    numbers numerically and below alphanumerics; a longer list wins a tie."""
    if a == b:
        return 0
    if not a:
        return 1
    if not b:
        return -1
    for x, y in zip(a, b):
        if x == y:
            continue
        if isinstance(x, int) and isinstance(y, int):
            return 1 if x > y else -1
        if isinstance(x, int):
            return -1
        if isinstance(y, int):
            return 1
        return 1 if x > y else -1
    return (len(a) > len(b)) - (len(a) < len(b))


def _normalize(text: str) -> str:
    text = text[1:] if text.startswith("v") else text
    cut = min((i for i in (text.find("-"), text.find("+")) if i != -1), default=len(text))
    text, rest = text[:cut], text[cut:]
    parts = text.split(".")
    if len(parts) > 3 or not all(_CORE_PART.match(p) for p in parts):
        raise SemverError(f"{text!r} is not a version: the core is up to three dot-separated numbers, e.g. '1.2.3' or 'v1.2'")
    parts = [p.lstrip("0") or "0" for p in parts] + ["0"] * (3 - len(parts))
    return ".".join(parts) + rest


def parse_semver(text: str, *, normalize: bool = False) -> Semver:
    """Parse `major.minor.patch[-pre][+build]`, or raise SemverError saying what is wrong."""
    if not isinstance(text, str):
        raise SemverError(f"a version is written as a string such as '1.2.3', got {type(text).__name__}")
    source = _normalize(text) if normalize else text
    m = _SEMVER.match(source)
    if m is None:
        raise SemverError(
            f"{text!r} is not a semantic version: write 'MAJOR.MINOR.PATCH' with optional '-prerelease' and "
            "'+build', e.g. '1.2.3' or '12.4.0-rc.1' (or use semver(text, true) to accept 'v1.2')"
        )
    pre: PreRelease = ()
    if m.group("pre"):
        idents: list[int | str] = []
        for ident in m.group("pre").split("."):
            if ident.isdigit():
                if len(ident) > 1 and ident.startswith("0"):
                    raise SemverError(f"{text!r}: the numeric pre-release identifier {ident!r} has a leading zero")
                idents.append(int(ident))
            else:
                idents.append(ident)
        pre = tuple(idents)
    build = tuple(m.group("build").split(".")) if m.group("build") else ()
    return Semver(int(m.group("major")), int(m.group("minor")), int(m.group("patch")), pre, build)


def is_semver(text: str, *, normalize: bool = False) -> bool:
    try:
        parse_semver(text, normalize=normalize)
    except SemverError:
        return False
    return True
