import sys

from click.testing import CliRunner

from laneway.cli.engine import engine


def test_sim_refuses_bad_flags_without_a_traceback():
    result = CliRunner().invoke(engine, ["sim", "--itl", "0", "--max-num-seqs", "0"])
    assert result.exit_code == 1
    assert "--itl" in result.output and "--max-num-seqs" in result.output
    assert "Traceback" not in result.output


def test_llamacpp_missing_model_file():
    result = CliRunner().invoke(engine, ["llamacpp", "--model", "/nonexistent/model.gguf"])
    assert result.exit_code == 1 and "is not a file" in result.output


def test_llamacpp_without_the_extra(monkeypatch, tmp_path):
    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF")
    monkeypatch.setitem(sys.modules, "xllamacpp", None)
    result = CliRunner().invoke(engine, ["llamacpp", "--model", str(model)])
    assert result.exit_code == 1 and "pip install" in result.output and "llamacpp" in result.output


def test_help_lists_both_engines():
    result = CliRunner().invoke(engine, ["--help"])
    assert "sim" in result.output and "llamacpp" in result.output
