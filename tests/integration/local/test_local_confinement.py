"""The local driver's confinement with real processes, with and without bubblewrap (issue #11,
attacks 1 and 2): what an engine process sees of laneway's environment, data directory and
user, and that a refused container starts nothing.

The driver is used directly (no `laneway up`), with a data directory laid out as `laneway up`
lays it out (mode 0700, an admin token in it) and a cluster whose platform allowed any command,
so the probe below runs as written.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from pathlib import Path

import psutil
import pytest

from laneway.api.kinds.deployment import ModelReplica
from laneway.api.kinds.platform import InferenceCluster
from laneway.drivers.local.driver import LocalDriver
from laneway.drivers.local.sandbox import detect_confinement

PROBE = "id -u; pwd; env; cat {data}/admin.token; ls {data}; sleep 30"


def _cluster(engines: list[dict[str, object]]) -> InferenceCluster:
    return InferenceCluster.model_validate({
        "metadata": {"name": "box"},
        "spec": {"cluster": {"source": "Local", "local": {"engines": engines}}, "nodePools": [{"name": "p", "className": "c"}]},
    })


def _replica(command: list[str]) -> ModelReplica:
    return ModelReplica.model_validate({
        "metadata": {"name": "probe-0", "namespace": "ml-team", "uid": "0f3c1d2e-uid"},
        "spec": {"clusterName": "box", "engines": [{"name": "main", "members": [{
            "nodeSelector": {"devices": [{"name": "cpu"}]},
            "template": {"spec": {"containers": [{"name": "engine", "image": "busybox", "command": command}]}}}]}]},
    })


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    (data / "admin.token").write_text("lw_admin_secret_for_the_test\n")
    (data / "admin.token").chmod(0o600)
    monkeypatch.setenv("SECURITY_CANARY", "canary-in-laneway-env")
    return data


def _run(driver: LocalDriver, cluster: InferenceCluster, replica: ModelReplica, log: Path) -> tuple[str, str]:
    """Apply, wait until the probe printed its last line (or 30 s), observe, tear down."""

    async def go() -> tuple[str, str]:
        await driver.apply(replica, cluster)
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not (log.exists() and "admin.token" in log.read_text(errors="replace")):
                await asyncio.sleep(0.1)
            await asyncio.sleep(0.3)  # the ls after the cat
            observed = await driver.observe(replica)
            return observed.reason, log.read_text(errors="replace") if log.exists() else ""
        finally:
            await driver.teardown(replica)
            await driver.close()

    return asyncio.run(go())


def _check_probe_output(text: str, data: Path, workdir: Path) -> None:
    output = text.split("--- laneway: starting", 1)[1]
    assert "lw_admin_secret_for_the_test" not in output and "canary-in-laneway-env" not in output
    env = dict(line.split("=", 1) for line in output.splitlines() if "=" in line and line.split("=", 1)[0].isidentifier())
    allowed = {"PATH", "HOME", "LANG", "PWD", "SHLVL", "_"}
    assert {k for k in env if not k.startswith(("LANEWAY_", "MODELPLANE_"))} <= allowed, sorted(env)
    assert env["HOME"] == str(workdir)
    if os.geteuid() == 0:
        assert "\n65534\n" in "\n" + output, output[:500]


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed (apt-get install bubblewrap)")
def test_a_sandboxed_engine_sees_an_empty_data_dir_and_none_of_laneway_env(data_dir: Path) -> None:
    driver = LocalDriver(logs_dir=data_dir / "logs", data_dir=data_dir)
    replica = _replica(["sh", "-c", PROBE.format(data=data_dir)])
    log = data_dir / "logs" / "ml-team" / "probe-0" / "main-0-standalone-0.log"
    reason, text = _run(driver, _cluster([{"name": "anything", "allowCommand": True}]), replica, log)
    assert reason in ("EnginesStarting", "EnginesReady")
    workdir = data_dir / "engines" / "0f3c1d2e-uid" / "main-0-standalone-0"
    _check_probe_output(text, data_dir, workdir)
    assert f"cat: {data_dir}/admin.token: No such file or directory" in text
    assert not (data_dir / "engines" / "0f3c1d2e-uid").exists(), "teardown removes the working directory"


def test_without_bwrap_the_engine_is_still_scrubbed_and_dropped(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from laneway.drivers.local import sandbox

    which = shutil.which
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None if name == "bwrap" else which(name))
    confinement = detect_confinement(data_dir=data_dir, work_root=data_dir / "engines")
    assert confinement.bwrap is None and "install bubblewrap" in confinement.weaker
    driver = LocalDriver(logs_dir=data_dir / "logs", data_dir=data_dir, confinement=confinement)
    replica = _replica(["sh", "-c", PROBE.format(data=data_dir)])
    log = data_dir / "logs" / "ml-team" / "probe-0" / "main-0-standalone-0.log"
    _, text = _run(driver, _cluster([{"name": "anything", "allowCommand": True}]), replica, log)
    _check_probe_output(text, data_dir, data_dir / "engines" / "0f3c1d2e-uid" / "main-0-standalone-0")
    if os.geteuid() == 0:
        assert f"cat: {data_dir}/admin.token: Permission denied" in text


def test_a_container_the_cluster_does_not_allow_starts_nothing(data_dir: Path, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    driver = LocalDriver(logs_dir=data_dir / "logs", data_dir=data_dir)
    replica = _replica(["sh", "-c", f"touch {marker}"])

    async def go() -> tuple[str, str, list[int]]:
        await driver.apply(replica, _cluster([{"name": "sim", "command": ["laneway", "engine", "sim"]}]))
        try:
            observed = await driver.observe(replica)
            return observed.reason, observed.message, driver.pids(replica)
        finally:
            await driver.teardown(replica)
            await driver.close()

    reason, message, pids = asyncio.run(go())
    assert reason == "EngineNotAllowed" and pids == [] and not marker.exists()
    assert "allowed engines: sim (any image: laneway engine sim)" in message


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed (apt-get install bubblewrap)")
def test_stopping_an_engine_while_its_sandbox_is_set_up_leaves_nothing_running(data_dir: Path) -> None:
    """Ctrl-C during a start: a bwrap stopped between creating its pid namespace and arming its
    parent-death signal would leave that namespace (and the engine) running."""
    driver = LocalDriver(logs_dir=data_dir / "logs", data_dir=data_dir)
    cluster = _cluster([{"name": "anything", "allowCommand": True}])

    async def go() -> None:
        for delay in (0.0, 0.005, 0.02, 0.05, 0.2):
            replica = _replica(["sh", "-c", "exec sleep 300"])
            await driver.apply(replica, cluster)
            await asyncio.sleep(delay)
            await driver.teardown(replica)
        await driver.close()

    asyncio.run(go())

    def ours() -> list[int]:
        found = []
        for p in psutil.process_iter(["pid", "cmdline", "status"]):
            if p.info["status"] != psutil.STATUS_ZOMBIE and str(data_dir) in " ".join(p.info["cmdline"] or []):
                found.append(p.info["pid"])
        return found

    deadline = time.monotonic() + 10
    while ours() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert ours() == [], "a sandbox outlived the engine's stop"
