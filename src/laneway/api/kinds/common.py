"""Shapes shared by several kinds: secret references, quantities as written, durations."""

from __future__ import annotations

import re

from pydantic import field_validator

from laneway.api.meta import Model

_DURATION = re.compile(r"^(\d+(\.\d+)?(ms|s|m|h|d))+$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: str) -> float:
    """Seconds in a Go-style duration ('800ms', '4s', '1h30m', '7d')."""
    if not _DURATION.match(text):
        raise ValueError(f"duration {text!r} is not valid: write e.g. '800ms', '4s', '5m', '1h30m' or '7d'")
    return sum(float(n) * _UNIT_SECONDS[u] for n, _, u in re.findall(r"(\d+(\.\d+)?)(ms|s|m|h|d)", text))


def check_duration(text: str | None) -> str | None:
    if text is not None:
        parse_duration(text)
    return text


class SecretKeyRef(Model):
    """A key of a Secret. Cluster-scoped objects resolve it in `laneway-system`, others in their own namespace."""

    name: str
    key: str


class SecretRefHolder(Model):
    secret_ref: SecretKeyRef


