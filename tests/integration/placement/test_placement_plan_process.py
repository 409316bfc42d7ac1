"""`laneway plan` as a real process: exit codes and JSON on stdout, bounded in time."""

import json
import subprocess
import sys

import yaml

from laneway.api.kinds import InferenceClass, InferenceCluster, ModelDeployment

CMD = [sys.executable, "-c", "from laneway.cli.main import main; main()", "plan"]


def _fleet(tmp_path):
    cls = InferenceClass.model_validate(
        {"metadata": {"name": "h100"}, "spec": {"devices": [{"name": "gpu", "driver": "gpu.nvidia.com", "deviceClassName": "gpu.nvidia.com", "count": 8, "capacity": {"memory": {"value": "80Gi"}}}]}}
    )
    cluster = InferenceCluster.model_validate({"metadata": {"name": "local"}, "spec": {"cluster": {"source": "Local", "local": {}}, "nodePools": [{"name": "gpu", "className": "h100", "nodeCount": 1}]}})
    dep = ModelDeployment.model_validate(
        {
            "metadata": {"name": "llama", "namespace": "ml"},
            "spec": {
                "replicas": 2,
                "template": {"spec": {"engines": [{"name": "main", "members": [{"role": "Standalone", "nodeSelector": {"devices": [{"name": "gpu", "selectors": [{"cel": 'device.capacity["gpu.nvidia.com"].memory.isGreaterThan(quantity("40Gi"))'}]}]}, "template": {"spec": {"containers": [{"name": "engine", "image": "x"}]}}}]}]}},
            },
        }
    )
    docs = [cls.wire(), {k: v for k, v in cluster.wire().items() if k != "status"}, dep.wire()]
    path = tmp_path / "fleet.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    return path


def test_short_plan_exits_zero_with_json(tmp_path):
    done = subprocess.run([*CMD, "-f", str(_fleet(tmp_path)), "-o", "json"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    (d,) = json.loads(done.stdout)["deployments"]
    assert [r["cluster"] for r in d["replicas"]] == ["local"]
    assert d["reasons"] == ["gpu pool in local: needs 1 free node, 0 free"]


def test_missing_file_exits_two(tmp_path):
    done = subprocess.run([*CMD, "-f", str(tmp_path / "nope.yaml")], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "no such file" in done.stderr and "Traceback" not in done.stderr
