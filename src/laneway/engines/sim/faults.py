"""Fault injection: the failures a gateway and a driver must survive, on demand.

- error rate: each inference request fails with a 500 with this probability (seeded, so a run
  is repeatable);
- crash after N: once N inference requests have been answered the process exits with status
  `CRASH_EXIT_CODE`, as an engine that dies under load would;
- slow start: for the first S seconds `/health` answers 503 and inference requests are refused
  with 503, as an engine that is still loading weights;
- wrong answers: every answer is fluent, well-formed and wrong (other words than a healthy
  simulator gives for the same prompt), for quality probes to catch.

`FaultPlan` holds the decisions and their counters; the server asks it and acts.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from laneway.engines.sim.config import SimConfig

CRASH_EXIT_CODE = 3


@dataclass
class FaultPlan:
    error_rate: float = 0.0
    crash_after: int | None = None
    slow_start: float = 0.0
    seed: int = 0
    wrong_answers: bool = False
    answered: int = 0
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    @classmethod
    def from_config(cls, config: SimConfig) -> FaultPlan:
        return cls(error_rate=config.error_rate, crash_after=config.crash_after,
                   slow_start=config.slow_start, seed=config.seed, wrong_answers=config.wrong_answers)

    def starting(self, seconds_since_start: float) -> bool:
        """True while the simulated start-up is still going."""
        return seconds_since_start < self.slow_start

    def should_fail(self) -> bool:
        """Draw whether the next inference request fails with an injected 500."""
        return self.error_rate > 0 and self._rng.random() < self.error_rate

    def record_answered(self) -> bool:
        """Count an answered inference request; True when the process must now crash."""
        self.answered += 1
        return self.crash_after is not None and self.answered >= self.crash_after

    def answer_key(self, prompt_key: str) -> str:
        """What the answer's words are drawn from: the prompt, or another key when answering wrongly."""
        return prompt_key + "\x00wrong" if self.wrong_answers else prompt_key
