"""Who owns `spec.replicas` when a manifest is applied to an autoscaled deployment (pure).

With `spec.autoscaling`, the autoscaler writes `spec.replicas`. A manifest applied again (a CI
job re-applying the repository) usually leaves `replicas` out, and its default of 1 used to
take an autoscaled deployment from 3 to 1 under load. As Kubernetes does for a Deployment an
HPA scales (server-side apply leaves a field the manifest does not name to its manager):

- a manifest **without** `replicas` keeps the count that is live (the autoscaler's), brought
  within the manifest's `minReplicas`/`maxReplicas`;
- a manifest **with** `replicas` outside those bounds is clamped into them, and the apply
  says so; inside them it is taken as a starting point the autoscaler moves from.

Whether `replicas` was written is read from the parsed manifest (pydantic's `model_fields_set`),
so `replicas: 1` written out is honoured while a missing one is not taken as 1.
"""

from __future__ import annotations

from laneway.api.kinds.deployment import ModelDeployment


def replicas_on_apply(desired: ModelDeployment, live: ModelDeployment | None) -> tuple[ModelDeployment, str | None]:
    """The deployment to send, and a note when its `replicas` was not taken as written."""
    scaling = desired.spec.autoscaling
    if scaling is None:
        return desired, None
    written = "replicas" in desired.spec.model_fields_set
    wanted = desired.spec.replicas if written or live is None else live.spec.replicas
    count = max(scaling.min_replicas, min(scaling.max_replicas, wanted))
    note = None
    if written and count != wanted:
        bound = "maxReplicas" if wanted > scaling.max_replicas else "minReplicas"
        note = (f"spec.replicas {wanted} is outside autoscaling {scaling.min_replicas}..{scaling.max_replicas}: "
                f"set to {bound} {count}; the autoscaler owns the count (leave replicas out of the manifest)")
    if count == desired.spec.replicas:
        return desired, note
    spec = desired.spec.model_copy(update={"replicas": count})
    return desired.model_copy(update={"spec": spec}), note
