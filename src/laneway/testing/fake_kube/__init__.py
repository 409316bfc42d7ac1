"""A fake Kubernetes API server for tests: loopback, in memory, driven with the official client.

    with FakeKube(name="eu") as eu:
        secret_text = eu.kubeconfig()
        ...

See `state.py` for what it models faithfully and what it does not.
"""

from laneway.testing.fake_kube.server import FakeKube
from laneway.testing.fake_kube.state import ApiFailure, ClusterState

__all__ = ["ApiFailure", "ClusterState", "FakeKube"]
