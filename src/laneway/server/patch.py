"""JSON merge patch (RFC 7386), the `application/merge-patch+json` PATCH of the API.

A patch is a partial document: objects merge key by key, `null` removes a key, and anything
else (lists included) replaces the target's value whole. The function is pure: neither the
target nor the patch is modified, so a failed PATCH leaves nothing half-applied.
"""

from __future__ import annotations

import copy
from typing import Any


def merge_patch(target: Any, patch: Any) -> Any:
    """Apply `patch` to `target` as RFC 7386 section 2 defines, returning a new document."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result: dict[str, Any] = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result
