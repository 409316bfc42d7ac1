"""The provisioning tests that drive a real `laneway up` share the CLI harness (`cli_harness`):
its folder goes on the path before any test module is imported, so each file runs on its own."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli"))
