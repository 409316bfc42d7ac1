"""`python -m laneway.cache`: the hydration Job's entry point on a Kubernetes cluster.

Reads the ModelCache spec from `LANEWAY_CACHE_SPEC` (JSON), the credential (if any) from
`LANEWAY_CACHE_SECRET`, stages into `LANEWAY_CACHE_DEST` in place, and exits 0 once the
manifest is written. Any failure prints one line saying what failed and exits 1, so the Job
retries (and resumes). On success, when `LANEWAY_CACHE_REPORT` names a file (the Job sets the
container's termination-message path), the size staged is written there as JSON, which is
how the Kubernetes driver learns it from the pod's status.

`LANEWAY_EGRESS` carries the fleet's egress policy as JSON (a list of `{"gateway": name,
"egress": <InferenceGateway spec.egress>}`); without it the default policy applies (no
loopback, link-local or private addresses).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from laneway.api.kinds.cache import ModelCacheSpec
from laneway.api.kinds.platform import GatewayEgress
from laneway.cache.errors import CacheError
from laneway.cache.hydrate import hydrate
from laneway.cache.sources import source_for
from laneway.egress.policy import EgressPolicy


def main() -> int:
    try:
        spec = ModelCacheSpec.model_validate(json.loads(os.environ["LANEWAY_CACHE_SPEC"]))
        dest = Path(os.environ.get("LANEWAY_CACHE_DEST", "/cache"))
    except (KeyError, ValueError) as exc:
        print(f"laneway cache: LANEWAY_CACHE_SPEC must hold a ModelCache spec as JSON ({exc})", file=sys.stderr)
        return 2
    try:
        policy = EgressPolicy.from_specs(
            [(str(e["gateway"]), GatewayEgress.model_validate(e["egress"])) for e in json.loads(os.environ.get("LANEWAY_EGRESS") or "[]")]
        )
    except (KeyError, TypeError, ValueError) as exc:
        print(f"laneway cache: LANEWAY_EGRESS must hold a list of {{gateway, egress}} objects ({exc})", file=sys.stderr)
        return 2
    secret = os.environ.get("LANEWAY_CACHE_SECRET")
    try:
        result = hydrate(source_for(spec, lambda _ref: secret, policy=policy), dest, in_place=True)
    except CacheError as exc:
        print(f"laneway cache: {exc.reason}: {exc}", file=sys.stderr)
        return 1
    report = os.environ.get("LANEWAY_CACHE_REPORT")
    if report:
        try:
            Path(report).write_text(json.dumps({"bytes": result.manifest.bytes, "files": result.manifest.files}))
        except OSError as exc:  # the report is informative only; the cache is staged
            print(f"laneway cache: could not write the report to {report}: {exc}", file=sys.stderr)
    print(f"laneway cache: {result.manifest.files} files, {result.manifest.bytes} bytes staged from {result.manifest.source}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
