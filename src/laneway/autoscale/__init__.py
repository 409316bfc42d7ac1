"""Autoscaling: replicas that follow demand, from and to zero.

`policy.decide(context) -> Decision` is the pure rule (see `policy`); `demand` turns what the
gateway and the engines report into a `Demand` per deployment; `services` finds which
ModelServices front a deployment; `memory` keeps the policy's small state in the
deployment's status so a restart continues it; `hold` is the gateway's bounded waiting room
for requests that arrive while a service scales from zero. The controller that applies
decisions through the scale subresource's field (`spec.replicas`) is
`laneway.control.autoscaler`.

What it promises: never below minReplicas or above maxReplicas; up fast, down slowly; zero
only after scaleToZeroAfter without demand; a controller restart neither drops replicas early
nor restarts the idle clock. What it does not do: predict load or weigh cost.
"""
