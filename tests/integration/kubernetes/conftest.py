"""Fixtures of the Kubernetes driver's integration tests (defined in kube_fleet.py)."""

from kube_fleet import driver, fleet  # noqa: F401 - pytest finds fixtures by name here
