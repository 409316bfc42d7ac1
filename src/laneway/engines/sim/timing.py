"""Token timing as pure arithmetic: what the batching loop schedules, and what tests can check.

A request waits in the queue until a sequence slot frees, then prefills (a fixed part plus a
part per prompt token), then emits its first token; after that, one engine step every `itl`
seconds emits one token to every running sequence.
"""

from __future__ import annotations

from laneway.engines.sim.config import SimConfig


def prefill_seconds(config: SimConfig, prompt_tokens: int) -> float:
    """How long a sequence prefills before its first token, once it has a slot."""
    return config.ttft + config.prefill_per_token * prompt_tokens


def ideal_latency(config: SimConfig, prompt_tokens: int, output_tokens: int, queue_wait: float = 0.0) -> float:
    """End-to-end seconds of one request on an engine with no other load (queue wait given).

    The first token comes at queue wait plus prefill; each later token takes up to one step.
    Steps are shared by all sequences, so under load a sequence can be served sooner than a
    whole step after it joins; this is the upper bound a test or a capacity plan can use.
    """
    if output_tokens <= 0:
        return queue_wait + prefill_seconds(config, prompt_tokens)
    return queue_wait + prefill_seconds(config, prompt_tokens) + config.itl * (output_tokens - 1)


def kv_cache_usage(tokens_in_flight: int, config: SimConfig) -> float:
    """Fraction of a KV cache sized for `max_num_seqs` full-length sequences that is in use."""
    capacity = config.max_num_seqs * config.max_model_len
    return min(1.0, tokens_in_flight / capacity) if capacity else 0.0
