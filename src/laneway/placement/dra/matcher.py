"""Compile-once, evaluate-once: the cache between DRA selectors and the scheduler.

A selector's source compiles once per process; a (selector, device) pair evaluates once per
distinct device description, because the answer depends on nothing else, and once per
distinct set of the values the selector reads when it reads the device only by fixed paths
(`reads.py`): classes that differ in what a selector does not look at share its evaluation.
A fleet of thousands of pools publishes only a handful of InferenceClasses, so a full re-plan
evaluates almost nothing. `DeviceMatcher(cache=False)` turns both caches off: the benchmark's baseline.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import TYPE_CHECKING, TypeVar

from celpy import celtypes

from laneway.api.kinds.platform import ClassDevice
from laneway.placement.dra.environment import CompileError, Outcome, Program, compile_selector, device_value, evaluate
from laneway.placement.dra.explain import FalseClause, false_clause
from laneway.placement.dra.reads import projection

if TYPE_CHECKING:  # matching imports this module; the scheduler's answers are only stored here
    from laneway.placement.matching import EngineMatch

K = TypeVar("K")
V = TypeVar("V")

DEFAULT_MAX_PROGRAMS = 4096
DEFAULT_MAX_RESULTS = 262_144


def device_fingerprint(device: ClassDevice) -> str:
    """A stable identity of a device's description: equal descriptions share evaluations."""
    return hashlib.blake2b(device.model_dump_json(by_alias=True).encode(), digest_size=16).hexdigest()


class _Lru(OrderedDict[K, V]):
    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def remember(self, key: K, value: V) -> V:
        self[key] = value
        if len(self) > self.limit:
            self.popitem(last=False)
        return value


class DeviceMatcher:
    """Answers "does this selector match this device?" with bounded caches."""

    def __init__(self, *, cache: bool = True, max_programs: int = DEFAULT_MAX_PROGRAMS, max_results: int = DEFAULT_MAX_RESULTS) -> None:
        self.cache = cache
        self._programs: _Lru[str, Program | CompileError] = _Lru(max_programs)
        self._results: _Lru[tuple[str, str], Outcome] = _Lru(max_results)
        self._values: _Lru[str, celtypes.MapType] = _Lru(max_programs)
        self._explanations: _Lru[tuple[str, str], FalseClause | None] = _Lru(max_programs)
        self._by_values: _Lru[tuple[str, tuple[object, ...]], Outcome] = _Lru(max_results)
        self.engine_fits: _Lru[tuple[str, str], EngineMatch] = _Lru(max_results // 4)
        """The scheduler's (engine, class) answers, kept here so they live and die with these caches."""
        self.compilations = 0
        self.evaluations = 0

    def compile(self, source: str) -> Program | CompileError:
        """The compiled program, or the compile error as a value (errors are cached too)."""
        if self.cache:
            hit = self._programs.get(source)
            if hit is not None:
                return hit
        self.compilations += 1
        try:
            program: Program | CompileError = compile_selector(source)
        except CompileError as e:
            program = e
        return self._programs.remember(source, program) if self.cache else program

    def matches(self, source: str, device: ClassDevice, fingerprint: str | None = None) -> Outcome:
        """Evaluate one selector on one device; a selector that does not compile never matches."""
        if self.cache:
            key = (source, fingerprint or device_fingerprint(device))
            hit = self._results.get(key)
            if hit is not None:
                return hit
        program = self.compile(source)
        if isinstance(program, CompileError):
            outcome = Outcome(False, f"does not compile: {program}")
            return self._results.remember(key, outcome) if self.cache else outcome
        value = self._device_value(device, fingerprint)
        if not self.cache:
            self.evaluations += 1
            return evaluate(program, value)
        # Devices that agree on every value the selector reads get the same answer: evaluate once.
        shared = (source, projection(program.reads, value)) if program.reads is not None else None
        answer = self._by_values.get(shared) if shared is not None else None
        if answer is None:
            self.evaluations += 1
            answer = evaluate(program, value)
            if shared is not None:
                self._by_values.remember(shared, answer)
        return self._results.remember(key, answer)

    def explain_false(self, source: str, device: ClassDevice, fingerprint: str | None = None) -> FalseClause | None:
        """Which clause of a selector that is false on `device` fails, and what it needs (None
        when the selector does not compile). For explanations only: it evaluates clause by clause."""
        key = (source, fingerprint or device_fingerprint(device))
        if self.cache and key in self._explanations:
            return self._explanations[key]
        program = self.compile(source)
        clause = None if isinstance(program, CompileError) else false_clause(program, self._device_value(device, fingerprint))
        return self._explanations.remember(key, clause) if self.cache else clause

    def _device_value(self, device: ClassDevice, fingerprint: str | None) -> celtypes.MapType:
        if not self.cache:
            return device_value(device)
        key = fingerprint or device_fingerprint(device)
        hit = self._values.get(key)
        return hit if hit is not None else self._values.remember(key, device_value(device))


DEFAULT_MATCHER = DeviceMatcher()
"""The process-wide matcher the controller and the CLI share, so compiled selectors survive re-plans."""
