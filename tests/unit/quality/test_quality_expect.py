"""Judging answers against expectations, including hostile ones a team may write."""

from __future__ import annotations

import pytest

from laneway.quality.expect import Expectation, ExpectationInvalid, judge, trigram_similarity


def test_exact_and_contains() -> None:
    assert judge(Expectation(exact="Paris"), "  Paris\n").passed
    assert not judge(Expectation(exact="Paris"), "Paris, France").passed
    assert judge(Expectation(contains="Paris"), "It is Paris.").passed
    verdict = judge(Expectation(contains="Paris"), "It is Lyon.")
    assert not verdict.passed and "'Paris'" in verdict.why


def test_regex_and_a_catastrophic_pattern_fails_instead_of_hanging() -> None:
    assert judge(Expectation(regex=r"\b4[0-9]\b"), "the answer is 42").passed
    assert not judge(Expectation(regex=r"^\d+$"), "forty-two").passed
    hostile = judge(Expectation(regex=r"^(a+)+$"), "a" * 5000 + "!")
    assert not hostile.passed and "ran out of time" in hostile.why


def test_json_schema_validates_and_never_fetches_a_remote_ref() -> None:
    schema = {"type": "object", "required": ["city"], "properties": {"city": {"type": "string"}}}
    assert judge(Expectation(json_schema=schema), '{"city": "Paris"}').passed
    bad = judge(Expectation(json_schema=schema), '{"city": 7}')
    assert not bad.passed and "at city" in bad.why
    assert "does not parse" in judge(Expectation(json_schema=schema), "Paris").why
    remote = {"$ref": "http://169.254.169.254/latest/meta-data/schema.json"}
    refused = judge(Expectation(json_schema=remote), "{}")
    assert not refused.passed and "never fetches" in refused.why


def test_similarity_is_local_and_bounded() -> None:
    ref = "The capital of France is Paris."
    assert trigram_similarity(ref, ref) == pytest.approx(1.0)
    assert judge(Expectation(similar_to=ref, threshold=0.6), "Paris is the capital of France.").passed
    assert not judge(Expectation(similar_to=ref, threshold=0.6), "zebra quantum lattice").passed
    assert trigram_similarity("", "") == 0.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "exactly one"),
        ({"exact": "a", "contains": "b"}, "names exact, contains"),
        ({"regex": "("}, "does not compile"),
        ({"json_schema": {"type": "nope"}}, "not a valid JSON Schema"),
        ({"similar_to": "a", "threshold": 1.5}, "between 0 and 1"),
    ],
)
def test_bad_expectations_say_what_is_wrong(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ExpectationInvalid, match=message):
        Expectation(**kwargs)  # type: ignore[arg-type]
