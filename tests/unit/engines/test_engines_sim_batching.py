"""The scheduler, driven by a made-up clock: no sleeping, no timing asserts."""

import asyncio

import pytest

from laneway.engines.sim.batching import BatchingEngine, Phase
from laneway.engines.sim.config import SimConfig


class Recorder:
    def __init__(self):
        self.events = []

    def on_first_token(self, seq, now):
        self.events.append(("first", seq.request_id, now))

    def on_token(self, seq, now, since_last):
        self.events.append(("token", seq.request_id, now))

    def on_finished(self, seq, now):
        self.events.append(("finished", seq.request_id, seq.stop_reason))


def engine(**kw):
    config = SimConfig(**{"ttft": 0.1, "itl": 0.01, **kw})
    rec = Recorder()
    return BatchingEngine(config, observer=rec, clock=lambda: 0.0), rec


def out(n):
    return [f"t{i}" for i in range(n)]


def test_first_token_after_prefill_then_one_token_per_step():
    e, rec = engine()
    s = e.submit("a", prompt_tokens=4, output=out(3), finish_reason="stop", now=0.0)
    assert e.advance(0.0) == pytest.approx(0.1)
    assert s.phase is Phase.PREFILL and s.emitted == 0
    assert e.advance(0.1) == pytest.approx(0.11)
    assert s.emitted == 1 and s.first_token_at == pytest.approx(0.1)
    e.advance(0.11)
    assert s.emitted == 2
    assert e.advance(0.12) is None
    assert s.finished and s.stop_reason == "stop" and s.drain() == out(3)
    assert rec.events[-1] == ("finished", "a", "stop")


def test_prefill_grows_with_the_prompt():
    e, _ = engine(prefill_per_token=0.001)
    e.submit("a", prompt_tokens=100, output=out(2), finish_reason="stop", now=0.0)
    assert e.advance(0.0) == pytest.approx(0.2)


def test_sequences_beyond_max_num_seqs_wait_and_their_ttft_includes_the_queue():
    e, _ = engine(max_num_seqs=1)
    a = e.submit("a", prompt_tokens=1, output=out(2), finish_reason="stop", now=0.0)
    b = e.submit("b", prompt_tokens=1, output=out(2), finish_reason="length", now=0.0)
    e.advance(0.0)
    assert (e.num_running, e.num_waiting) == (1, 1) and b.phase is Phase.WAITING
    e.advance(0.1)
    due = e.advance(0.11)
    assert a.finished
    assert b.scheduled_at == pytest.approx(0.11) and (e.num_running, e.num_waiting) == (1, 0)
    assert due == pytest.approx(0.21)
    e.advance(due)
    assert b.first_token_at - b.arrived_at == pytest.approx(0.21)


def test_one_step_emits_to_every_running_sequence():
    e, _ = engine(max_num_seqs=8)
    seqs = [e.submit(str(i), prompt_tokens=1, output=out(5), finish_reason="stop", now=0.0) for i in range(5)]
    t = e.advance(0.0)
    t = e.advance(t)
    assert {s.emitted for s in seqs} == {1}
    for step in range(1, 4):
        t = e.advance(t)
        assert {s.emitted for s in seqs} == {step + 1}


def test_a_sequence_that_prefills_mid_stream_joins_the_next_step():
    e, _ = engine(max_num_seqs=8)
    a = e.submit("a", prompt_tokens=1, output=out(50), finish_reason="stop", now=0.0)
    e.advance(e.advance(0.0))
    b = e.submit("b", prompt_tokens=1, output=out(5), finish_reason="stop", now=0.105)
    t = e.advance(0.105)
    assert t == pytest.approx(0.11)
    while b.emitted == 0:  # follow the engine's own timer, as `run()` does
        t = e.advance(t)
    assert b.first_token_at == pytest.approx(0.205)  # prefill ends between two steps: first token at once
    assert a.emitted == 11
    e.advance(t)  # and from the next step on, b rides it with everyone else
    assert (a.emitted, b.emitted) == (12, 2)


def test_abort_frees_the_slot_for_the_next_waiting_sequence():
    e, rec = engine(max_num_seqs=1)
    a = e.submit("a", prompt_tokens=1, output=out(100), finish_reason="stop", now=0.0)
    b = e.submit("b", prompt_tokens=1, output=out(1), finish_reason="stop", now=0.0)
    e.advance(0.0)
    e.abort(a, now=0.05)
    assert a.finished and a.stop_reason == "abort"
    e.advance(0.05)
    assert b.phase is Phase.PREFILL and e.num_running == 1
    assert ("finished", "a", "abort") in rec.events


def test_abort_of_a_waiting_sequence_and_of_a_finished_one():
    e, _ = engine(max_num_seqs=1)
    e.submit("a", prompt_tokens=1, output=out(3), finish_reason="stop", now=0.0)
    b = e.submit("b", prompt_tokens=1, output=out(3), finish_reason="stop", now=0.0)
    e.advance(0.0)
    e.abort(b, now=0.01)
    assert e.num_waiting == 0
    e.abort(b, now=0.02)  # idempotent
    assert b.stop_reason == "abort"


def test_idle_engine_has_nothing_due_and_a_late_clock_does_not_burst():
    e, _ = engine()
    assert e.advance(0.0) is None
    s = e.submit("a", prompt_tokens=1, output=out(10), finish_reason="stop", now=0.0)
    e.advance(0.0)
    e.advance(0.1)
    e.advance(5.0)  # the host stalled for seconds: one step, not hundreds
    assert s.emitted == 2


def test_run_streams_tokens_to_an_async_consumer():
    async def main():
        config = SimConfig(ttft=0.001, itl=0.001)
        e = BatchingEngine(config)
        task = asyncio.create_task(e.run())
        try:
            seq = e.submit("a", prompt_tokens=1, output=out(20), finish_reason="stop")
            got = [t async for t in seq.tokens()]
        finally:
            task.cancel()
        return got, seq

    got, seq = asyncio.run(asyncio.wait_for(main(), 10))
    assert got == out(20) and seq.stop_reason == "stop"
