"""Where a Kubernetes cluster's kubeconfig comes from: one seam, several sources.

The Kubernetes driver connects to whatever cluster a `KubeconfigSource` hands it a kubeconfig
for. For an `Existing` cluster that is the Secret its InferenceCluster names in
`laneway-system` (`SecretKubeconfigs`); for a cluster a provisioner created, the provisioner
itself (see `drivers/provisioning.py`); for `laneway cluster check`, a file, the Secret in the
`-f` manifests, or the local store's Secret, tried in that order (`FirstOf`). A source answers
with the kubeconfig and where it came from (for messages), or raises `NoKubeconfig` saying
what to create or pass.

A kubeconfig is a credential: it is never logged or put in a message; `where` names its
container (a Secret, a file), never its content.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from laneway.api.kinds.platform import InferenceCluster, KubeconfigSecretRef
from laneway.api.kinds.secret import Secret
from laneway.api.meta import SYSTEM_NAMESPACE, ObjectKey
from laneway.store.base import Store


@dataclass(frozen=True)
class Kubeconfig:
    text: str = ""
    where: str = ""  # "Secret laneway-system/gpu-eu", a file path: never the content

    def __repr__(self) -> str:  # a credential: keep it out of tracebacks and logs
        return f"Kubeconfig(where={self.where!r})"


class NoKubeconfig(LookupError):
    """No kubeconfig for the cluster here; the message says what to create or pass."""


@runtime_checkable
class KubeconfigSource(Protocol):
    def kubeconfig(self, cluster: InferenceCluster) -> Kubeconfig:
        """The cluster's kubeconfig; raises NoKubeconfig saying what is missing."""
        ...


def secret_ref(cluster: InferenceCluster) -> KubeconfigSecretRef:
    """The kubeconfig Secret an Existing cluster names; NoKubeconfig for other sources."""
    existing = cluster.spec.cluster.existing
    if existing is None:
        raise NoKubeconfig(
            f"cluster {cluster.name} has source {cluster.spec.cluster.source} and no spec.cluster.existing.secretRef "
            "naming its kubeconfig Secret"
        )
    return existing.secret_ref


def _from_secret(secret: Secret | None, cluster: InferenceCluster, ref: KubeconfigSecretRef, where: str) -> Kubeconfig:
    if secret is None:
        raise NoKubeconfig(
            f"Secret {SYSTEM_NAMESPACE}/{ref.name} (the kubeconfig of cluster {cluster.name}) does not exist: "
            f"create it with the kubeconfig under key {ref.key!r}"
        )
    text = secret.value(ref.key)
    if not text:
        raise NoKubeconfig(
            f"Secret {SYSTEM_NAMESPACE}/{ref.name} has no key {ref.key!r}; put the kubeconfig there "
            "or set existing.secretRef.key to the key that holds it"
        )
    return Kubeconfig(text, where)


class SecretKubeconfigs:
    """The kubeconfig in the `laneway-system` Secret an Existing cluster names, read from a store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def kubeconfig(self, cluster: InferenceCluster) -> Kubeconfig:
        ref = secret_ref(cluster)
        secret = self.store.find(Secret, ObjectKey(SYSTEM_NAMESPACE, ref.name))
        return _from_secret(secret, cluster, ref, f"Secret {SYSTEM_NAMESPACE}/{ref.name}")


class StoreFileKubeconfigs:
    """`SecretKubeconfigs` over the store of a laneway: the SQLite file on this machine, or the
    PostgreSQL database a target names; opened for each lookup and closed at once (the CLI,
    which must not hold a running laneway's store open)."""

    def __init__(self, store_path: Path | str) -> None:
        self.store_path = store_path

    def kubeconfig(self, cluster: InferenceCluster) -> Kubeconfig:
        from laneway.store import describe_target, is_postgres, open_store

        ref = secret_ref(cluster)
        if not is_postgres(self.store_path) and not Path(self.store_path).exists():
            raise NoKubeconfig(f"no local laneway store at {self.store_path} to read Secret {SYSTEM_NAMESPACE}/{ref.name} from")
        store = open_store(self.store_path)
        try:
            found = SecretKubeconfigs(store).kubeconfig(cluster)
        except NoKubeconfig as missing:
            raise NoKubeconfig(f"{missing} (in the store at {describe_target(self.store_path)})") from None
        finally:
            store.close()
        return found


class ManifestKubeconfigs:
    """The kubeconfig Secret as it appears in manifests about to be applied."""

    def __init__(self, resources: Iterable[object]) -> None:
        self.secrets = [r for r in resources if isinstance(r, Secret)]

    def kubeconfig(self, cluster: InferenceCluster) -> Kubeconfig:
        ref = secret_ref(cluster)
        found = next(
            (s for s in self.secrets if s.name == ref.name and (s.namespace or SYSTEM_NAMESPACE) == SYSTEM_NAMESPACE), None
        )
        if found is None:
            raise NoKubeconfig(f"Secret {SYSTEM_NAMESPACE}/{ref.name} is not in the manifests")
        return _from_secret(found, cluster, ref, f"Secret {SYSTEM_NAMESPACE}/{ref.name} in the manifests")


class FileKubeconfig:
    """A kubeconfig file given by hand, whatever the cluster."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def kubeconfig(self, cluster: InferenceCluster) -> Kubeconfig:
        try:
            return Kubeconfig(self.path.read_text(), str(self.path))
        except OSError as error:
            raise NoKubeconfig(f"cannot read kubeconfig {self.path}: {error.strerror}") from None


class FirstOf:
    """The first source that has a kubeconfig for the cluster; NoKubeconfig naming every miss."""

    def __init__(self, *sources: KubeconfigSource) -> None:
        self.sources = sources

    def kubeconfig(self, cluster: InferenceCluster) -> Kubeconfig:
        misses = []
        for source in self.sources:
            try:
                return source.kubeconfig(cluster)
            except NoKubeconfig as miss:
                misses.append(str(miss))
        raise NoKubeconfig("; ".join(misses) or f"no kubeconfig source for cluster {cluster.name}")
