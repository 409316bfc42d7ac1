"""The machines tests share the CLI and local-fleet harnesses: their folders go on the path
before any test module is imported, so each test file also runs on its own."""

from __future__ import annotations

import sys
from pathlib import Path

for harness in ("cli", "local"):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / harness))
