"""Shapes shared by several kinds: secret references, durations, dates, user labels."""

from __future__ import annotations

import datetime as _dt
import re

from pydantic import Field

from laneway.api.meta import LABEL_PREFIX, Model, check_labels

DURATION_PATTERN = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h|d))+$"
"""A Go-style duration, matched whole (ASCII digits only: `float` would also read other scripts')."""
_DURATION = re.compile(DURATION_PATTERN)
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: str) -> float:
    """Seconds in a Go-style duration ('800ms', '4s', '1h30m', '7d')."""
    if not _DURATION.fullmatch(text):
        raise ValueError(f"duration {text!r} is not valid: write e.g. '800ms', '4s', '5m', '1h30m' or '7d'")
    return sum(float(n) * _UNIT_SECONDS[u] for n, _, u in re.findall(r"([0-9]+(\.[0-9]+)?)(ms|s|m|h|d)", text))


def check_duration(text: str | None) -> str | None:
    if text is not None:
        parse_duration(text)
    return text


class SecretKeyRef(Model):
    """A key of a Secret. Cluster-scoped objects resolve it in `laneway-system`, others in their own namespace."""

    name: str = Field(min_length=1, max_length=253)
    key: str = Field(min_length=1, max_length=253)


class SecretRefHolder(Model):
    secret_ref: SecretKeyRef




MAX_USER_LABELS = 32
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$")


def check_user_labels(labels: dict[str, str], *, what: str = "labels") -> dict[str, str]:
    """Labels a user writes for laneway to stamp onto composed objects.

    They must be valid Kubernetes labels and may not use the system prefix (`laneway.dev/`,
    which is also where `modelplane.ai/` lands after translation): laneway's own labels drive
    selectors (a service finds a deployment's endpoints by them), so a user value could not be
    honoured without breaking routing.
    """
    if len(labels) > MAX_USER_LABELS:
        raise ValueError(f"{what} has {len(labels)} entries; at most {MAX_USER_LABELS} are allowed")
    reserved = sorted(k for k in labels if k.startswith(LABEL_PREFIX))
    if reserved:
        raise ValueError(
            f"{what} key(s) {', '.join(repr(k) for k in reserved)} use the reserved prefix {LABEL_PREFIX!r} "
            "(or 'modelplane.ai/', read as the same); laneway sets those itself, so use your own prefix "
            "such as 'example.com/tier'"
        )
    return check_labels(labels)


def date_text(value: object) -> object:
    """YAML reads `2027-06-30` as a date; keep it as the ISO text the manifest meant."""
    if isinstance(value, _dt.datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, _dt.date):
        return value.isoformat()
    return value


def check_http_url(url: str) -> str:
    """A URL laneway may call: http:// or https:// (the egress policy judges where it points)."""
    if not (url.startswith("http://") or url.startswith("https://")):
        raise ValueError(f"url {url!r} must start with http:// or https://")
    return url


def check_date(text: str | None, *, what: str = "date") -> str | None:
    if text is not None and not _DATE.match(text):
        raise ValueError(f"{what} {text!r} is not a date: write it as YYYY-MM-DD (e.g. 2027-06-30) or an RFC 3339 time")
    return text
