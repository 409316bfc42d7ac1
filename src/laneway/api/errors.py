"""Validation problems that say where (file, document, field path) and what would be valid.

One shape serves every surface: the CLI prints it, the API returns it as a Kubernetes Status
with field causes, manifest loading collects many before refusing a whole apply.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class FieldProblem:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


@dataclass
class InvalidObject(Exception):
    """One document that is not a valid object. `source` and `document` locate it in the input."""

    problems: list[FieldProblem]
    kind: str | None = None
    name: str | None = None
    source: str | None = None
    document: int | None = None

    def where(self) -> str:
        parts = []
        if self.source:
            parts.append(self.source)
        if self.document is not None:
            parts.append(f"document {self.document + 1}")
        what = "/".join(p for p in (self.kind, self.name) if p)
        if what:
            parts.append(what)
        return ", ".join(parts)

    def __str__(self) -> str:
        head = self.where()
        lines = [f"{head}: invalid" if head else "invalid object"]
        lines += [f"  - {p}" for p in self.problems]
        return "\n".join(lines)


@dataclass
class InvalidManifests(Exception):
    """Every problem found in a set of manifests; nothing is applied while any remains."""

    errors: list[InvalidObject] = field(default_factory=list)

    def __str__(self) -> str:
        return "\n".join(str(e) for e in self.errors)
