"""Validation problems that say where (file, document, field path) and what would be valid.

One shape serves every surface: the CLI prints it, the API returns it as a Kubernetes Status
with field causes, manifest loading collects many before refusing a whole apply.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class FieldProblem:
    """One thing wrong with one field. `line` is the 1-based line in the source, when known."""

    path: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        text = f"{self.path}: {self.message}" if self.path else self.message
        return f"{text} (line {self.line})" if self.line is not None else text


class RuleViolation(ValueError):
    """A cross-field rule broken inside a model, pointing at the field to change.

    Pydantic reports a model validator's error at the model's own path; raising this instead
    lets the loader extend that path with `at` (camelCase, relative, e.g. "members[1].worker"),
    so the user reads the exact field, not just the object that holds it.
    """

    def __init__(self, message: str, *, at: str = "") -> None:
        super().__init__(message)
        self.at = at


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
