"""The simulator's settings, checked once so that the engine loop never meets a nonsense value."""

from __future__ import annotations

from dataclasses import dataclass, field

from laneway.engines.errors import EngineError

DEFAULT_MODEL_NAME = "laneway-sim"


@dataclass(frozen=True)
class SimConfig:
    """Everything `laneway engine sim` can be told. Times are seconds.

    `ttft` is the fixed part of a request's prefill and `prefill_per_token` the part that grows
    with its prompt; the time to first token a client sees adds the queue wait on top. `itl` is
    the engine step: every step emits one token to every running sequence. `max_tokens` is the
    natural output length: how many tokens a request gets when it names no limit, as if the
    model emitted end-of-sequence there (a request's own `max_tokens` caps it; `ignore_eos`
    makes the request's `max_tokens` exact, as in vLLM).
    """

    served_model_names: tuple[str, ...] = (DEFAULT_MODEL_NAME,)
    max_num_seqs: int = 256
    max_model_len: int = 4096
    max_tokens: int = 32
    ttft: float = 0.02
    prefill_per_token: float = 0.0
    itl: float = 0.01
    embedding_dim: int = 384
    kv_blocks: int | None = None
    """KV-cache capacity in blocks; set, the simulator keeps a prefix cache and publishes KV
    events (see `prefix_cache`). None: no prefix cache, every prompt is prefilled in full."""
    kv_block_chars: int = 256
    """Characters of the prompt's canonical text per KV block (~64 tokens)."""
    error_rate: float = 0.0
    crash_after: int | None = None
    wrong_answers: bool = False
    slow_start: float = 0.0
    seed: int = 0
    histogram_buckets: tuple[float, ...] = field(
        default=(0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0,
                 7.5, 10.0, 20.0, 40.0, 80.0)
    )

    def __post_init__(self) -> None:
        problems = list(_problems(self))
        if problems:
            raise EngineError("invalid simulator settings:\n" + "\n".join(f"  - {p}" for p in problems))

    @property
    def model_name(self) -> str:
        """The first served name: the one responses and metrics report, as vLLM does."""
        return self.served_model_names[0]


def _problems(c: SimConfig) -> list[str]:
    out: list[str] = []
    if not c.served_model_names or any(not n.strip() for n in c.served_model_names):
        out.append("--served-model-name: give at least one non-empty name")
    for flag, value in (("--max-num-seqs", c.max_num_seqs), ("--max-model-len", c.max_model_len),
                        ("--max-tokens", c.max_tokens), ("--embedding-dim", c.embedding_dim)):
        if value < 1:
            out.append(f"{flag}: {value} is not allowed; use a whole number of 1 or more")
    if c.kv_blocks is not None and c.kv_blocks < 1:
        out.append(f"--kv-blocks: {c.kv_blocks} is not allowed; use 1 or more blocks, or leave it out for no prefix cache")
    if c.kv_block_chars < 16:
        out.append(f"--kv-block-chars: {c.kv_block_chars} is too small; use 16 characters or more")
    if c.max_tokens >= c.max_model_len:
        out.append(f"--max-tokens: {c.max_tokens} leaves no room for a prompt within "
                   f"--max-model-len {c.max_model_len}; lower it or raise --max-model-len")
    for flag, seconds in (("--ttft", c.ttft), ("--prefill-per-token", c.prefill_per_token),
                          ("--slow-start", c.slow_start)):
        if seconds < 0:
            out.append(f"{flag}: {seconds} is negative; use 0 or more seconds")
    if c.itl <= 0:
        out.append(f"--itl: {c.itl} is not allowed; the engine step must be more than 0 seconds")
    if not 0.0 <= c.error_rate <= 1.0:
        out.append(f"--error-rate: {c.error_rate} is not a probability; use a number from 0 to 1")
    if c.crash_after is not None and c.crash_after < 1:
        out.append(f"--crash-after: {c.crash_after} is not allowed; use 1 or more requests")
    return out
