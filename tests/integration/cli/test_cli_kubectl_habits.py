"""kubectl habits against a real `laneway up`: `get -w`, `edit`, `delete --all`, `get all`,
`-o jsonpath`, the ENDPOINT of a Ready replica, and the hint for a wrong server address.

The team lane is hostile here: a team token's `delete --all` and `edit` aimed at another
namespace, or an edit that moves its own object into another namespace, must change nothing
there; each attack checks the objects afterwards, not only the exit code.
"""

from __future__ import annotations

import queue
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_harness import Cli, Up, cli_env

MANIFESTS = Path(__file__).parent / "manifests"
TEAM_NS = "habits"
LANE_NS = "team-lane"  # the attack test's team namespace, which only that test fills
OTHER_NS = "other-team"
LINE_TIMEOUT = 60.0

# A deployment placed nowhere (its selector matches no cluster), so no engine starts.
UNPLACED = (MANIFESTS / "team" / "deployment.yaml").read_text()

EDITOR = textwrap.dedent(
    """
    import os, subprocess, sys
    path = sys.argv[1]
    text = open(path).read()
    with open(os.environ["EDIT_LOG"], "a") as log:
        log.write(text + "\\n=====\\n")
    before = os.environ.get("EDIT_BEFORE_SAVE")
    if before:  # another writer changes the object while the editor is open
        subprocess.run(before, shell=True, check=True)
    refused = "The last save was refused" in text
    old = os.environ.get("EDIT_OLD_AGAIN" if refused and "EDIT_OLD_AGAIN" in os.environ else "EDIT_OLD", "")
    new = os.environ.get("EDIT_NEW_AGAIN" if refused and "EDIT_NEW_AGAIN" in os.environ else "EDIT_NEW", "")
    if old:
        text = text.replace(old, new, 1)
    open(path, "w").write(text)
    """
)


def unplaced(name: str, namespace: str, **labels: str) -> str:
    text = UNPLACED.replace("name: tiny\n", f"name: {name}\n", 1).replace("namespace: ml-team", f"namespace: {namespace}")
    if labels:
        text = text.replace("labels: {app: tiny, team: ml}", "labels: {" + ", ".join(f"{k}: {v}" for k, v in labels.items()) + "}")
    return text


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    with Up.running(tmp_path_factory.mktemp("habits") / "data") as instance:
        yield instance


@pytest.fixture
def cli(up: Up, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    monkeypatch.setenv("LANEWAY_CONFIG", str(tmp_path / "config.json"))
    return Cli(up.data_dir)


@pytest.fixture
def editor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """LANEWAY_EDITOR is a script that logs each buffer it is given (the returned path) and
    replaces EDIT_OLD by EDIT_NEW in it."""
    script = tmp_path / "editor.py"
    script.write_text(EDITOR)
    log = tmp_path / "editor.log"
    monkeypatch.setenv("LANEWAY_EDITOR", f"{sys.executable} {script}")
    monkeypatch.setenv("EDIT_LOG", str(log))
    for name in ("EDIT_OLD", "EDIT_NEW", "EDIT_OLD_AGAIN", "EDIT_NEW_AGAIN", "EDIT_BEFORE_SAVE"):
        monkeypatch.delenv(name, raising=False)
    return log


def apply(cli: Cli, text: str) -> None:
    result = cli("apply", "-f", "-", input=text)
    assert result.exit_code == 0, result.output


def jsonpath(cli: Cli, *args: str) -> str:
    result = cli("get", *args, "-o", "jsonpath={.metadata.resourceVersion} {.spec.replicas}")
    assert result.exit_code == 0, result.output
    return result.stdout


def exists(cli: Cli, kind: str, name: str, namespace: str) -> bool:
    result = cli("get", kind, name, "-n", namespace, "-o", "name")
    assert result.exit_code in (0, 1), result.output
    return result.exit_code == 0


class Lines:
    """A subprocess's stdout read line by line on a thread, so waits are bounded."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.seen: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        assert process.stdout is not None
        stdout = process.stdout

        def pump() -> None:
            for line in stdout:
                self._queue.put(line.rstrip("\n"))
            self._queue.put(None)

        threading.Thread(target=pump, daemon=True).start()

    def until(self, *words: str) -> str:
        deadline = time.monotonic() + LINE_TIMEOUT
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                break
            self.seen.append(line)
            if all(w in line for w in words):
                return line
        raise AssertionError(f"no line with {words} in {LINE_TIMEOUT}s; saw: {self.seen}")


def test_get_watch_prints_each_change_and_ctrl_c_exits_cleanly(cli: Cli, up: Up) -> None:
    apply(cli, unplaced("before", "watched"))
    process = subprocess.Popen(
        [sys.executable, "-m", "laneway.cli.main", "get", "md", "-n", "watched", "-w", "--output-watch-events"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env(up.data_dir),
    )
    try:
        lines = Lines(process)
        header = lines.until("EVENT", "NAME", "READY")
        assert lines.until("ADDED", "before").index("before") == header.index("NAME")
        apply(cli, unplaced("during", "watched"))
        lines.until("ADDED", "during")
        assert cli("scale", "md", "during", "--replicas", "2", "-n", "watched").exit_code == 0
        lines.until("MODIFIED", "during", "0/2")
        assert cli("delete", "md", "during", "-n", "watched").exit_code == 0
        lines.until("DELETED", "during")
        process.send_signal(signal.SIGINT)  # what Ctrl-C sends
        code = process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    stderr = process.stderr.read() if process.stderr else ""
    assert code == 0, stderr
    assert "Traceback" not in stderr and "Aborted" not in stderr, stderr
    assert not any("before" in line and "ADDED" in line for line in lines.seen[2:]), "the listed object is not printed twice"


def test_get_watch_of_one_named_object_in_json(cli: Cli, up: Up) -> None:
    apply(cli, unplaced("one", "watched-json"))
    apply(cli, unplaced("another", "watched-json"))
    process = subprocess.Popen(
        [sys.executable, "-m", "laneway.cli.main", "get", "md/one", "-n", "watched-json", "-w", "-o", "name",
         "--output-watch-events"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env(up.data_dir),
    )
    try:
        lines = Lines(process)
        lines.until("ADDED modeldeployment/one")
        assert cli("scale", "md", "another", "--replicas", "3", "-n", "watched-json").exit_code == 0
        assert cli("scale", "md", "one", "--replicas", "3", "-n", "watched-json").exit_code == 0
        lines.until("MODIFIED modeldeployment/one")
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    assert not any("another" in line for line in lines.seen), "the field selector follows the named object only"


def test_edit_writes_what_was_saved_and_nothing_when_unchanged(cli: Cli, editor: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    apply(cli, unplaced("edited", TEAM_NS))
    version, replicas = jsonpath(cli, "md/edited", "-n", TEAM_NS).split()
    unchanged = cli("edit", "md/edited", "-n", TEAM_NS)
    assert unchanged.exit_code == 0 and "no changes made" in unchanged.output, unchanged.output
    assert jsonpath(cli, "md/edited", "-n", TEAM_NS).split() == [version, replicas], "an unchanged save writes nothing"

    monkeypatch.setenv("EDIT_OLD", "\nstatus:\n  observedGeneration: ")
    monkeypatch.setenv("EDIT_NEW", "\nstatus:\n  observedGeneration: 9")  # 1 becomes 91
    status_only = cli("edit", "md", "edited", "-n", TEAM_NS)
    assert status_only.exit_code == 0 and "only status changed" in status_only.output, status_only.output
    assert jsonpath(cli, "md/edited", "-n", TEAM_NS).split() == [version, replicas]

    monkeypatch.setenv("EDIT_OLD", "  replicas: 1\n")
    monkeypatch.setenv("EDIT_NEW", "  replicas: 3\n")
    edited = cli("edit", "md", "edited", "-n", TEAM_NS)
    assert edited.exit_code == 0, edited.output
    assert "modeldeployment/edited edited" in edited.output
    assert jsonpath(cli, "md/edited", "-n", TEAM_NS).split()[1] == "3"
    assert "# Edit the object below" in editor.read_text() and "kind: ModelDeployment" in editor.read_text()


def test_edit_reopens_with_the_reasons_until_the_save_is_valid(cli: Cli, editor: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    apply(cli, unplaced("fixed", TEAM_NS))
    monkeypatch.setenv("EDIT_OLD", "  replicas: 1\n")
    monkeypatch.setenv("EDIT_NEW", "  replicas: -1\n")
    monkeypatch.setenv("EDIT_OLD_AGAIN", "  replicas: -1\n")
    monkeypatch.setenv("EDIT_NEW_AGAIN", "  replicas: 2\n")
    result = cli("edit", "md/fixed", "-n", TEAM_NS)
    assert result.exit_code == 0, result.output
    rounds = editor.read_text().split("=====")
    assert len([r for r in rounds if r.strip()]) == 2, "opened twice"
    second = rounds[1]
    assert "The last save was refused" in second and "spec.replicas" in second
    assert "replicas: -1" in second, "the user's own text is kept for the second try"
    line = int(second.split("(line ")[1].split(")")[0])
    assert second.lstrip("\n").splitlines()[line - 1].strip() == "replicas: -1", "the line number is the line shown"
    assert jsonpath(cli, "md/fixed", "-n", TEAM_NS).split()[1] == "2"


def test_edit_conflict_keeps_the_other_writer_and_the_users_file(cli: Cli, editor: Path, monkeypatch: pytest.MonkeyPatch, up: Up) -> None:
    apply(cli, unplaced("raced", TEAM_NS))
    monkeypatch.setenv(
        "EDIT_BEFORE_SAVE",
        f"{sys.executable} -m laneway.cli.main --data-dir {up.data_dir} scale md raced --replicas 7 -n {TEAM_NS}",
    )
    monkeypatch.setenv("EDIT_OLD", "  replicas: 1\n")
    monkeypatch.setenv("EDIT_NEW", "  replicas: 4\n")
    result = cli("edit", "md/raced", "-n", TEAM_NS)
    assert result.exit_code == 1, result.output
    assert "was changed on the server after you opened it" in result.output
    assert jsonpath(cli, "md/raced", "-n", TEAM_NS).split()[1] == "7", "the other writer's change stands"
    kept = Path(result.output.split("your edit is kept in ")[1].split(":")[0].strip())
    assert kept.exists() and "replicas: 4" in kept.read_text()
    kept.unlink()


def test_team_token_cannot_edit_or_delete_outside_its_namespace(cli: Cli, editor: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    apply(cli, unplaced("theirs", OTHER_NS, app="x"))
    apply(cli, unplaced("mine", LANE_NS, app="x"))
    apply(cli, unplaced("mine-too", LANE_NS, app="y"))
    token = cli("token", "create", "--role", "team", "--namespace", LANE_NS).stdout.strip()
    theirs_before = jsonpath(cli, "md/theirs", "-n", OTHER_NS)

    opened = cli("edit", "md/theirs", "-n", OTHER_NS, token=token)
    assert opened.exit_code == 1 and "Forbidden" in opened.output, opened.output
    assert not editor.exists(), "nothing of another namespace reaches the editor"

    monkeypatch.setenv("EDIT_OLD", f"namespace: {LANE_NS}")
    monkeypatch.setenv("EDIT_NEW", f"namespace: {OTHER_NS}")
    moved = cli("edit", "md/mine", "-n", LANE_NS, token=token)
    assert moved.exit_code == 1 and "metadata.namespace cannot be changed" in editor.read_text(), moved.output
    Path(moved.output.split("your edit is kept in ")[1].strip()).unlink()
    assert not exists(cli, "md", "mine", OTHER_NS), "an edit never writes another namespace"

    for attack in (("delete", "md", "--all", "-n", OTHER_NS), ("delete", "md", "-l", "app=x", "-n", OTHER_NS)):
        refused = cli(*attack, token=token)
        assert refused.exit_code == 1 and "Forbidden" in refused.output, (attack, refused.output)
        assert "deleted" not in refused.output
    assert jsonpath(cli, "md/theirs", "-n", OTHER_NS) == theirs_before, "nothing in the other namespace changed"

    own = cli("delete", "md", "--all", token=token)  # the token's only namespace is the default
    assert own.exit_code == 0, own.output
    assert "modeldeployment/mine deleted" in own.output and "modeldeployment/mine-too deleted" in own.output
    assert "theirs" not in own.output and exists(cli, "md", "theirs", OTHER_NS)
    for name in ("mine", "mine-too"):
        assert cli("wait", "md", name, "-n", LANE_NS, "--for=delete", "--timeout", "60s").exit_code == 0
    nothing = cli("delete", "md", "--all", token=token)
    assert nothing.exit_code == 0 and f"No resources found in namespace '{LANE_NS}'" in nothing.output


def test_delete_by_selector_and_by_several_names(cli: Cli) -> None:
    for name, app in (("a", "keep"), ("b", "drop"), ("c", "drop"), ("d", "keep"), ("e", "keep")):
        apply(cli, unplaced(name, "deletions", app=app))
    dropped = cli("delete", "md", "-l", "app=drop", "-n", "deletions")
    assert dropped.exit_code == 0 and sorted(dropped.stdout.split("\n")[:2]) == [
        "modeldeployment/b deleted", "modeldeployment/c deleted"
    ], dropped.output
    named = cli("delete", "md", "a", "d", "-n", "deletions")
    assert named.exit_code == 0 and named.stdout.count("deleted") == 2
    slashed = cli("delete", "md/e", "-n", "deletions")
    assert slashed.exit_code == 0 and "modeldeployment/e deleted" in slashed.output
    assert cli("get", "md", "-n", "deletions", "-o", "name").stdout == ""
    both = cli("delete", "md", "x", "--all", "-n", "deletions")
    assert both.exit_code == 2 and both.output.startswith("error: name objects or use --all")


def test_ready_replica_shows_its_endpoint_and_get_all_lists_the_namespace(cli: Cli) -> None:
    applied = cli("apply", "-f", str(MANIFESTS / "local-engine.yaml"))
    assert applied.exit_code == 0, applied.output
    ready = cli("wait", "md", "local-sim", "-n", "ml-team", "--for=condition=ReplicasReady", "--timeout", "90s")
    assert ready.exit_code == 0, ready.output
    deadline = time.monotonic() + LINE_TIMEOUT
    url = ""
    while time.monotonic() < deadline and not url.startswith("http://"):
        url = cli("get", "mr", "-n", "ml-team", "-o", "jsonpath={.items[0].status.endpoint}").stdout
        time.sleep(0.2)
    assert url.startswith("http://127.0.0.1:"), url
    wide = cli("get", "mr", "-n", "ml-team", "-o", "wide").stdout.splitlines()
    assert "ENDPOINT" in wide[0] and url in wide[1], wide
    everything = cli("get", "all", "-n", "ml-team")
    assert everything.exit_code == 0, everything.output
    for ref in ("modeldeployment/local-sim", "modelreplica/local-sim-", "modelendpoint/local-sim-"):
        assert ref in everything.stdout, everything.stdout
    names = cli("get", "all", "-n", "ml-team", "-o", "name").stdout.splitlines()
    assert "modeldeployment/local-sim" in names and all("/" in n for n in names)
    assert cli("delete", "md", "local-sim", "-n", "ml-team").exit_code == 0
    gone = cli("wait", "md", "local-sim", "-n", "ml-team", "--for=delete", "--timeout", "60s")
    assert gone.exit_code == 0, gone.output


def test_the_gateway_port_or_a_dead_port_gets_the_way_to_point_the_cli(cli: Cli, up: Up) -> None:
    gateway = cli("--server", f"http://127.0.0.1:{up.gateway_port}", "get", "md")
    assert gateway.exit_code == 1
    assert "like laneway's OpenAI-compatible gateway" in gateway.output and "the address came from --server" in gateway.output
    assert "LANEWAY_SERVER=http://HOST:PORT" in gateway.output and "Traceback" not in gateway.output
    dead = subprocess.run(
        [sys.executable, "-m", "laneway.cli.main", "--server", "http://127.0.0.1:9", "get", "md"],
        env=cli_env(up.data_dir), capture_output=True, text=True, timeout=60,
    )
    assert dead.returncode == 1 and "cannot reach the laneway API at http://127.0.0.1:9" in dead.stderr
    assert "the address came from --server" in dead.stderr and "Traceback" not in dead.stderr


def test_a_context_names_the_server(cli: Cli, up: Up, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Elsewhere (a data directory with no server.json), a context's server is where the CLI goes;
    the admin token is given explicitly, since contexts hold none."""
    token = (up.data_dir / "admin.token").read_text().strip()
    apply(cli, unplaced("by-context", "ctx-ns"))
    away = Cli(tmp_path / "elsewhere")
    assert away("get", "md", "-n", "ctx-ns").exit_code == 1, "no server found before the context"
    made = away("config", "set-context", "fleet", "--server", f"127.0.0.1:{up.port}", "--namespace", "ctx-ns")
    assert made.exit_code == 0, made.output
    assert away("config", "use-context", "fleet").exit_code == 0
    listed = away("get", "md", "-o", "name", token=token)
    assert listed.exit_code == 0 and listed.stdout.strip() == "modeldeployment/by-context", listed.output
    moved = away("config", "set-context", "fleet", "--server", f"http://127.0.0.1:{up.gateway_port}")
    assert moved.exit_code == 0
    wrong = away("get", "md", token=token)
    assert wrong.exit_code == 1 and "the current context 'fleet'" in wrong.output and "gateway" in wrong.output
    contexts = away("config", "get-contexts").stdout
    assert "ctx-ns" in contexts and f"http://127.0.0.1:{up.gateway_port}" in contexts, "set-context kept the namespace"


def test_get_watch_ends_with_one_message_when_the_server_stops(tmp_path: Path) -> None:
    own = Up.start(tmp_path / "data", local_cluster=False)
    try:
        own.wait_ready()
        process = subprocess.Popen(
            [sys.executable, "-m", "laneway.cli.main", "get", "ic", "-w"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env(own.data_dir),
        )
        assert process.stderr is not None
        first = process.stderr.readline()  # the list is done (nothing in it); the watch follows
        assert own.stop() == 0, own.output
        try:
            _, rest = process.communicate(timeout=60)
            stderr = first + rest
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate(timeout=10)
            raise AssertionError("get -w did not end when its server stopped") from None
    finally:
        own.stop()
    assert process.returncode == 1
    assert "the server stopped answering" in stderr and "Traceback" not in stderr, stderr
