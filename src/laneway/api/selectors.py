"""Label selectors, as Kubernetes defines them, in their two forms.

The structured form (`matchLabels` / `matchExpressions`) appears in manifests: cluster
selectors, service endpoint selectors, data boundaries. The string form (`a=b,c in (x,y),!d`)
appears on the command line and in the API's `labelSelector` query parameter. Both compile to
the same requirement list, so matching has one implementation.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from pydantic import Field, model_validator

from laneway.api.meta import LABEL_KEY_BODY, LABEL_NAME_BODY, Model

Operator = Literal["In", "NotIn", "Exists", "DoesNotExist"]


class LabelSelectorRequirement(Model):
    key: str
    operator: Operator
    values: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _values_match_operator(self) -> LabelSelectorRequirement:
        if self.operator in ("In", "NotIn") and not self.values:
            raise ValueError(f"operator {self.operator} on key {self.key!r} needs at least one value in 'values'")
        if self.operator in ("Exists", "DoesNotExist") and self.values:
            raise ValueError(f"operator {self.operator} on key {self.key!r} takes no 'values'; remove them")
        return self


class LabelSelector(Model):
    match_labels: dict[str, str] = Field(default_factory=dict)
    match_expressions: list[LabelSelectorRequirement] = Field(default_factory=list)

    def requirements(self) -> list[Requirement]:
        reqs = [Requirement(k, "In", (v,)) for k, v in sorted(self.match_labels.items())]
        reqs += [Requirement(e.key, e.operator, tuple(e.values)) for e in self.match_expressions]
        return reqs

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(r.matches(labels) for r in self.requirements())

    def is_empty(self) -> bool:
        return not self.match_labels and not self.match_expressions


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: Operator
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        if self.operator == "In":
            return present and labels[self.key] in self.values
        if self.operator == "NotIn":
            return not present or labels[self.key] not in self.values
        if self.operator == "Exists":
            return present
        return not present

    def describe(self) -> str:
        """Human form used in explanations: `region=us-east`, `tier in (gold,silver)`."""
        if self.operator == "In" and len(self.values) == 1:
            return f"{self.key}={self.values[0]}"
        if self.operator == "In":
            return f"{self.key} in ({','.join(self.values)})"
        if self.operator == "NotIn":
            return f"{self.key} notin ({','.join(self.values)})"
        if self.operator == "Exists":
            return self.key
        return f"!{self.key}"


class SelectorSyntaxError(ValueError):
    pass


_WS = "[ ]*"
_VALUE = f"({LABEL_NAME_BODY})?"


def selector_pattern(key: str = LABEL_KEY_BODY) -> str:
    """The grammar of the string form as one regular expression (ECMA-262 and Python alike):
    requirements `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a)`, `k`, `!k`, joined by commas,
    with spaces around the tokens; the empty selector selects everything. `key` is the
    grammar of a key (label keys; the field selector passes its two field names).

    The server refuses what does not match, and the OpenAPI document publishes the same
    pattern for `labelSelector` and `fieldSelector`, so the two agree by construction."""
    equality = f"{key}{_WS}(==|!=|=){_WS}{_VALUE}"
    in_set = f"{key}[ ]+(in|notin){_WS}\\({_WS}{LABEL_NAME_BODY}({_WS},{_WS}{LABEL_NAME_BODY})*{_WS}\\)"
    requirement = f"({in_set}|{equality}|!{_WS}{key}|{key})"
    return f"^({_WS}{requirement}{_WS}(,{_WS}{requirement}{_WS})*)?$"


LABEL_SELECTOR_PATTERN = selector_pattern()
_LABEL_SELECTOR = re.compile(LABEL_SELECTOR_PATTERN)


_SET_RE = re.compile(r"^\s*([^\s!=]+)\s+(in|notin)\s*\(([^)]*)\)\s*$")


def _split_top_level(text: str) -> list[str]:
    parts: list[str] = []
    cur: list[str] = []
    depth = 0
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p for p in (p.strip() for p in parts) if p]


def parse_selector(text: str) -> list[Requirement]:
    """Parse the string form: `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a)`, `k`, `!k`.

    Keys and values are label keys and values (`LABEL_SELECTOR_PATTERN`): a selector that
    names no possible label is a mistake worth saying, not an empty answer."""
    reqs: list[Requirement] = []
    for part in _split_top_level(text or ""):
        m = _SET_RE.match(part)
        if m:
            values = tuple(v.strip() for v in m.group(3).split(",") if v.strip())
            if not values:
                raise SelectorSyntaxError(f"selector {part!r}: a set needs at least one value, e.g. 'tier in (gold)'")
            reqs.append(Requirement(m.group(1), "In" if m.group(2) == "in" else "NotIn", values))
        elif "!=" in part:
            k, v = (s.strip() for s in part.split("!=", 1))
            reqs.append(Requirement(k, "NotIn", (v,)))
        elif "==" in part or "=" in part:
            k, v = (s.strip() for s in re.split(r"==?", part, maxsplit=1))
            reqs.append(Requirement(k, "In", (v,)))
        elif part.startswith("!"):
            reqs.append(Requirement(part[1:].strip(), "DoesNotExist"))
        elif re.fullmatch(r"[A-Za-z0-9][-A-Za-z0-9_./]*", part):
            reqs.append(Requirement(part, "Exists"))
        else:
            raise SelectorSyntaxError(
                f"cannot parse label selector {part!r}: use 'key=value', 'key!=value', 'key in (a,b)', "
                "'key notin (a)', 'key' or '!key'"
            )
        if not reqs[-1].key:
            raise SelectorSyntaxError(f"label selector {part!r} has an empty key")
    # The grammar decides last, so the messages above keep naming the common mistakes.
    if not _LABEL_SELECTOR.fullmatch(text or ""):
        raise SelectorSyntaxError(
            f"cannot parse label selector {text!r}: use 'key=value', 'key!=value', 'key in (a,b)', "
            "'key notin (a)', 'key' or '!key', joined by commas, where keys and values are label keys "
            "and values (letters, digits, '-', '_', '.'; a key may have a 'prefix/')"
        )
    return reqs


def matches_all(requirements: list[Requirement], labels: Mapping[str, str]) -> bool:
    return all(r.matches(labels) for r in requirements)
