"""What an engine's own arguments declare, read the way engines read them.

The ticket's rows (load, memory) judge a template by limits its engine enforces, such as
`--max-num-seqs 8` or `--max-model-len=65536`; both spellings are accepted because vLLM,
SGLang and llama.cpp all take either.
"""

from __future__ import annotations

from collections.abc import Sequence


def positive_flag(args: Sequence[str], flags: Sequence[str]) -> int | None:
    """The first positive integer given to any of `flags` (`--flag N` or `--flag=N`), or None
    when none is given or the value is not a positive integer (the engine would refuse it, and
    the row then falls back to what it would assume without the flag)."""
    for i, arg in enumerate(args):
        for flag in flags:
            value: str | None = None
            if arg == flag and i + 1 < len(args):
                value = args[i + 1]
            elif arg.startswith(flag + "="):
                value = arg.split("=", 1)[1]
            if value is not None and value.strip().isdigit() and int(value) > 0:
                return int(value)
    return None
