"""A serving gateway raises the collector's young threshold and gives it back when it stops."""

from __future__ import annotations

import gc

from gateway_harness import FAST, Fleet

from laneway.gateway.config import GatewayConfig


def test_gateway_holds_the_young_threshold_while_it_serves() -> None:
    saved = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    try:
        f = Fleet(FAST)
        try:
            assert gc.get_threshold() == (FAST.gc_young_threshold, 10, 10)
        finally:
            f.close()
        assert gc.get_threshold() == (700, 10, 10)
        f = Fleet(GatewayConfig(**{**FAST.__dict__, "gc_young_threshold": None}))
        try:
            assert gc.get_threshold() == (700, 10, 10)
        finally:
            f.close()
    finally:
        gc.set_threshold(*saved)
