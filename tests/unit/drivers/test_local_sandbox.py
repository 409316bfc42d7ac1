"""How an engine is confined (issue #11, attacks 1 and 2): environment scrubbing, the bwrap
command line, the launch without bwrap, and the bounded log tail a status may carry."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from laneway.drivers.local import sandbox
from laneway.drivers.local.sandbox import (
    Confinement,
    bwrap_argv,
    engine_environment,
    engine_launch,
    engine_uid,
)
from laneway.drivers.local.supervisor import bounded_tail

DATA = Path("/srv/laneway-data")
HOME = Path("/root")
WORK = DATA / "engines" / "uid-1" / "main-0-standalone-0"


def _confinement(*, uid: int | None = 65534, bwrap: str | None = "/usr/bin/bwrap") -> Confinement:
    return Confinement(
        bwrap=bwrap, setpriv="/usr/bin/setpriv" if uid is not None else None, uid=uid, hidden=(DATA, HOME),
        needed=(Path("/root/.pyenv/versions/3.11.7"), Path("/usr/lib/python3")), devices=(Path("/dev/nvidia0"),),
    )


def test_the_environment_is_the_minimal_base_and_the_spec_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "canary")
    monkeypatch.setenv("LANEWAY_TOKEN", "canary")
    env = engine_environment({"LANEWAY_PORT": "9000", "HF_HOME": "/models"}, workdir=WORK, python_path="/src")
    assert env == {
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(WORK),
        "LANG": "C.UTF-8",
        "PYTHONPATH": "/src",
        "LANEWAY_PORT": "9000",
        "HF_HOME": "/models",
    }
    assert "canary" not in env.values()


def _pairs(argv: list[str], flag: str) -> list[str]:
    return [argv[i + 1] for i, a in enumerate(argv) if a == flag]


def test_bwrap_hides_the_data_dir_and_home_and_binds_back_only_what_the_engine_needs() -> None:
    argv = bwrap_argv(_confinement(), argv=["/venv/bin/python", "-m", "laneway.cli.engine", "sim"],
                      env={"HOME": str(WORK), "LANEWAY_PORT": "9000"}, workdir=WORK, read_only=[DATA / "cache" / "local" / "ml" / "c"])
    joined = " ".join(argv)
    assert argv[0] == "/usr/bin/bwrap" and "--die-with-parent" in argv and "--unshare-pid" in argv
    assert "--unshare-user" not in argv, "as root the sandbox is set up by root, and setpriv drops the user inside"
    assert joined.index("--ro-bind / /") < joined.index(f"--tmpfs {HOME}") < joined.index(f"--tmpfs {DATA}")
    assert "--perms 1777 --tmpfs /tmp" in joined
    assert "--dev /dev" in joined and "--dev-bind-try /dev/nvidia0 /dev/nvidia0" in joined
    # what the engine needs inside hidden places comes back read-only, with traversable parents
    assert "--perms 0711 --dir /root/.pyenv --perms 0711 --dir /root/.pyenv/versions" in joined
    assert "--ro-bind /root/.pyenv/versions/3.11.7 /root/.pyenv/versions/3.11.7" in joined
    assert "/usr/lib/python3" not in joined, "paths outside hidden places are visible already"
    assert f"--bind {WORK} {WORK}" in joined and f"--chdir {WORK}" in joined
    assert f"--ro-bind-try {DATA}/cache/local/ml/c {DATA}/cache/local/ml/c" in joined
    assert joined.index(f"--tmpfs {DATA}") < joined.index(f"--bind {WORK}")
    # the environment is set inside, after clearing, and the user dropped before the engine runs
    assert "--clearenv" in argv and _pairs(argv, "--setenv") == ["HOME", "LANEWAY_PORT"]
    tail = argv[argv.index("--") + 1:]
    assert tail == ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--no-new-privs",
                    "--inh-caps=-all", "--bounding-set=-all", "--", "/venv/bin/python", "-m", "laneway.cli.engine", "sim"]


def test_without_root_bwrap_uses_a_user_namespace_and_no_setpriv() -> None:
    argv = bwrap_argv(_confinement(uid=None), argv=["engine"], env={}, workdir=WORK)
    assert "--unshare-user" in argv and "/usr/bin/setpriv" not in argv and argv[-2:] == ["--", "engine"]


def test_a_data_dir_under_tmp_is_made_inside_the_private_tmp() -> None:
    data = Path("/tmp/pytest-of-root/x/data")
    c = Confinement(bwrap="/usr/bin/bwrap", setpriv=None, uid=None, hidden=(data,), needed=())
    joined = " ".join(bwrap_argv(c, argv=["e"], env={}, workdir=data / "engines" / "u" / "p"))
    assert "--perms 0711 --dir /tmp/pytest-of-root --perms 0711 --dir /tmp/pytest-of-root/x" in joined
    assert f"--tmpfs {data} " in joined and f"--perms 0711 --dir {data}/engines --perms 0711 --dir {data}/engines/u" in joined


def test_the_launch_gives_bwrap_no_environment_and_without_bwrap_drops_the_user() -> None:
    confined = engine_launch(_confinement(), argv=["e"], spec_env={"LANEWAY_REPLICA": "r"}, workdir=WORK)
    assert confined.env == {} and confined.uid is None and confined.sandboxed and confined.cwd == WORK
    weaker = engine_launch(_confinement(bwrap=None), argv=["e"], spec_env={"LANEWAY_REPLICA": "r"}, workdir=WORK)
    assert weaker.argv == ("e",) and weaker.uid == 65534 and not weaker.sandboxed
    assert weaker.env["LANEWAY_REPLICA"] == "r" and weaker.env["HOME"] == str(WORK)


def test_only_a_confinement_that_hides_laneway_data_shows_log_tails() -> None:
    assert _confinement().hides_laneway_data and _confinement(bwrap=None).hides_laneway_data
    assert not _confinement(uid=None, bwrap=None).hides_laneway_data


def test_the_cluster_status_says_how_engines_are_confined() -> None:
    assert _confinement().describe() == "engines run confined by bubblewrap, as uid 65534, with a scrubbed environment"
    weaker = Confinement(bwrap=None, setpriv=None, uid=65534, hidden=(), needed=(), weaker="engines run without a sandbox because x")
    assert weaker.describe() == "engines run without a sandbox because x"


def test_the_engine_uid_is_nobody_unless_the_platform_names_another() -> None:
    assert engine_uid({}) == 65534
    assert engine_uid({"LANEWAY_ENGINE_UID": "1234"}) == 1234
    assert engine_uid({"LANEWAY_ENGINE_UID": "0"}) == 65534
    assert engine_uid({"LANEWAY_ENGINE_UID": "root"}) == 65534


def test_without_bwrap_the_confinement_says_it_is_weaker(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None)
    c = sandbox.detect_confinement(data_dir=tmp_path, work_root=tmp_path / "engines")
    assert c.bwrap is None and "bubblewrap (bwrap) is not installed" in c.weaker
    assert c.uid == (65534 if os.geteuid() == 0 else None)


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed (apt-get install bubblewrap)")
def test_bwrap_here_gives_the_full_confinement(tmp_path: Path) -> None:
    c = sandbox.detect_confinement(data_dir=tmp_path, work_root=tmp_path / "engines")
    assert c.bwrap is not None and c.weaker == "", c.weaker


def test_a_status_log_tail_is_bounded_in_lines_width_and_characters() -> None:
    text = "\n".join(f"line {i} " + "x" * 500 for i in range(50)) + "\n\x1b[31mred\x07"
    tail = bounded_tail(text)
    lines = tail.splitlines()
    assert len(lines) == 10 and all(len(line) <= 200 for line in lines)
    assert lines[0].startswith("line 41 ") and lines[-1] == "?[31mred?"
