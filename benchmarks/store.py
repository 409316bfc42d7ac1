"""Store throughput: SqliteStore against MemoryStore as the baseline run alongside.

    python benchmarks/store.py [--count 500]

Prints operations per second for create, get, update and list on each backend, and the SQLite
figures as a ratio of the in-memory ones. MemoryStore shares SqliteStore's write path, so the
ratio is what the file, its fsync per write (synchronous=FULL) and JSON round trips cost.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from laneway.api.kinds import ModelEndpoint
from laneway.api.meta import ObjectKey
from laneway.store.base import Store
from laneway.store.memory import MemoryStore
from laneway.store.sqlite import SqliteStore


def _endpoint(i: int, url: str = "http://127.0.0.1:9000") -> ModelEndpoint:
    return ModelEndpoint.model_validate(
        {"metadata": {"name": f"e{i}", "namespace": "bench", "labels": {"i": str(i % 7)}}, "spec": {"url": url}}
    )


def _rate(count: int, op: Callable[[int], object]) -> float:
    start = time.perf_counter()
    for i in range(count):
        op(i)
    return count / (time.perf_counter() - start)


def run(store: Store, count: int) -> dict[str, float]:
    return {
        "create": _rate(count, lambda i: store.create(_endpoint(i))),
        "get": _rate(count, lambda i: store.get("ModelEndpoint", ObjectKey("bench", f"e{i}"))),
        "update": _rate(count, lambda i: store.update(_endpoint(i, "http://127.0.0.1:9001"))),
        "list": _rate(max(1, count // 50), lambda i: store.list("ModelEndpoint", namespace="bench")),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500)
    args = parser.parse_args()
    baseline = run(MemoryStore(), args.count)
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = SqliteStore(Path(tmp) / "bench.db")
        try:
            measured = run(sqlite, args.count)
        finally:
            sqlite.close()
    print(f"{'op':<8}{'memory/s':>12}{'sqlite/s':>12}{'ratio':>8}")
    for op, base in baseline.items():
        print(f"{op:<8}{base:>12.0f}{measured[op]:>12.0f}{measured[op] / base:>8.2f}")


if __name__ == "__main__":
    main()
