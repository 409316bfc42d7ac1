"""The quality tests that probe through an in-process gateway use the gateway tests' harness
(`gateway_harness`): its folder goes on the path before any test module is imported, and its
`fleet` fixture serves them (a module with a fleet of its own, such as one over `laneway up`,
overrides it)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "gateway"))

from gateway_harness import fleet  # noqa: F401
