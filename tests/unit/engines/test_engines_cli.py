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


def test_a_port_out_of_range_is_a_usage_error_not_a_crash():
    for command in ("sim", "llamacpp"):
        result = CliRunner().invoke(engine, [command, "--port", "99999"])
        assert result.exit_code == 2, result.output
        assert "--port" in result.output and "0<=x<=65535" in result.output


def test_the_engine_module_runs_standalone_as_the_local_driver_starts_it():
    import subprocess

    done = subprocess.run([sys.executable, "-m", "laneway.cli.engine", "sim", "--itl", "0"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "--itl" in done.stderr and "Traceback" not in done.stderr
    usage = subprocess.run([sys.executable, "-m", "laneway.cli.engine", "sim", "--port", "-1"],
                           capture_output=True, text=True, timeout=60)
    assert usage.returncode == 2 and "laneway engine sim" in usage.stderr


def test_an_unexpected_error_is_one_line_without_a_traceback(monkeypatch, capsys):
    import pytest

    from laneway.cli import engine as engine_cli

    def boom(*_args, **_kwargs):
        raise RuntimeError("kaboom")

    monkeypatch.delenv("LANEWAY_DEBUG", raising=False)
    monkeypatch.setattr("laneway.engines.sim.serve_sim", boom)
    with pytest.raises(SystemExit) as exited:
        engine_cli.run_standalone(["sim", "--port", "0"])
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert "internal error: RuntimeError: kaboom" in err and "Traceback" not in err


def test_an_engine_laneway_started_listens_on_loopback_only():
    """Issue #11: a team's `args` must not expose its engine past the gateway's keys and limits."""
    for command in ("sim", "llamacpp"):
        result = CliRunner().invoke(engine, [command, "--host", "0.0.0.0"], env={"LANEWAY_REPLICA": "chat-0"})
        assert result.exit_code == 2, result.output
        assert "listens on 127.0.0.1 only" in result.output
    outside = CliRunner().invoke(engine, ["sim", "--host", "0.0.0.0", "--itl", "0"], env={"LANEWAY_REPLICA": ""})
    assert outside.exit_code == 1 and "--itl" in outside.output, "run by hand, any address is the user's choice"
