"""Refusals raised before an engine serves anything; the CLI prints them without a traceback."""

from __future__ import annotations


class EngineError(Exception):
    """An engine cannot start as asked. The message says what was wrong and what would fix it."""


class EngineUnavailable(EngineError):
    """An optional engine's packages are not installed."""
