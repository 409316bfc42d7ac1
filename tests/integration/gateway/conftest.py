"""Gateway integration fixtures (the harness itself lives in gateway_harness.py)."""

from gateway_harness import fleet  # noqa: F401
