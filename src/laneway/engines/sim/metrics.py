"""The simulator's `/metrics`, under vLLM's metric names and labels.

Each simulator owns its own `CollectorRegistry` (never the process-global one), so several
simulators can live in one test process. Gauges are read from the engine at scrape time;
counters and histograms are fed by the batching loop through `EngineObserver`.
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from laneway.engines.sim.batching import BatchingEngine, SimSequence
from laneway.engines.sim.config import SimConfig
from laneway.engines.sim.timing import kv_cache_usage

CONTENT_TYPE = CONTENT_TYPE_LATEST
_TOKEN_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000)


class SimMetrics:
    """vLLM's engine metrics for one served model; implements `EngineObserver`."""

    def __init__(self, config: SimConfig) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._config = config
        labels = ["model_name"]
        reg = self.registry
        b = config.histogram_buckets

        def hist(name: str, doc: str, buckets: tuple[float, ...] = b) -> Histogram:
            return Histogram(name, doc, labels, registry=reg, buckets=buckets)

        self._running = Gauge("vllm:num_requests_running", "Number of requests in model execution batches.",
                              labels, registry=reg)
        self._waiting = Gauge("vllm:num_requests_waiting", "Number of requests waiting to be processed.",
                              labels, registry=reg)
        self._kv_usage = Gauge("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.",
                               labels, registry=reg)
        self._gpu_cache = Gauge("vllm:gpu_cache_usage_perc",
                                "GPU KV-cache usage. 1 means 100 percent usage (older vLLM name).",
                                labels, registry=reg)
        self._preemptions = Counter("vllm:num_preemptions", "Cumulative number of preemptions from the engine.",
                                    labels, registry=reg)
        self._cache_queries = Counter("vllm:prefix_cache_queries",
                                      "Prefix cache queries, in terms of number of queried tokens.", labels, registry=reg)
        self._cache_hits = Counter("vllm:prefix_cache_hits",
                                   "Prefix cache hits, in terms of number of cached tokens.", labels, registry=reg)
        self._prompt_tokens = Counter("vllm:prompt_tokens", "Number of prefill tokens processed.",
                                      labels, registry=reg)
        self._generation_tokens = Counter("vllm:generation_tokens", "Number of generation tokens processed.",
                                          labels, registry=reg)
        self._success = Counter("vllm:request_success", "Count of successfully processed requests.",
                                ["model_name", "finished_reason"], registry=reg)
        self._ttft = hist("vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.")
        self._tpot = hist("vllm:time_per_output_token_seconds", "Histogram of time per output token in seconds.")
        self._itl = hist("vllm:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.")
        self._e2e = hist("vllm:e2e_request_latency_seconds", "Histogram of end to end request latency in seconds.")
        self._queue = hist("vllm:request_queue_time_seconds",
                           "Histogram of time spent in WAITING phase for request.")
        self._prefill = hist("vllm:request_prefill_time_seconds",
                             "Histogram of time spent in PREFILL phase for request.")
        self._decode = hist("vllm:request_decode_time_seconds",
                            "Histogram of time spent in DECODE phase for request.")
        self._inference = hist("vllm:request_inference_time_seconds",
                               "Histogram of time spent in RUNNING phase for request.")
        self._req_prompt = hist("vllm:request_prompt_tokens", "Number of prefill tokens processed.",
                                _TOKEN_BUCKETS)
        self._req_generation = hist("vllm:request_generation_tokens", "Number of generation tokens processed.",
                                    _TOKEN_BUCKETS)
        self._max_tokens_param = hist("vllm:request_params_max_tokens",
                                      "Histogram of the max_tokens request parameter.", _TOKEN_BUCKETS)
        name = config.model_name
        self._m = name
        # Touch the labelled children so every series exists from the first scrape, as in vLLM.
        for metric in (self._preemptions, self._prompt_tokens, self._generation_tokens, self._cache_queries, self._cache_hits):
            metric.labels(name)
        for reason in ("stop", "length", "abort"):
            self._success.labels(name, reason)

    def bind(self, engine: BatchingEngine) -> None:
        """Read the gauges from `engine` whenever /metrics is scraped."""
        name = self._m
        self._running.labels(name).set_function(lambda: engine.num_running)
        self._waiting.labels(name).set_function(lambda: engine.num_waiting)
        cache = engine.cache
        if cache is not None:
            usage = lambda: cache.usage  # noqa: E731
        else:
            usage = lambda: kv_cache_usage(engine.tokens_in_flight(), self._config)  # noqa: E731
        self._kv_usage.labels(name).set_function(usage)
        self._gpu_cache.labels(name).set_function(usage)

    def observe_max_tokens(self, max_tokens: int) -> None:
        self._max_tokens_param.labels(self._m).observe(max_tokens)

    def on_embedding(self, prompt_tokens: int) -> None:
        """A pooling request: its tokens count as prefill, and it succeeds at once."""
        self._prompt_tokens.labels(self._m).inc(prompt_tokens)
        self._success.labels(self._m, "stop").inc()

    # -- EngineObserver -----------------------------------------------------------------------

    def on_first_token(self, seq: SimSequence, now: float) -> None:
        name = self._m
        self._prompt_tokens.labels(name).inc(seq.prompt_tokens)
        if seq.allocation is not None:
            self._cache_queries.labels(name).inc(seq.prompt_tokens)
            self._cache_hits.labels(name).inc(seq.cached_tokens)
        self._generation_tokens.labels(name).inc()
        self._ttft.labels(name).observe(now - seq.arrived_at)

    def on_token(self, seq: SimSequence, now: float, since_last: float) -> None:
        name = self._m
        self._generation_tokens.labels(name).inc()
        self._itl.labels(name).observe(since_last)
        self._tpot.labels(name).observe(since_last)

    def on_finished(self, seq: SimSequence, now: float) -> None:
        name = self._m
        reason = str(seq.stop_reason or "abort")
        self._success.labels(name, reason).inc()
        if reason == "abort":
            return
        self._e2e.labels(name).observe(now - seq.arrived_at)
        if seq.scheduled_at is not None:
            self._queue.labels(name).observe(seq.scheduled_at - seq.arrived_at)
            self._inference.labels(name).observe(now - seq.scheduled_at)
            if seq.first_token_at is not None:
                self._prefill.labels(name).observe(seq.first_token_at - seq.scheduled_at)
                self._decode.labels(name).observe(now - seq.first_token_at)
        self._req_prompt.labels(name).observe(seq.prompt_tokens)
        self._req_generation.labels(name).observe(seq.emitted)

    def render(self) -> bytes:
        return generate_latest(self.registry)
