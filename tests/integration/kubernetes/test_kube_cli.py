"""`laneway render` and `laneway cluster check` as a user runs them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner
from kube_fleet import EXAMPLES, prepare_cluster

from laneway.api.kinds import InferenceCluster, ModelReplica
from laneway.api.meta import Resource
from laneway.cli import render as render_module
from laneway.cli.main import main
from laneway.client import ResourceList
from laneway.testing.fake_kube import FakeKube


def test_render_offline_prints_a_stream_with_target_clusters() -> None:
    result = CliRunner().invoke(main, ["render", "-f", str(EXAMPLES / "platform.yaml"), "-f", str(EXAMPLES / "standalone.yaml")])
    assert result.exit_code == 0, result.output
    docs = [d for d in yaml.safe_load_all(result.output) if d]
    targets = {d["metadata"]["annotations"]["laneway.dev/target-cluster"] for d in docs}
    assert targets == {"gpu-eu", "gpu-us"}
    assert sum(1 for d in docs if d["kind"] == "Deployment") == 2


def test_render_to_dir_writes_one_file_per_object(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["render", "-f", str(EXAMPLES), "--to-dir", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "gpu-eu" / "laneway-ml-team" / "leaderworkerset-llama-405b-0-vllm.yaml").exists()
    assert (tmp_path / "out" / "gpu-us" / "_cluster" / "namespace-laneway-ml-team.yaml").exists()


def test_render_usage_errors_are_one_line() -> None:
    result = CliRunner().invoke(main, ["render"])
    assert result.exit_code == 2 and "nothing to render" in result.output
    result = CliRunner().invoke(main, ["render", "svc/x", "--server", "http://127.0.0.1:9"])
    assert result.exit_code == 2


class _StubClient:
    def __init__(self, replicas: list[ModelReplica], clusters: list[InferenceCluster]) -> None:
        self.replicas = {r.name: r for r in replicas}
        self.clusters = {c.name: c for c in clusters}

    def get(self, kind: type[Resource] | str, name: str, *, namespace: str | None = None) -> Any:
        kind = kind if isinstance(kind, str) else kind.KIND
        return {"ModelReplica": self.replicas, "InferenceCluster": self.clusters}.get(kind, {"qwen-7b": object()}).get(name)

    def list(self, kind: type[Resource] | str, *, namespace: str | None = None, label_selector: str | None = None) -> ResourceList:
        return ResourceList(items=list(self.replicas.values()), resource_version="1")


def test_render_online_replica_and_deployment(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "unit" / "kubernetes"))
    from kube_samples import cluster, replica

    r0, r1 = replica("qwen-7b", 0), replica("qwen-7b", 1)
    stub = _StubClient([r0, r1], [cluster("gpu-eu"), cluster("gpu-us")])
    monkeypatch.setattr(render_module, "open_client", lambda ctx: stub)
    result = CliRunner().invoke(main, ["render", "mr/qwen-7b-0", "-n", "ml-team"])
    assert result.exit_code == 0, result.output
    assert {d["metadata"]["annotations"]["laneway.dev/target-cluster"] for d in yaml.safe_load_all(result.output) if d} == {r0.spec.cluster_name}
    result = CliRunner().invoke(main, ["render", "md/qwen-7b", "-n", "ml-team"])
    assert result.exit_code == 0, result.output
    assert sum(1 for d in yaml.safe_load_all(result.output) if d and d["kind"] == "Deployment") == 2


def test_cluster_check_against_fake_clusters(tmp_path: Path) -> None:
    with FakeKube(name="gpu-eu") as good, FakeKube(name="old", version="1.33", dra=False) as old:
        prepare_cluster(good)
        prepare_cluster(old, crds=False)
        for fake, code in ((good, 0), (old, 1)):
            kubeconfig = tmp_path / f"{fake.name}.yaml"
            kubeconfig.write_text(fake.kubeconfig())
            result = CliRunner().invoke(
                main, ["cluster", "check", "gpu-eu", "-f", str(EXAMPLES / "platform.yaml"), "--kubeconfig", str(kubeconfig)]
            )
            assert result.exit_code == code, result.output
        assert "FAIL  leaderworkerset.x-k8s.io/v1" in result.output
        assert "kubectl apply --server-side" in result.output
        assert "1.33 is older than 1.34" in result.output


def test_render_online_includes_the_cache_claim_and_job_never_a_secret(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import sys

    from laneway.api.kinds import ModelCache
    from laneway.client import ApiError

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "unit" / "kubernetes"))
    from kube_samples import cluster, replica

    rag = replica("qwen-rag", 0)
    cache = ModelCache.model_validate({"metadata": {"name": "qwen-weights", "namespace": "ml-team"}, "spec": {
        "source": "HTTP", "http": {"url": "https://example.com/m.gguf", "authSecret": {"name": "tok", "key": "t"}}}})

    class WithCache(_StubClient):
        present = True

        def get(self, kind: str, name: str, *, namespace: str | None = None) -> Any:
            if kind == "ModelCache":
                if not self.present:
                    raise ApiError(code=404, reason="NotFound", message="not found")
                return cache
            return super().get(kind, name, namespace=namespace)

    stub = WithCache([rag], [cluster(rag.spec.cluster_name)])
    monkeypatch.setattr(render_module, "open_client", lambda ctx: stub)
    result = CliRunner().invoke(main, ["render", "mr/qwen-rag-0", "-n", "ml-team"])
    assert result.exit_code == 0, result.output
    kinds = [d["kind"] for d in yaml.safe_load_all(result.output) if d]
    assert kinds[:3] == ["Namespace", "PersistentVolumeClaim", "Job"] and "Secret" not in kinds
    stub.present = False
    result = CliRunner().invoke(main, ["render", "mr/qwen-rag-0", "-n", "ml-team"])
    assert result.exit_code == 0, result.output
    assert "PersistentVolumeClaim" not in result.output


def test_cluster_check_reads_the_kubeconfig_secret_from_a_postgres_store(postgres_dsn: str, tmp_path: Path) -> None:
    from laneway.api.kinds.secret import Secret
    from laneway.store.postgres import PostgresStore

    with FakeKube(name="gpu-eu") as good:
        prepare_cluster(good)
        store = PostgresStore(postgres_dsn)
        try:
            store.create(Secret.model_validate({
                "metadata": {"name": "gpu-eu-kubeconfig", "namespace": "laneway-system"},
                "stringData": {"kubeconfig": good.kubeconfig()},
            }))
        finally:
            store.close()
        # The platform's manifests without their placeholder Secret: the kubeconfig comes from the store.
        docs = [d for d in yaml.safe_load_all((EXAMPLES / "platform.yaml").read_text()) if d and d["kind"] != "Secret"]
        manifests = tmp_path / "platform.yaml"
        manifests.write_text(yaml.safe_dump_all(docs))
        args = ["cluster", "check", "gpu-eu", "-f", str(manifests), "--store"]
        result = CliRunner().invoke(main, [*args, postgres_dsn])
        assert result.exit_code == 0, result.output
        assert "laneway-system/gpu-eu-kubeconfig" in result.output
        elsewhere = postgres_dsn.rsplit("/", 1)[0] + "/no_such_database"
        missing = CliRunner().invoke(main, [*args, elsewhere])
        assert missing.exit_code == 1 and "no_such_database" in missing.output and "Traceback" not in missing.output
