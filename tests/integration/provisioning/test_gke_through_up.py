"""A GKE cluster through a real `laneway up` and the `laneway` command: applied, created in the
fake GKE API by the running controller (with the finalizer on it), deleted with `laneway
delete`, and gone from GKE before the object goes. The up's log never holds the key."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import yaml
from cli_harness import Cli, Up

from laneway.testing.fake_gke import fake_gke

DEADLINE = 150.0  # generous: each step waits for the controller's next reconcile on a loaded machine


def _until(what: str, done: Callable[[], bool], up: Up) -> None:
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        if done():
            return
        time.sleep(0.5)
    raise AssertionError(f"{what} did not happen in {DEADLINE}s:\n{up.output[-3000:]}")


def test_gke_cluster_through_laneway_up(tmp_path: Path) -> None:
    with fake_gke(ticks=1) as gke:
        key_file = json.dumps(gke.service_account_info())
        manifests = [
            {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "gcp", "namespace": "laneway-system"},
             "stringData": {"credentials.json": key_file}},
            {"apiVersion": "laneway.dev/v1alpha1", "kind": "InferenceClass", "metadata": {"name": "l4"}, "spec": {
                "devices": [{"name": "gpu", "driver": "gpu.nvidia.com", "deviceClassName": "gpu.nvidia.com"}],
                "provisioning": {"provider": "GKE", "gke": {"machineType": "g2-standard-8", "accelerator": {"type": "nvidia-l4", "count": 1}}}}},
            {"apiVersion": "laneway.dev/v1alpha1", "kind": "InferenceCluster", "metadata": {"name": "gpu-gke"}, "spec": {
                "cluster": {"source": "GKE", "gke": {"project": "laneway-test", "location": "us-central1", "endpointUrl": gke.url,
                                                      "credentialsSecretRef": {"name": "gcp"}}},
                "nodePools": [{"name": "gpu-l4", "className": "l4", "nodeCount": 1}]}},
        ]
        (tmp_path / "gke.yaml").write_text(yaml.safe_dump_all(manifests))
        up = Up.start(tmp_path / "data", local_cluster=False)
        try:
            up.wait_ready()
            cli = Cli(up.data_dir)
            applied = cli("apply", "-f", str(tmp_path / "gke.yaml"))
            assert applied.exit_code == 0, applied.output

            def cluster() -> dict[str, object]:
                got = cli("get", "inferencecluster", "gpu-gke", "-o", "json")
                return json.loads(got.stdout) if got.exit_code == 0 else {}

            _until("the GKE cluster and its pool running", lambda: gke.node_count("us-central1", "gpu-gke", "gpu-l4") == 1, up)
            stored = cluster()
            assert "laneway.dev/cloud-resources" in stored["metadata"]["finalizers"]  # type: ignore[index]

            deleted = cli("delete", "inferencecluster", "gpu-gke")
            assert deleted.exit_code == 0, deleted.output
            _until("the InferenceCluster gone", lambda: cluster() == {}, up)
            assert gke.cluster_names() == [], "the object went only after GKE deleted the cluster"
            assert gke.refused == []
        finally:
            code = up.stop()
        assert code == 0, up.output
        assert gke.service_account_info()["private_key"].splitlines()[1] not in up.output
