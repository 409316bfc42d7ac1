"""The CEL environment a DRA selector runs in: one `device` of an InferenceClass, as DRA shows it.

`device.driver` is the driver's name; `device.attributes[domain][name]` and
`device.capacity[domain][name]` hold the class's typed attributes (string, bool, int, and
`version` as a semver value) and capacity quantities. A class key without a `/` belongs to
the driver's own domain; `domain/name` is split at the first `/`. An unknown domain reads as an
empty map, so `has()` on it is false and reading a name from it is an evaluation error, which
the matcher turns into a non-match, never a crash and never a match.

Evaluation is bounded: every AST node visited spends one unit of a budget, so a selector with
nested comprehensions over large lists stops with an error instead of stalling the scheduler.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import celpy
import lark
from celpy import celtypes
from celpy.celparser import CELParseError
from celpy.evaluation import Activation, CELEvalError, Evaluator

from laneway.api.kinds.platform import ClassDevice
from laneway.placement.dra.functions import FUNCTIONS
from laneway.placement.dra.parser_cache import build_cel_parser, private_cache_dir
from laneway.placement.dra.quantity import QuantityError, parse_quantity
from laneway.placement.dra.reads import Path, reads
from laneway.placement.dra.semver import SemverError, parse_semver

DEFAULT_STEP_BUDGET = 20_000
"""AST node visits one evaluation may make; ordinary selectors take a few dozen."""


class BudgetExceeded(Exception):
    """An evaluation spent its step budget."""


class _DomainMap(celtypes.MapType):
    """`device.attributes` / `device.capacity`: an unknown domain reads as an empty map."""

    def __getitem__(self, key: Any) -> Any:
        try:
            return super().__getitem__(key)
        except KeyError:
            if isinstance(key, str):
                return celtypes.MapType({})
            raise


class _Budget:
    __slots__ = ("left",)

    def __init__(self, steps: int) -> None:
        self.left = steps

    def spend(self) -> None:
        self.left -= 1
        if self.left < 0:
            raise BudgetExceeded()


class _BoundedEvaluator(Evaluator):
    """celpy's tree-walking evaluator, charging one budget unit per node, macros included."""

    def __init__(self, ast: lark.Tree[lark.Token], activation: Activation, budget: _Budget) -> None:
        super().__init__(ast, activation)
        self._budget = budget

    def _visit_tree(self, tree: lark.Tree[lark.Token]) -> Any:  # lark's internal dispatch for every node
        self._budget.spend()
        return super()._visit_tree(tree)

    def sub_evaluator(self, ast: lark.Tree[lark.Token]) -> Evaluator:
        return _BoundedEvaluator(ast, self.activation, self._budget)


class _BoundedRunner(celpy.InterpretedRunner):
    step_budget: int = DEFAULT_STEP_BUDGET
    _base: Activation | None = None

    def base_activation(self) -> Activation:
        """The functions and annotations every evaluation starts from, built once per program:
        celpy rebuilds them on each call, about a sixth of evaluating a small selector
        (measured: 290 us down to 240 us). The evaluator clones it before binding `device`, so
        sharing it is safe."""
        if self._base is None:
            self._base = self.new_activation()
        return self._base

    def evaluate(self, context: Any) -> celtypes.Value:
        return self.evaluate_tree(self.ast, context)

    def evaluate_tree(self, tree: lark.Tree[lark.Token], context: Any) -> celtypes.Value:
        """Evaluate `tree` (the program or one of its subtrees) with the step budget."""
        evaluator = _BoundedEvaluator(tree, self.base_activation(), _Budget(self.step_budget))
        return evaluator.evaluate(context)


build_cel_parser(private_cache_dir())  # celpy's parser from this user's cache: ~0.1 s less per process
_ENV = celpy.Environment(runner_class=_BoundedRunner)


class CompileError(ValueError):
    """A selector that is not valid CEL; the message is the compiler's, with a caret under the spot."""


@dataclass(frozen=True)
class Program:
    """One compiled selector, ready to evaluate against many devices. `reads` are the fixed
    device paths it reads (see `reads.py`), or None when it reads the device another way."""

    source: str
    runner: celpy.Runner
    reads: tuple[Path, ...] | None = None


def compile_selector(source: str) -> Program:
    """Compile a selector, or raise CompileError with the compiler's own message."""
    try:
        ast = _ENV.compile(source)
        runner = _ENV.program(ast, functions=FUNCTIONS)
        read = reads(ast)
    except CELParseError as e:
        raise CompileError(f"syntax error:\n{str(e).rstrip() or source}") from None
    except RecursionError:  # thousands of brackets, negations or chained operators in 10 KiB
        raise CompileError("the selector nests too deeply to compile; split it into several selectors "
                           "(all of a request's selectors must hold) or write it flatter") from None
    except Exception as e:
        raise CompileError(f"{type(e).__name__}: {e}") from None
    return Program(source, runner, read)


@dataclass(frozen=True)
class Outcome:
    """The result of one selector on one device: matched, or why not (`error` is set on a failure)."""

    matched: bool
    error: str | None = None


def evaluate(program: Program, device: celtypes.MapType) -> Outcome:
    """True only for a boolean true; false, a non-boolean, an error or a spent budget do not match."""
    try:
        result = program.runner.evaluate({"device": device})
    except BudgetExceeded:
        return Outcome(False, f"evaluation stopped after {DEFAULT_STEP_BUDGET} steps (the selector is too costly)")
    except CELEvalError as e:
        return Outcome(False, _eval_error_text(e))
    except Exception as e:
        return Outcome(False, f"{type(e).__name__}: {e}")
    if isinstance(result, CELEvalError):
        return Outcome(False, _eval_error_text(result))
    if not isinstance(result, celtypes.BoolType):
        return Outcome(False, f"the selector returned {type(result).__name__.removesuffix('Type').lower()}, not a bool")
    return Outcome(bool(result))


def evaluate_subtree(program: Program, tree: lark.Tree[lark.Token], device: celtypes.MapType) -> Any:
    """The value of one part of a compiled selector on a device (an error or spent budget is
    returned as the exception, never raised): how explanations find the clause that is false."""
    runner = program.runner
    assert isinstance(runner, _BoundedRunner)
    try:
        return runner.evaluate_tree(tree, {"device": device})
    except Exception as e:
        return e


def _eval_error_text(error: CELEvalError) -> str:
    args = error.args
    text = str(args[0]) if args else "evaluation error"
    if len(args) > 2 and args[2]:
        detail = str(args[2][0] if isinstance(args[2], tuple) and args[2] else args[2])
        # celpy labels every ValueError from a function as an overflow; the function's own text says more
        text = detail if text.startswith("return error for overflow") else f"{text}: {detail}"
    return text


def _split_key(key: str, driver: str) -> tuple[str, str]:
    domain, sep, name = key.partition("/")
    return (domain, name) if sep else (driver, key)


def device_value(device: ClassDevice) -> celtypes.MapType:
    """The `device` variable for one class device. Values that do not parse are left out, so a
    selector reading them fails to match rather than matching on garbage."""
    attributes: dict[str, dict[str, Any]] = {}
    for key, attr in device.attributes.items():
        domain, name = _split_key(key, device.driver)
        value: Any
        if attr.version is not None:
            try:
                value = parse_semver(attr.version, normalize=True)
            except SemverError:
                continue
        elif attr.bool is not None:
            value = celtypes.BoolType(attr.bool)
        elif attr.int is not None:
            value = celtypes.IntType(attr.int)
        else:
            value = celtypes.StringType(attr.string or "")
        attributes.setdefault(domain, {})[name] = value
    capacity: dict[str, dict[str, Any]] = {}
    for key, cap in device.capacity.items():
        domain, name = _split_key(key, device.driver)
        try:
            capacity.setdefault(domain, {})[name] = parse_quantity(cap.value)
        except QuantityError:
            continue
    return celtypes.MapType(
        {
            celtypes.StringType("driver"): celtypes.StringType(device.driver),
            celtypes.StringType("attributes"): _DomainMap(
                {celtypes.StringType(d): celtypes.MapType({celtypes.StringType(k): v for k, v in m.items()}) for d, m in attributes.items()}
            ),
            celtypes.StringType("capacity"): _DomainMap(
                {celtypes.StringType(d): celtypes.MapType({celtypes.StringType(k): v for k, v in m.items()}) for d, m in capacity.items()}
            ),
        }
    )
