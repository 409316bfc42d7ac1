"""`laneway up` restarted under load: the autoscaler keeps its count (its memory is in the
store), and the window of refused connections while the process is away is measured and
printed (not asserted: it depends on the machine), with how long the shutdown took under load
and idle (the gateway stops accepting and finishes what is in flight before the engines stop;
see `laneway.up`).
"""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli"))

from cli_harness import Up

from laneway.api.kinds.deployment import ModelDeployment
from laneway.api.manifest import load_text
from laneway.client import Client
from laneway.testing import soak

AUTOSCALED = {"minReplicas": 1, "maxReplicas": 4, "targetInFlight": 4, "scaleDownStabilization": "60s"}


def _client(up: Up) -> Client:
    token = (up.data_dir / "admin.token").read_text().strip()
    return Client(f"http://127.0.0.1:{up.port}", token, timeout=30)


@pytest.mark.timeout(600)
def test_restart_under_load_keeps_the_autoscaled_count(tmp_path: Path) -> None:
    data = tmp_path / "data"
    up = Up.start(data)
    second: Up | None = None
    load: soak.Load | None = None
    try:
        up.wait_ready()
        with _client(up) as client:
            base = soak.set_up(client, f"http://127.0.0.1:{up.gateway_port}")
            load = soak.Load(base, concurrency=16, stream_share=0.0)
            load.start()
            watch = soak.Soak(client, up.process.pid, load, log=lambda _: None)
            watch.patch({"spec": {"autoscaling": AUTOSCALED}})
            watch.eventually("the autoscaler to scale to 4", lambda: watch.deployment().spec.replicas == 4 and watch.whole(count=4))
            time.sleep(12)  # the autoscaler writes what it remembers at a coarse step (10 s)
            assert watch.deployment().status.autoscaling.history, "a steady recommendation is remembered in status"

        load.phase = "stopping"
        began = time.monotonic()
        up.stop(signal.SIGTERM)
        stopped_in = time.monotonic() - began
        load.phase = "down"
        second = Up.start(data, port=up.port, gateway_port=up.gateway_port)
        second.wait_ready()
        load.phase = "restarted"
        with _client(second) as client:
            watch = soak.Soak(client, second.process.pid, load, log=lambda _: None)
            counts = []
            end = time.monotonic() + 20
            while time.monotonic() < end:
                counts.append(watch.deployment().spec.replicas)
                time.sleep(0.5)
            watch.eventually("the restarted fleet to be whole", lambda: watch.whole(count=4))
            # `apply` of the manifest again, autoscaled and without `replicas`, leaves the count alone;
            # one with `replicas` out of bounds is clamped, and says so.
            (manifest,) = [o for o in load_text(soak.manifests()) if o.kind == "ModelDeployment" and o.name == "chat"]
            assert isinstance(manifest, ModelDeployment)
            spec = manifest.spec.model_dump(by_alias=True, exclude_none=True)
            spec.pop("replicas")
            spec["autoscaling"] = AUTOSCALED
            reapplied = ModelDeployment.model_validate({**manifest.wire(), "spec": spec})
            notes: list[str] = []
            client.apply(reapplied, notes=notes)
            assert watch.deployment().spec.replicas == 4 and not notes
            spec["replicas"] = 10
            client.apply(ModelDeployment.model_validate({**manifest.wire(), "spec": spec}), notes=notes)
            assert watch.deployment().spec.replicas == 4 and "maxReplicas 4" in notes[0]
        load.stop()
        rows = {r.phase: r for r in soak.figures(load.outcomes)}
        refused = [o.at for o in load.outcomes if not o.ok and o.phase in ("stopping", "down", "restarted")]
        window = (max(refused) - min(refused)) if refused else 0.0
        print(f"\nshutdown under load took {stopped_in:.1f}s; refused or failed requests for {window:.1f}s "
              f"({len(refused)} requests) around the restart\n{soak.report(list(rows.values()))}")
        assert min(counts) == 4, f"the autoscaler kept its count across the restart: {counts}"
    finally:
        if load is not None:
            load.stop()
        up.stop()
        if second is not None:
            began = time.monotonic()
            second.stop(signal.SIGTERM)
            print(f"shutdown with no load took {time.monotonic() - began:.1f}s")
    assert not up.leftovers() and (second is None or not second.leftovers())
