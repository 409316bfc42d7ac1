"""Fault injection flags, against the simulator as a real process."""

from __future__ import annotations

import httpx
import openai
import pytest
from engines_helpers import engine_process, wait_until  # type: ignore[import-not-found]

CHAT = {"model": "laneway-sim", "max_tokens": 2, "messages": [{"role": "user", "content": "hi"}]}


def test_error_rate_one_fails_every_inference_request(tmp_path):
    with engine_process(["sim", "--error-rate", "1"], tmp_path) as sim:
        client = openai.OpenAI(base_url=f"{sim.url}/v1", api_key="x", max_retries=0)
        with pytest.raises(openai.InternalServerError, match="injected failure"):
            client.chat.completions.create(**CHAT)
        r = httpx.post(f"{sim.url}/v1/messages", json=CHAT)
        assert r.status_code == 500 and r.json()["error"]["type"] == "api_error"
        assert httpx.get(f"{sim.url}/health").status_code == 200  # health stays good
        client.close()


def test_crash_after_n_answered_requests(tmp_path):
    with engine_process(["sim", "--crash-after", "2"], tmp_path) as sim:
        assert httpx.post(f"{sim.url}/v1/chat/completions", json=CHAT, timeout=10).status_code == 200
        assert sim.process.poll() is None
        r = httpx.post(f"{sim.url}/v1/chat/completions", json=CHAT, timeout=10)
        assert r.status_code == 200 and r.json()["usage"]["completion_tokens"] == 2  # the last answer arrives whole
        assert sim.process.wait(timeout=20) == 3
        assert "--crash-after reached" in sim.output()


def test_slow_start_answers_503_until_ready(tmp_path):
    with engine_process(["sim", "--slow-start", "1.5"], tmp_path, wait_healthy=False) as sim:
        first = httpx.get(f"{sim.url}/health")
        inference = httpx.post(f"{sim.url}/v1/chat/completions", json=CHAT)
        assert first.status_code == 503
        assert inference.status_code == 503 and "starting" in inference.json()["error"]["message"]
        wait_until(lambda: httpx.get(f"{sim.url}/health").status_code == 200, timeout=20, what="health")
        assert httpx.post(f"{sim.url}/v1/chat/completions", json=CHAT, timeout=10).status_code == 200


def test_port_in_use_is_a_clear_error(tmp_path):
    import socket
    import subprocess
    import sys

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = subprocess.run([sys.executable, "-m", "laneway.cli.engine", "sim", "--port", str(port)],
                           capture_output=True, text=True, timeout=30)
    assert r.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in r.stderr and "Traceback" not in r.stderr


def test_wrong_answers_flag_answers_fluently_and_differently(tmp_path):
    from laneway.quality.expect import Expectation, judge

    body = {**CHAT, "max_tokens": 6}
    with engine_process(["sim"], tmp_path) as good:
        golden = httpx.post(f"{good.url}/v1/chat/completions", json=body, timeout=10).json()["choices"][0]["message"]["content"]
        again = httpx.post(f"{good.url}/v1/chat/completions", json=body, timeout=10).json()["choices"][0]["message"]["content"]
    with engine_process(["sim", "--wrong-answers"], tmp_path) as bad:
        r = httpx.post(f"{bad.url}/v1/chat/completions", json=body, timeout=10)
        wrong = r.json()["choices"][0]["message"]["content"]
    assert r.status_code == 200 and r.json()["usage"]["completion_tokens"] == 6
    assert judge(Expectation(exact=golden), again).passed, "a healthy simulator answers a prompt the same way every time"
    assert not judge(Expectation(exact=golden), wrong).passed
