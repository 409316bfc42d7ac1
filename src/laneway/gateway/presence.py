"""What the gateway writes on InferenceGateway objects: the address it serves and `Ready`. Pure.

`laneway get ig` shows `status.address` and the `Ready` condition. A gateway process knows
its own listen address, but several processes may serve one fleet, and each would write its
own address every few seconds if nothing arbitrated. The rule here keeps the status still:

- one process *holds* an InferenceGateway: its listen address is in `status.servedBy`;
- a process writes only when nobody holds it, when it holds it itself, or when the holder no
  longer answers its `/healthz` (the caller probes and passes `holder_alive`);
- what the holder writes depends only on the object and the holder's address (never on a
  clock or a counter), so repeated writes are no-ops and two live gateways never flap;
- `status.address` is `spec.address` when the platform team published one (the public front
  door, e.g. a load balancer over all the gateways), else the holder's listen address;
- a holder that stops cleanly releases what it holds (`Ready: False`, `servedBy` removed), and
  another live gateway claims it at its next status tick.

What it does not promise: two gateways that cannot reach each other's `/healthz` each think
the other dead and take turns holding the object. Give them a shared `spec.address`.
"""

from __future__ import annotations

from laneway.api.conditions import set_condition
from laneway.api.kinds.platform import InferenceGateway, InferenceGatewayStatus

SERVED_BY = "servedBy"
"""`status.servedBy` on the wire (`InferenceGatewayStatus.served_by`): the listen address of
the gateway process that holds the object."""


def holder(gateway: InferenceGateway) -> str | None:
    """The listen address of the process that holds `gateway`, or None."""
    return gateway.status.served_by or None


def should_claim(gateway: InferenceGateway, *, own: str, holder_alive: bool) -> bool:
    """Whether the process listening on `own` may write this object's status now."""
    held_by = holder(gateway)
    return held_by is None or held_by == own or not holder_alive


def held_status(gateway: InferenceGateway, *, own: str) -> InferenceGatewayStatus:
    """The status while the process listening on `own` serves `gateway`."""
    address = gateway.spec.address or own
    message = f"served by the laneway gateway listening on {own}"
    if gateway.spec.address:
        message += f"; callers use {gateway.spec.address}"
    return _status(gateway, address=address, served_by=own, ready=("True", "Serving", message))


def released_status(gateway: InferenceGateway, *, own: str) -> InferenceGatewayStatus:
    """The status a holder leaves behind when it stops: not Ready until another claims it."""
    message = f"the gateway listening on {own} stopped; no other gateway process has taken over yet"
    return _status(gateway, address=gateway.spec.address, served_by=None, ready=("False", "NoGateway", message))


def _status(
    gateway: InferenceGateway, *, address: str | None, served_by: str | None, ready: tuple[str, str, str]
) -> InferenceGatewayStatus:
    current = gateway.status
    status, reason, message = ready
    conditions = set_condition(
        list(current.conditions), type="Ready", status=status, reason=reason,  # type: ignore[arg-type]
        message=message, observed_generation=gateway.metadata.generation,
    )
    return current.model_copy(
        update={
            "observed_generation": gateway.metadata.generation,
            "conditions": conditions,
            "address": address,
            "served_by": served_by,
        }
    )
