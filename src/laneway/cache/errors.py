"""Errors of cache hydration. Each message says what failed, where, and what would fix it."""

from __future__ import annotations

from laneway.egress.policy import EgressRefused
from laneway.egress.resolve import UNRESOLVED_RULE


class CacheError(Exception):
    """A hydration that cannot finish as asked; `reason` is the short word a status shows."""

    reason = "HydrationFailed"


class SourceUnavailable(CacheError):
    """The source could not be read (network, credentials, missing object); retried later."""

    reason = "SourceUnavailable"


class VerificationFailed(CacheError):
    """Bytes arrived but do not match what the source promised (size or checksum).

    The partial file is removed, so the next attempt starts over instead of resuming from
    corrupt bytes."""

    reason = "VerificationFailed"


class SourceInvalid(CacheError):
    """The spec names something that cannot be a cache (an empty prefix, a file where a
    directory was expected); retrying will not help until the ModelCache is edited."""

    reason = "InvalidSource"


class EgressDenied(CacheError):
    """The egress policy or a credential's destinations refused the connection; retrying will
    not help until the platform opens the door or the ModelCache names another source."""

    reason = "EgressRefused"


class OutsideCacheRoots(CacheError):
    """A Local source outside the roots the platform allowed on the cluster. The message says
    so and nothing else: not whether the path exists, not its size."""

    reason = "OutsideCacheRoots"


class InsufficientDisk(CacheError):
    """The cache declares more than the cluster's free disk; retrying will not help until space
    is freed or `sizeGiB` is corrected."""

    reason = "InsufficientDisk"


def egress_error(what: str, exc: EgressRefused) -> CacheError:
    """The cache error for an egress refusal about source `what`.

    A host that does not resolve (no DNS, no network) is no decision of the policy: calling it
    EgressRefused would send the platform to open a door that is not closed. It is a source
    that cannot be reached yet, retried like any other network failure."""
    if exc.verdict.rule == UNRESOLVED_RULE:
        return SourceUnavailable(f"{what}: {exc.verdict.message}; check the name and this machine's network")
    return EgressDenied(f"{what}: {exc.verdict.message}")
