"""Every resource kind of laneway, importable from one place."""

from laneway.api.kinds.cache import ModelCache
from laneway.api.kinds.deployment import ModelDeployment, ModelReplica
from laneway.api.kinds.platform import InferenceClass, InferenceCluster, InferenceGateway
from laneway.api.kinds.secret import Secret
from laneway.api.kinds.serving import ModelEndpoint, ModelService
from laneway.api.kinds.ticket import InferenceTicket

ALL_KINDS = (
    InferenceGateway,
    InferenceClass,
    InferenceCluster,
    Secret,
    ModelDeployment,
    ModelReplica,
    ModelEndpoint,
    ModelService,
    ModelCache,
    InferenceTicket,
)

__all__ = [
    "ALL_KINDS",
    "InferenceClass",
    "InferenceCluster",
    "InferenceGateway",
    "InferenceTicket",
    "ModelCache",
    "ModelDeployment",
    "ModelEndpoint",
    "ModelReplica",
    "ModelService",
    "Secret",
]
