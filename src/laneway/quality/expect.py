"""Judging one answer against one expectation. Pure, and safe against hostile expectations.

- `exact`: the answer, stripped of surrounding whitespace, equals the text.
- `contains`: the text appears in the answer (case-sensitive).
- `regex`: the pattern matches somewhere in the answer, run by the `regex` engine with a time
  limit (`REGEX_TIMEOUT`), so a catastrophically backtracking pattern fails the probe instead of
  hanging the prober.
- `jsonSchema`: the answer parses as JSON and validates against the schema (Draft 2020-12).
  References are resolved only inside the schema: a remote `$ref` is never fetched.
- `similarTo` with `threshold`: the cosine similarity of character-trigram counts of the answer
  and the reference, from 0 to 1, is at least the threshold. Crude, local, and deterministic:
  it catches an endpoint answering something else entirely, not a subtle paraphrase.

Answers are judged on their first `MAX_ANSWER_CHARS` characters.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

import regex
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from referencing.exceptions import Unresolvable

MAX_ANSWER_CHARS = 8192
REGEX_TIMEOUT = 0.05
"""Seconds a probe's regular expression may run on one answer."""


class ExpectationInvalid(ValueError):
    """An expectation that cannot be judged (a pattern that does not compile, a bad schema)."""


@dataclass(frozen=True)
class Expectation:
    """Exactly one of the fields is set (`threshold` goes with `similar_to`)."""

    exact: str | None = None
    contains: str | None = None
    regex: str | None = None
    json_schema: Mapping[str, object] | None = None
    similar_to: str | None = None
    threshold: float = 0.8

    def __post_init__(self) -> None:
        set_ = [n for n in ("exact", "contains", "regex", "json_schema", "similar_to") if getattr(self, n) is not None]
        if len(set_) != 1:
            raise ExpectationInvalid(
                "an expectation names exactly one of exact, contains, regex, jsonSchema or similarTo"
                + (f"; this one names {', '.join(set_)}" if set_ else "")
            )
        if not 0.0 <= self.threshold <= 1.0:
            raise ExpectationInvalid(f"threshold {self.threshold} is not between 0 and 1")
        if self.regex is not None:
            try:
                regex.compile(self.regex)
            except regex.error as e:
                raise ExpectationInvalid(f"regex {self.regex!r} does not compile: {e}") from None
        if self.json_schema is not None:
            try:
                Draft202012Validator.check_schema(dict(self.json_schema))
            except SchemaError as e:
                raise ExpectationInvalid(f"jsonSchema is not a valid JSON Schema: {e.message}") from None


@dataclass(frozen=True)
class Verdict:
    passed: bool
    why: str


def trigram_similarity(a: str, b: str) -> float:
    """Cosine similarity of the character-trigram counts of `a` and `b` (case-folded), 0 to 1."""

    def grams(text: str) -> Counter[str]:
        if not text.split():
            return Counter()
        t = f"  {' '.join(text.casefold().split())} "
        return Counter(t[i : i + 3] for i in range(len(t) - 2))

    ga, gb = grams(a), grams(b)
    dot = sum(n * gb[g] for g, n in ga.items())
    norm = math.sqrt(sum(n * n for n in ga.values())) * math.sqrt(sum(n * n for n in gb.values()))
    return dot / norm if norm else 0.0


def judge(expectation: Expectation, answer: str) -> Verdict:
    """Whether `answer` meets `expectation`, and why not."""
    text = answer[:MAX_ANSWER_CHARS]
    e = expectation
    if e.exact is not None:
        ok = text.strip() == e.exact.strip()
        return Verdict(ok, "" if ok else f"expected exactly {e.exact!r}")
    if e.contains is not None:
        ok = e.contains in text
        return Verdict(ok, "" if ok else f"expected it to contain {e.contains!r}")
    if e.regex is not None:
        try:
            ok = regex.search(e.regex, text, timeout=REGEX_TIMEOUT) is not None
        except TimeoutError:
            return Verdict(False, f"regex {e.regex!r} ran out of time ({REGEX_TIMEOUT}s) on the answer")
        return Verdict(ok, "" if ok else f"expected a match of {e.regex!r}")
    if e.json_schema is not None:
        try:
            doc = json.loads(text)
        except ValueError:
            return Verdict(False, "expected JSON; the answer does not parse")
        try:
            errors = sorted(Draft202012Validator(dict(e.json_schema)).iter_errors(doc), key=lambda err: str(list(err.path)))
        except Unresolvable as unresolved:
            return Verdict(False, f"jsonSchema refers to {unresolved.ref!r}, which laneway never fetches: inline it")
        if errors:
            first = errors[0]
            where = "/".join(str(p) for p in first.path) or "the top level"
            return Verdict(False, f"JSON does not match the schema at {where}: {first.message}")
        return Verdict(True, "")
    assert e.similar_to is not None
    score = trigram_similarity(text, e.similar_to)
    ok = score >= e.threshold
    return Verdict(ok, "" if ok else f"similarity {score:.2f} to the reference is below {e.threshold:.2f}")
