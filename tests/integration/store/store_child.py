"""A writer process for the store's multi-process tests (run as a script; store_children.py
imports `endpoint` and `bump` from it, so threads and processes write the same way).

    python store_child.py write   TARGET PREFIX COUNT     create PREFIX-0.. and print each acknowledged name
    python store_child.py forever DB PREFIX           the same, without end (the kill -9 test)
    python store_child.py bump    DB NAME TIMES        read-modify-write an annotation counter, retrying conflicts
"""

from __future__ import annotations

import itertools
import sys

from laneway.api.kinds import ModelEndpoint
from laneway.api.meta import ObjectKey
from laneway.store import open_store
from laneway.store.base import Conflict, Store


def endpoint(name: str) -> ModelEndpoint:
    return ModelEndpoint.model_validate(
        {"metadata": {"name": name, "namespace": "procs"}, "spec": {"url": "http://127.0.0.1:1"}}
    )


def write(store: Store, prefix: str, count: int | None) -> None:
    for i in itertools.count() if count is None else range(count):
        name = f"{prefix}-{i}"
        store.create(endpoint(name))
        print(name, flush=True)  # only after create returned: acknowledged


def bump(store: Store, name: str, times: int) -> None:
    key = ObjectKey("procs", name)
    for _ in range(times):
        while True:
            obj = store.get("ModelEndpoint", key)
            obj.metadata.annotations["n"] = str(int(obj.metadata.annotations.get("n", "0")) + 1)
            try:
                store.update(obj)
                break
            except Conflict:
                continue


def main(argv: list[str]) -> None:
    mode, db = argv[0], argv[1]
    store = open_store(db)
    try:
        if mode == "write":
            write(store, argv[2], int(argv[3]))
        elif mode == "forever":
            write(store, argv[2], None)
        elif mode == "bump":
            bump(store, argv[2], int(argv[3]))
        else:
            raise SystemExit(f"unknown mode {mode!r}")
    finally:
        store.close()


if __name__ == "__main__":
    main(sys.argv[1:])
