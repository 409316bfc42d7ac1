"""The inference gateway: laneway's data plane, one OpenAI-compatible URL per fleet.

The gateway is a hot path apart from the control-plane API. It keeps an immutable routing
table built from ModelServices, their ready ModelEndpoints and the API-key Secrets (pure
functions in `weights`, `table`, `keys`), swaps it whole whenever the store changes
(`source`), and proxies each request (`proxy`) with weights, a balancing policy per service
(`policy`; power of two choices by default), tiers, retries before the first byte, passive
health, per-key rate limits and metering.

What it promises: an endpoint outside a service's data boundary is never chosen, in any tier;
the caller's credentials never reach an upstream; a request that nothing can serve gets a fast
OpenAI-style error rather than a hang; nothing is retried once a response body has started.
What it does not do: it keeps rate-limit and health state per gateway process (several gateways
each enforce their own share), and it does not terminate TLS itself.
"""

from laneway.gateway.config import GatewayConfig

__all__ = ["GatewayConfig"]
