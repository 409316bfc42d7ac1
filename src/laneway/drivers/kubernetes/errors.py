"""What can go wrong between a replica and its workload cluster, each with what to do about it."""

from __future__ import annotations


class KubernetesDriverError(Exception):
    """Base of the Kubernetes driver's errors; the message is written for the operator."""


class RenderError(KubernetesDriverError):
    """A replica that cannot be expressed as Kubernetes objects (the message says what to change)."""


class InvalidRendered(KubernetesDriverError):
    """Rendered objects that the target API would refuse; nothing was sent."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        head = f"{len(problems)} rendered object problem{'s' if len(problems) != 1 else ''} (nothing was sent):"
        super().__init__("\n".join([head, *(f"  - {p}" for p in problems)]))


class ClusterUnavailable(KubernetesDriverError):
    """The workload cluster cannot be reached or used (no kubeconfig, refused, unreachable)."""


class KubeApiError(KubernetesDriverError):
    """The workload cluster's API answered with an error status."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        self.status = status
        self.reason = reason
        super().__init__(f"{status} {reason}: {message}" if message else f"{status} {reason}")
