"""DRA device matching: Kubernetes' CEL dialect for device selectors, on the celpy runtime.

`quantity.py` and `semver.py` are exact value types with Kubernetes parity; `functions.py`
exposes them to CEL; `environment.py` builds the `device` variable and evaluates with a step
budget; `matcher.py` caches compiled programs and per-device outcomes.
"""

from laneway.placement.dra.environment import CompileError, Outcome, compile_selector, device_value, evaluate
from laneway.placement.dra.matcher import DEFAULT_MATCHER, DeviceMatcher, device_fingerprint
from laneway.placement.dra.quantity import Quantity, QuantityError, format_quantity, is_quantity, parse_quantity
from laneway.placement.dra.semver import Semver, SemverError, is_semver, parse_semver

__all__ = [
    "DEFAULT_MATCHER",
    "CompileError",
    "DeviceMatcher",
    "Outcome",
    "Quantity",
    "QuantityError",
    "Semver",
    "SemverError",
    "compile_selector",
    "device_fingerprint",
    "device_value",
    "evaluate",
    "format_quantity",
    "is_quantity",
    "is_semver",
    "parse_quantity",
    "parse_semver",
]
