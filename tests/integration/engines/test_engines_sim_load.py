"""Load beyond --max-num-seqs queues, and the queue shows in /metrics under vLLM's names."""

from __future__ import annotations

import asyncio

import httpx
import openai
from engines_helpers import engine_process, wait_until  # type: ignore[import-not-found]

CONCURRENT = 6
SLOTS = 2


def test_requests_beyond_max_num_seqs_wait_in_the_queue(tmp_path):
    args = ["sim", "--max-num-seqs", str(SLOTS), "--ttft", "0.01", "--itl", "0.02", "--max-tokens", "25"]
    with engine_process(args, tmp_path) as sim:
        seen = {"running": 0.0, "waiting": 0.0}

        async def load() -> list[int]:
            client = openai.AsyncOpenAI(base_url=f"{sim.url}/v1", api_key="x", max_retries=0, timeout=60)
            try:
                async def one(i: int) -> int:
                    stream = await client.chat.completions.create(
                        model="laneway-sim", messages=[{"role": "user", "content": f"request {i}"}],
                        stream=True, stream_options={"include_usage": True})
                    usage = 0
                    async for chunk in stream:
                        if chunk.usage:
                            usage = chunk.usage.completion_tokens
                    return usage

                async def watch() -> None:
                    async with httpx.AsyncClient() as http:
                        while True:
                            text = (await http.get(f"{sim.url}/metrics")).text
                            for line in text.splitlines():
                                for key in seen:
                                    if line.startswith(f"vllm:num_requests_{key}{{"):
                                        seen[key] = max(seen[key], float(line.rsplit(" ", 1)[1]))
                            await asyncio.sleep(0.02)

                watcher = asyncio.create_task(watch())
                try:
                    return await asyncio.gather(*(one(i) for i in range(CONCURRENT)))
                finally:
                    watcher.cancel()
            finally:
                await client.close()

        usages = asyncio.run(asyncio.wait_for(load(), 60))
        assert usages == [25] * CONCURRENT
        assert seen["running"] == SLOTS
        assert seen["waiting"] >= 1
        assert sim.metric("vllm:num_requests_running") == 0
        assert sim.metric("vllm:num_requests_waiting") == 0
        assert sim.metric("vllm:time_to_first_token_seconds_count") == CONCURRENT
        assert sim.metric("vllm:e2e_request_latency_seconds_count") == CONCURRENT
        assert sim.metric("vllm:generation_tokens_total") == 25 * CONCURRENT
        assert sim.metric("vllm:prompt_tokens_total") > 0
        assert sim.metric("vllm:request_success_total", finished_reason="stop") == CONCURRENT
        # Those that waited spent time in the queue: the histogram's sum is not zero.
        assert sim.metric("vllm:request_queue_time_seconds_sum") > 0


def test_a_client_that_disconnects_frees_its_slot(tmp_path):
    args = ["sim", "--max-num-seqs", "1", "--ttft", "0.01", "--itl", "0.01", "--max-tokens", "3000",
            "--max-model-len", "8192"]
    with engine_process(args, tmp_path) as sim:
        body = {"model": "laneway-sim", "messages": [{"role": "user", "content": "long"}], "stream": True}
        with httpx.Client(timeout=30) as http:
            with http.stream("POST", f"{sim.url}/v1/chat/completions", json=body) as r:
                assert r.status_code == 200
                lines = r.iter_lines()  # keep the iterator: dropping it closes the response
                next(lines)  # the stream has started: the one slot is taken
                assert sim.metric("vllm:num_requests_running") == 1
        # The client is gone; the engine notices on its next write and aborts the sequence.
        wait_until(lambda: sim.metric("vllm:num_requests_running") == 0, timeout=20, what="the slot to free")
        assert sim.metric("vllm:request_success_total", finished_reason="abort") == 1
        # A non-streamed request whose client times out frees its slot too.
        try:
            httpx.post(f"{sim.url}/v1/chat/completions", timeout=0.5,
                       json={"model": "laneway-sim", "messages": [{"role": "user", "content": "x"}]})
        except httpx.TimeoutException:
            pass
        wait_until(lambda: sim.metric("vllm:request_success_total", finished_reason="abort") == 2,
                   timeout=20, what="the second abort")
        r = httpx.post(f"{sim.url}/v1/chat/completions", timeout=20,
                       json={"model": "laneway-sim", "max_tokens": 2, "messages": [{"role": "user", "content": "x"}]})
        assert r.status_code == 200 and r.json()["usage"]["completion_tokens"] == 2
