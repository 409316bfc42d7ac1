"""How a server refusal reads on the terminal: each cause once."""

from __future__ import annotations

from laneway.client import ApiError, Cause


def test_a_cause_the_message_already_says_is_not_repeated() -> None:
    cause = Cause("spec.x.cel", "CEL selector does not compile: syntax error:\n1 +* 2\n   ^")
    said = ApiError(422, "Invalid", f'ModelDeployment "m" is invalid: {cause}', [cause])
    assert str(said).count("does not compile") == 1
    other = Cause("spec.replicas", "must be at least 0")
    terse = ApiError(422, "Invalid", "the object is invalid", [cause, other])
    assert str(terse).splitlines()[1:] == [f"  - {cause}".splitlines()[0], *f"{cause}".splitlines()[1:], f"  - {other}"]
