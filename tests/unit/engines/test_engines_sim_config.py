import pytest

from laneway.engines.errors import EngineError
from laneway.engines.sim.config import SimConfig


def test_defaults_are_valid():
    c = SimConfig()
    assert c.model_name == "laneway-sim"


def test_every_problem_is_reported_with_its_flag():
    with pytest.raises(EngineError) as e:
        SimConfig(max_num_seqs=0, itl=0, error_rate=1.5, crash_after=0, ttft=-1)
    text = str(e.value)
    for flag in ("--max-num-seqs", "--itl", "--error-rate", "--crash-after", "--ttft"):
        assert flag in text


def test_max_tokens_must_leave_room_for_a_prompt():
    with pytest.raises(EngineError, match="--max-model-len"):
        SimConfig(max_tokens=100, max_model_len=100)


def test_served_names_must_not_be_empty():
    with pytest.raises(EngineError, match="--served-model-name"):
        SimConfig(served_model_names=("",))
