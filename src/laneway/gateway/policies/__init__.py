"""The balancing policies a ModelService can name in `spec.routing.policy`.

Each module here defines one `laneway.gateway.policy.BalancingPolicy` subclass with its
`name=`; importing this package registers them all. A new policy is a new module, imported
below.
"""

from laneway.gateway.policies import kv_aware, least_outstanding, prefix_affinity

__all__ = ["kv_aware", "least_outstanding", "prefix_affinity"]
