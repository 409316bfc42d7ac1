"""Simulated clusters (`source: Simulated`): replicas that turn Ready without running anything."""
