"""`laneway logs mr/NAME`: finding a replica's engine logs under the data directory."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from laneway.cli.logs import log_files, logs


def _write(root: Path, ns: str, replica: str, name: str, text: str) -> None:
    folder = root / "logs" / ns / replica
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)


def test_logs_of_one_engine_or_all(tmp_path: Path) -> None:
    _write(tmp_path, "ml", "chat-0", "main-0-standalone-0.log", "main says hi\n")
    _write(tmp_path, "ml", "chat-0", "draft-0-standalone-0.log", "draft says hi\n")
    assert [f.name for f in log_files(tmp_path, "ml", "chat-0", None)] == ["draft-0-standalone-0.log", "main-0-standalone-0.log"]
    assert [f.name for f in log_files(tmp_path, "ml", "chat-0", "main")] == ["main-0-standalone-0.log"]

    one = CliRunner().invoke(logs, ["mr/chat-0", "-n", "ml", "--engine", "main", "--data-dir", str(tmp_path)])
    assert one.exit_code == 0 and one.output == "main says hi\n"
    both = CliRunner().invoke(logs, ["modelreplica/chat-0", "-n", "ml", "--data-dir", str(tmp_path)])
    assert both.exit_code == 0 and "==> draft-0-standalone-0 <==" in both.output and "main says hi" in both.output


def test_tail_keeps_the_last_lines(tmp_path: Path) -> None:
    _write(tmp_path, "default", "m-0", "e-0-standalone-0.log", "".join(f"line {i}\n" for i in range(10)))
    result = CliRunner().invoke(logs, ["m-0", "--tail", "2", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0 and result.output == "line 8\nline 9\n"


def test_missing_logs_and_other_kinds_say_what_to_do(tmp_path: Path) -> None:
    missing = CliRunner().invoke(logs, ["mr/nope", "-n", "ml", "--data-dir", str(tmp_path)])
    assert missing.exit_code == 1 and "no logs of replica ml/nope" in missing.output and "laneway get mr -n ml" in missing.output
    wrong_engine = CliRunner().invoke(logs, ["mr/nope", "--engine", "x", "--data-dir", str(tmp_path)])
    assert "for engine 'x'" in wrong_engine.output
    wrong_kind = CliRunner().invoke(logs, ["md/chat", "--data-dir", str(tmp_path)])
    assert wrong_kind.exit_code == 2 and "write mr/NAME" in wrong_kind.output
    assert "Traceback" not in missing.output + wrong_kind.output


def test_a_negative_tail_is_a_usage_error(tmp_path: Path) -> None:
    _write(tmp_path, "default", "m-0", "e-0-standalone-0.log", "x\n")
    result = CliRunner().invoke(logs, ["m-0", "--tail", "-1", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2 and "--tail" in result.output
