"""Where a credential may be sent: the destinations its writer named. Pure.

Every Secret written through the API carries the lane that wrote it in the annotation
`laneway.dev/written-by` (`platform` for platform and admin tokens, `team` for team tokens),
stamped by the API server on every write; nobody can write it themselves. A Secret the
platform lane wrote is a credential the team may use but not read (a provider key), and
the platform says where it may go in `laneway.dev/destinations`: host patterns separated by
commas (`api.together.xyz, *.openai.com:443`). laneway sends it to no other host, as an
endpoint's bearer token or a cache source's credential; one without destinations goes
nowhere. A Secret the team wrote goes wherever the egress policy allows.

`Destinations` is the reusable part: a list of host patterns that a URL either matches or
not. A provider the platform vouches for (URL, key Secret) is the same check with the
provider's host as its one destination.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from laneway.api.kinds.secret import Secret
from laneway.api.labels import WRITTEN_BY_ANNOTATION
from laneway.api.meta import LABEL_PREFIX
from laneway.egress.hosts import HostPattern, HostPort, host_port
from laneway.redact import redact_url

DESTINATIONS_ANNOTATION = LABEL_PREFIX + "destinations"
PLATFORM_LANE = "platform"
TEAM_LANE = "team"


@dataclass(frozen=True)
class Destinations:
    """Host patterns a credential may be sent to; empty means nowhere."""

    patterns: tuple[HostPattern, ...] = ()

    @classmethod
    def of(cls, texts: Iterable[str]) -> Destinations:
        return cls(tuple(HostPattern.parse(t) for t in texts))

    def allows(self, where: HostPort) -> bool:
        return any(p.matches(where.host, where.port) for p in self.patterns)

    def __str__(self) -> str:
        return ", ".join(str(p) for p in self.patterns) or "none"


def parse_destinations(text: str) -> Destinations:
    """Read the annotation's value. Raises ValueError naming the bad entry."""
    return Destinations.of(part for part in text.replace("\n", ",").split(",") if part.strip())


def written_by_platform(secret: Secret) -> bool:
    return secret.metadata.annotations.get(WRITTEN_BY_ANNOTATION) == PLATFORM_LANE


def credential_refusal(secret: Secret, url: str, *, use: str) -> str | None:
    """Why `secret` may not be sent to `url` (as `use`, e.g. 'auth.secretRef'), or None when it may.

    Only platform-written Secrets are restricted; the message names the Secret, the host and
    what the platform would change, and never the value."""
    if not written_by_platform(secret):
        return None
    try:
        where = host_port(url)
    except ValueError as exc:
        return f"{use}: {exc}"
    raw = secret.metadata.annotations.get(DESTINATIONS_ANNOTATION, "")
    try:
        allowed = parse_destinations(raw)
    except ValueError as exc:
        return (
            f"{use}: Secret {secret.name!r} was written by the platform lane and its {DESTINATIONS_ANNOTATION} "
            f"annotation is invalid ({exc}); the platform would correct it"
        )
    if allowed.allows(where):
        return None
    named = f"may go only to {allowed}" if allowed.patterns else f"names no destinations ({DESTINATIONS_ANNOTATION})"
    return (
        f"{use}: Secret {secret.name!r} was written by the platform lane and {named}, not to {where} "
        f"({redact_url(url)}); laneway does not send it there. The platform would add {where.host} to the Secret's "
        f"{DESTINATIONS_ANNOTATION} annotation, or the team would use a Secret of its own"
    )
