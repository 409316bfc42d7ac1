"""Egress: where laneway may connect on a team's behalf, and where a credential may go.

The team lane writes URLs (external ModelEndpoints, HTTP/S3 cache sources, a Hugging Face
mirror); laneway fetches and routes them. This package is the one door those connections go
through. What it promises:

- **Checked at connect time, on the address connected to.** A host is resolved once, every
  address is judged by the platform's policy (`policy.decide`), and the connection is made
  to a judged address, never by resolving the name again. A name that answers 8.8.8.8 to the
  check and 127.0.0.1 to the connect (DNS rebinding) cannot slip between the two, because
  there is no second lookup. Every HTTP client laneway uses for a team-written URL is built
  here: an aiohttp resolver for the gateway (`aio`), an httpx transport for HTTP and Hugging
  Face downloads (`sync_http`), urllib3 connection pools for boto3 (`sync_http`).
- **Refused by default**: loopback, link-local (the cloud metadata address 169.254.169.254
  included), private and unique-local ranges, unspecified, multicast, and every other range
  that is not globally routable, in IPv4 and IPv6 alike (an IPv4-mapped or NAT64 IPv6
  address is judged as the IPv4 address it carries). The platform opens doors with allow
  rules on the InferenceGateway (`spec.egress`), and may close public ones with deny rules.
- **Credentials go where their writer said** (`destinations`): a Secret the platform lane
  wrote carries the hosts it may be sent to; anything else is refused before a byte is sent.

What it does not do: it does not judge laneway's own engines' endpoints (addresses laneway
itself placed), and it does not inspect traffic after the connection is made.

Modules: `hosts` (spelling and patterns), `policy` (the decision, pure), `destinations`
(where a credential may go, pure), `resolve` (resolve once and judge), `aio` and `sync_http`
(the connectors).
"""
