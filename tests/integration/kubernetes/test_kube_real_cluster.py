"""Against a real cluster: run only when LANEWAY_TEST_KUBECONFIG names a kubeconfig file.

    kind create cluster --name laneway --image kindest/node:v1.34.0
    kind get kubeconfig --name laneway > /tmp/laneway-kind.yaml
    LANEWAY_TEST_KUBECONFIG=/tmp/laneway-kind.yaml python -m pytest tests/integration/kubernetes/test_kube_real_cluster.py

See docs/kubernetes.md ("Testing against a real cluster") for the CRDs to install first. The
test applies one small replica (no devices) in `laneway-laneway-e2e`, checks every object
landed and the observation names the Deployment, and deletes everything it created.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from laneway.api.kinds import InferenceCluster, ModelReplica, Secret
from laneway.drivers.kubernetes import kinds
from laneway.drivers.kubernetes.connection import connect
from laneway.drivers.kubernetes.driver import KubernetesDriver
from laneway.drivers.kubernetes.naming import replica_selector, target_namespace
from laneway.store.memory import MemoryStore

KUBECONFIG = os.environ.get("LANEWAY_TEST_KUBECONFIG")
pytestmark = pytest.mark.skipif(not KUBECONFIG, reason="set LANEWAY_TEST_KUBECONFIG to a kubeconfig file to run")


def test_apply_observe_teardown_on_a_real_cluster() -> None:
    text = Path(str(KUBECONFIG)).read_text()
    store = MemoryStore()
    store.create(Secret.model_validate({"metadata": {"name": "real", "namespace": "laneway-system"}, "stringData": {"kubeconfig": text}}))
    cluster = store.create(InferenceCluster.model_validate({
        "metadata": {"name": "real"},
        "spec": {"cluster": {"source": "Existing", "existing": {"secretRef": {"name": "real"}}}},
    }))
    replica = store.create(ModelReplica.model_validate({
        "metadata": {"name": "e2e-0", "namespace": "laneway-e2e", "labels": {"laneway.dev/deployment": "e2e"}},
        "spec": {"clusterName": "real", "engines": [{"name": "sim", "members": [{"template": {"spec": {"containers": [
            {"name": "engine", "image": os.environ.get("LANEWAY_TEST_IMAGE", "registry.k8s.io/e2e-test-images/agnhost:2.53"),
             "args": ["netexec", "--http-port=8000"]}]}}}]}]},
    }))
    assert isinstance(cluster, InferenceCluster) and isinstance(replica, ModelReplica)
    driver = KubernetesDriver(store=store)

    async def scenario() -> None:
        try:
            ok, why = await driver.healthy(cluster)
            if not ok:
                pytest.skip(f"the cluster is not ready for laneway: {why}")
            await driver.apply(replica, cluster)
            seen = await driver.observe(replica)
            assert seen.reason not in ("InvalidManifests", "ApplyFailed", "MissingAPI"), seen.message
        finally:
            await driver.teardown(replica)
            await driver.close()

    asyncio.run(scenario())
    conn = connect(text)
    try:
        namespace = target_namespace("laneway-e2e")
        for resource in (kinds.DEPLOYMENT, kinds.SERVICE, kinds.HTTP_ROUTE):
            assert conn.list(resource, namespace=namespace, selector=replica_selector(replica)) == []
        conn.delete(kinds.NAMESPACE, namespace)
    finally:
        conn.close()
