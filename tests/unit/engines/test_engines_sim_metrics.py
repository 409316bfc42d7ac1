from prometheus_client.parser import text_string_to_metric_families

from laneway.engines.sim.batching import BatchingEngine
from laneway.engines.sim.config import SimConfig
from laneway.engines.sim.metrics import SimMetrics


def samples(metrics: SimMetrics) -> dict[tuple[str, tuple], float]:
    out = {}
    for family in text_string_to_metric_families(metrics.render().decode()):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_vllm_names_exist_from_the_first_scrape():
    config = SimConfig(served_model_names=("m",))
    m = SimMetrics(config)
    m.bind(BatchingEngine(config, clock=lambda: 0.0))
    names = {name for name, _ in samples(m)}
    for expected in ("vllm:num_requests_running", "vllm:num_requests_waiting", "vllm:kv_cache_usage_perc",
                     "vllm:prompt_tokens_total", "vllm:generation_tokens_total",
                     "vllm:request_success_total", "vllm:num_preemptions_total"):
        assert expected in names


def test_engine_activity_shows_in_the_metrics():
    config = SimConfig(served_model_names=("m",), max_num_seqs=1, ttft=0.1, itl=0.01)
    m = SimMetrics(config)
    e = BatchingEngine(config, observer=m, clock=lambda: 0.0)
    m.bind(e)
    e.submit("a", prompt_tokens=5, output=["x", "y"], finish_reason="length", now=0.0)
    e.submit("b", prompt_tokens=5, output=["x"], finish_reason="stop", now=0.0)
    e.advance(0.0)
    s = samples(m)
    label = (("model_name", "m"),)
    assert s[("vllm:num_requests_running", label)] == 1
    assert s[("vllm:num_requests_waiting", label)] == 1
    t = 0.0
    while t is not None:
        t = e.advance(t)
    s = samples(m)
    assert s[("vllm:num_requests_waiting", label)] == 0
    assert s[("vllm:prompt_tokens_total", label)] == 10
    assert s[("vllm:generation_tokens_total", label)] == 3
    assert s[("vllm:time_to_first_token_seconds_count", label)] == 2
    assert s[("vllm:e2e_request_latency_seconds_count", label)] == 2
    assert s[("vllm:request_success_total", (("finished_reason", "length"), ("model_name", "m")))] == 1
    assert s[("vllm:request_queue_time_seconds_sum", label)] > 0
