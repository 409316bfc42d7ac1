"""The provider credentials Secret a cloud InferenceCluster names, and nothing else.

A provisioner spends money with the credentials in the Secret (in `laneway-system`, where only
the platform lane writes) that its provider block's `credentialsSecretRef` names. The host's
ambient identity (environment variables, profiles, metadata servers, key files named by
GOOGLE_APPLICATION_CREDENTIALS) is never a fallback: a missing Secret is a clear failure.
"""

from __future__ import annotations

from laneway.api.kinds.platform import InferenceCluster
from laneway.api.kinds.secret import Secret
from laneway.api.meta import SYSTEM_NAMESPACE, ObjectKey
from laneway.drivers.provisioners.plan import PROVIDER_BLOCK, provider_block
from laneway.drivers.provisioners.retry import ProviderBlockError
from laneway.store.base import Store


def credentials_secret(store: Store, cluster: InferenceCluster, *, holding: str) -> tuple[Secret, dict[str, object]]:
    """The Secret `credentialsSecretRef` names, and the ref itself; `holding` says what it must
    hold, for the message when it is missing."""
    block_name = PROVIDER_BLOCK.get(cluster.spec.cluster.source, "provider")
    ref = provider_block(cluster).get("credentialsSecretRef")
    name = ref.get("name") if isinstance(ref, dict) else None
    if not isinstance(ref, dict) or not isinstance(name, str) or not name:
        raise ProviderBlockError(
            f"cluster {cluster.name}: {block_name}.credentialsSecretRef.name is required: the Secret in {SYSTEM_NAMESPACE} "
            f"holding {holding} (laneway never uses the host's own cloud credentials)"
        )
    secret = store.find(Secret, ObjectKey(SYSTEM_NAMESPACE, name))
    if secret is None:
        raise ProviderBlockError(
            f"cluster {cluster.name}: Secret {SYSTEM_NAMESPACE}/{name} (its {cluster.spec.cluster.source} credentials) does not exist; "
            f"create it with {holding}"
        )
    return secret, dict(ref)


def credentials_configured(store: Store, cluster: InferenceCluster) -> bool:
    """Whether the Secret the cluster names exists: only then can its provisioner create (or
    delete) anything, so only then does deleting the cluster wait for the cloud."""
    try:
        credentials_secret(store, cluster, holding="")
    except ProviderBlockError:
        return False
    return True
