"""The simulator's prefix cache as a real process: a repeated prefix is a cache hit in its
vLLM metrics, `/kv_events` streams a snapshot then stores and evictions in the format the
gateway's KV index reads, and its `/metrics` parse into the load the gateway scrapes."""

from __future__ import annotations

import httpx
from engines_helpers import engine_process  # type: ignore[import-not-found]

from laneway.gateway.kv_index import KVBlocks, parse_batch
from laneway.gateway.load import parse_load
from laneway.gateway.prefix import block_hashes
from laneway.gateway.request_view import prompt_of


def chat(system: str, question: str) -> dict[str, object]:
    return {"model": "sim-model", "max_tokens": 4,
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": question}]}


def test_prefix_cache_hits_events_and_load(tmp_path) -> None:
    args = ["sim", "--served-model-name", "sim-model", "--ttft", "0.005", "--itl", "0.002", "--kv-blocks", "40",
            "--prefill-per-token", "0.00001"]
    with engine_process(args, tmp_path) as sim, httpx.Client(base_url=sim.url, timeout=30) as c:
        index = KVBlocks()
        with c.stream("GET", "/kv_events") as events:
            lines = events.iter_lines()
            index.apply(parse_batch(next(lines)), now=0.0)
            assert index.synced and not index.blocks
            first = chat("Tenant A's handbook. " * 100, "one")
            assert c.post("/v1/chat/completions", json=first).status_code == 200
            wanted = block_hashes(prompt_of(first).text)
            while index.prefix_hits(wanted) < len(wanted):
                index.apply(parse_batch(next(lines)), now=0.0)
            assert c.post("/v1/chat/completions", json=chat("Tenant A's handbook. " * 100, "two")).status_code == 200
            assert sim.metric("vllm:prefix_cache_hits_total") > 0
            # Other tenants' prompts fill the 40-block cache: A's blocks are evicted, and the index follows.
            for n in range(4):
                assert c.post("/v1/chat/completions", json=chat(f"Tenant {n} other text. " * 100, "x")).status_code == 200
            while index.prefix_hits(wanted) == len(wanted):
                index.apply(parse_batch(next(lines)), now=0.0)
            assert index.synced and index.prefix_hits(wanted) < len(wanted)
        load = parse_load(c.get("/metrics").text, observed_at=1.0)
        assert load.waiting == 0 and load.running == 0 and load.kv_cache_usage == 0.0
        too_big = c.post("/v1/chat/completions", json=chat("abcdefghijklmnopqrstuvwxyz" * 500, "y"))
        assert too_big.status_code == 400 and "KV blocks" in too_big.json()["error"]["message"]


def test_without_a_prefix_cache_kv_events_are_404(tmp_path) -> None:
    with engine_process(["sim", "--served-model-name", "sim-model"], tmp_path) as sim:
        r = httpx.get(f"{sim.url}/kv_events", timeout=10)
        assert r.status_code == 404 and "--kv-blocks" in r.json()["error"]["message"]
