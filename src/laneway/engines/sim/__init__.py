"""`laneway engine sim`: an OpenAI-compatible engine simulator shaped like vLLM.

What it promises: the request and response shapes of vLLM's OpenAI server (chat, completions,
embeddings, Anthropic messages; streamed or not; usage always reported), and vLLM's scheduling
shape: at most `max_num_seqs` sequences run at once, the rest wait in a FIFO queue; a request's
time to first token is its queue wait plus its prefill; one engine step every `itl` seconds
emits one token to every running sequence. `/metrics` uses vLLM's metric names, so whatever
reads a real vLLM (the gateway's saturation signal, autoscaling, dashboards) reads the
simulator the same way.

What it does not do: run a model. Text is deterministic filler chosen from the prompt, token
counts are an approximation of a BPE tokenizer, embeddings are deterministic unit vectors.
KV-cache pressure and preemption are not modelled (the cache usage gauge is reported from
token counts, and preemptions stay at zero).

Layout: `config` (validated settings), `tokens` (token counting and deterministic text),
`timing` (pure token timing), `requests` (parsing and validating request bodies),
`responses` (response and stream-event shapes), `batching` (the continuous batching loop),
`metrics` (the Prometheus registry), `faults` (fault injection), `server` (the aiohttp app).
"""

from laneway.engines.sim.config import SimConfig
from laneway.engines.sim.server import create_sim_app, serve_sim

__all__ = ["SimConfig", "create_sim_app", "serve_sim"]
