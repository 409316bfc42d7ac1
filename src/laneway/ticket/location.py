"""Where a ticket's weights come from, for the cache row. Pure.

A cold pull copies the weights from their source into a cluster's cache: the source's location
is where the weights are before they are inside the fleet, so a sovereignty rule on
`laneway.dev/jurisdiction` applies to it. Only what the source itself says is used: an S3
region (`eu-central-1` lies in `eu`, `us-east-1` in `us`), a Local path (already inside the
cluster). Hugging Face, a plain HTTP URL or an S3-compatible store without a region name no
jurisdiction, and the row says so rather than guessing. With a declared egress price and a
declared size, the row also says what one cold pull costs.
"""

from __future__ import annotations

from dataclasses import dataclass

from laneway.api.kinds.cache import ModelCacheSpec
from laneway.api.meta import LABEL_PREFIX

JURISDICTION_LABEL = LABEL_PREFIX + "jurisdiction"
REGION_JURISDICTIONS: dict[str, str] = {"eu": "eu", "us": "us", "ca": "ca", "ap": "ap", "sa": "sa", "me": "me", "af": "af", "il": "il", "mx": "mx"}
"""An S3 region's first part, as AWS and most S3-compatible providers name them, to a jurisdiction."""


@dataclass(frozen=True)
class WeightsLocation:
    text: str
    jurisdiction: str | None


def weights_location(spec: ModelCacheSpec) -> WeightsLocation:
    if spec.source == "S3" and spec.s3 is not None:
        region = spec.s3.region
        where = f"{spec.s3.uri}" + (f" in {region}" if region else "") + (f" at {spec.s3.endpoint}" if spec.s3.endpoint else "")
        jurisdiction = REGION_JURISDICTIONS.get(region.split("-", 1)[0]) if region else None
        return WeightsLocation(where, jurisdiction)
    if spec.source == "HuggingFace" and spec.hugging_face is not None:
        return WeightsLocation(f"the Hugging Face Hub ({spec.hugging_face.repo})", None)
    if spec.source == "HTTP" and spec.http is not None:
        return WeightsLocation(spec.http.url, None)
    return WeightsLocation("a path inside the cluster", None)


def _size_gib(spec: ModelCacheSpec) -> int | None:
    for source in (spec.hugging_face, spec.s3, spec.http):
        if source is not None and source.size_gib is not None:
            return source.size_gib
    return None


def cold_pull_cost(spec: ModelCacheSpec, price_per_gib: float | None) -> str | None:
    """What one cold pull costs in egress, when a price and a size are declared."""
    size = _size_gib(spec)
    if price_per_gib is None or spec.source == "Local":
        return None
    if size is None:
        return "egressPricePerGiB is set but the source declares no sizeGiB: a cold pull's cost is unknown"
    return f"a cold pull moves {size} GiB: {size * price_per_gib:.2f} at {price_per_gib} per GiB, once per cluster that pulls it"
