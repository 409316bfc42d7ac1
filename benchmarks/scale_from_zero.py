"""Scale-from-zero benchmark: time from the first request to its answer, from zero replicas.

Runs `laneway up` in this process (SQLite store, API server, gateway, controllers, the
`local` cluster) in a temporary data directory, and for each case applies an autoscaled
deployment at `replicas: 0` behind a service, sends one chat request through the gateway and
measures until the answer arrives (the gateway holds the request while the autoscaler adds a
replica and the engine starts):

  sim                 the simulator engine, no cache (the floor: control-loop latency);
  llamacpp cold       llama.cpp (xllamacpp) with a ModelCache that must be staged first;
  llamacpp warm       the same after scaling back to zero: the cache is already Ready.

The llama.cpp cases use a tiny random-weight GGUF written at run time (real inference, word
salad out) served from a Local-source cache; they are skipped when `xllamacpp` or `gguf` is
not installed. Prints seconds per case and the ratio to the sim floor.

    python benchmarks/scale_from_zero.py [--timeout 120]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import socket
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from laneway.api.kinds.cache import ModelCache
from laneway.api.kinds.deployment import ModelDeployment
from laneway.api.kinds.platform import InferenceCluster
from laneway.api.kinds.serving import ModelService
from laneway.api.meta import ObjectKey
from laneway.store.sqlite import SqliteStore
from laneway.up import Running, UpOptions, run_up

NS = "bench"
DEVICES = {"devices": [{"name": "compute", "selectors": [{"cel": 'device.driver == "cpu.laneway.dev" || device.driver == "gpu.nvidia.com"'}]}]}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def deployment(name: str, container: dict[str, Any], cache: str | None) -> ModelDeployment:
    spec: dict[str, Any] = {
        "clusterSelector": {"matchLabels": {"laneway.dev/source": "local"}},
        "engines": [{"name": "engine", "members": [{"nodeSelector": DEVICES, "template": {"spec": {"containers": [container]}}}]}],
    }
    if cache:
        spec["modelCacheRef"] = {"name": cache}
    return ModelDeployment.model_validate({
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "replicas": 0,
            "autoscaling": {"minReplicas": 0, "maxReplicas": 1, "targetInFlight": 4, "scaleToZeroAfter": "1h"},
            "template": {"metadata": {"labels": {"app": name}}, "spec": spec},
        },
    })


def service(name: str) -> ModelService:
    return ModelService.model_validate({
        "metadata": {"name": name, "namespace": NS},
        "spec": {"modelNames": [name], "endpoints": [{"selector": {"matchLabels": {"app": name}}}]},
    })


async def wait_marked(store: SqliteStore, name: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        svc = store.get(ModelService, ObjectKey(NS, name))
        if svc.status.scale_from_zero:
            await asyncio.sleep(0.3)  # the gateway's table follows the store within its debounce
            return
        await asyncio.sleep(0.1)
    raise TimeoutError(f"service {name} was not marked scaleFromZero")


async def first_answer(gateway: str, name: str, timeout: float) -> float:
    started = time.monotonic()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session:
        async with session.post(f"{gateway}/v1/chat/completions",
                                json={"model": name, "messages": [{"role": "user", "content": "hello"}], "max_tokens": 8}) as r:
            body = await r.text()
            if r.status != 200:
                raise RuntimeError(f"{name}: {r.status} {body[:300]}")
    return time.monotonic() - started


async def scale_to_zero(store: SqliteStore, name: str, timeout: float) -> None:
    d = store.get(ModelDeployment, ObjectKey(NS, name))
    d.spec.replicas = 0
    store.update(d)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = [o for kind in ("ModelReplica", "ModelEndpoint") for o in store.list(kind, namespace=NS).items
                if o.metadata.labels.get("laneway.dev/deployment") == name]
        if not left:
            await asyncio.sleep(0.5)  # the gateway drops the old endpoint (and its health state) with its next table
            return
        await asyncio.sleep(0.2)


async def bench(timeout: float) -> list[tuple[str, float | None, str]]:
    results: list[tuple[str, float | None, str]] = []
    with tempfile.TemporaryDirectory(prefix="laneway-bench-") as tmp:
        ready: asyncio.Future[Running] = asyncio.get_running_loop().create_future()
        stop = asyncio.Event()
        options = UpOptions(data_dir=Path(tmp) / "data", port=free_port(), gateway_port=free_port())
        up = asyncio.create_task(run_up(options, stop=stop, on_ready=ready.set_result))
        running = await asyncio.wait_for(ready, 60)
        assert running.gateway, "this build's `laneway up` has no gateway"
        store = SqliteStore(running.data_dir.store_path)
        try:
            store.create(deployment("sim", {"name": "engine", "image": "laneway/engine-sim", "command": ["laneway", "engine", "sim"],
                                            "args": ["--port", "$(LANEWAY_PORT)", "--served-model-name", "sim"]}, None))
            store.create(service("sim"))
            await wait_marked(store, "sim", timeout)
            results.append(("sim", await first_answer(running.gateway, "sim", timeout), "no cache"))

            if importlib.util.find_spec("xllamacpp") is None or importlib.util.find_spec("gguf") is None:
                results.append(("llamacpp", None, "skipped: pip install -e '.[llamacpp]' gguf"))
                return results
            from laneway.engines.tiny_gguf import write_tiny_llama_gguf

            weights = Path(tmp) / "weights"
            weights.mkdir()
            write_tiny_llama_gguf(weights / "model.gguf")
            local = store.get(InferenceCluster, ObjectKey("", "local"))
            assert local.spec.cluster.local is not None
            local.spec.cluster.local.cache_roots = [str(weights)]  # the platform lets Local caches copy from here
            store.update(local)
            store.create(ModelCache.model_validate({"metadata": {"name": "tiny", "namespace": NS},
                                                    "spec": {"source": "Local", "local": {"path": str(weights)}}}))
            store.create(deployment("llama", {"name": "engine", "image": "llamacpp", "command": ["laneway", "engine", "llamacpp"],
                                              "args": ["--port", "$(LANEWAY_PORT)", "--served-model-name", "llama",
                                                       "--model", "$(LANEWAY_MODEL_CACHE)/model.gguf"]}, "tiny"))
            store.create(service("llama"))
            await wait_marked(store, "llama", timeout)
            results.append(("llamacpp cold", await first_answer(running.gateway, "llama", timeout), "cache staged during the wait"))
            await scale_to_zero(store, "llama", timeout)
            results.append(("llamacpp warm", await first_answer(running.gateway, "llama", timeout), "cache already Ready"))
        finally:
            store.close()
            stop.set()
            await up
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for each first answer")
    args = parser.parse_args()
    results = asyncio.run(bench(args.timeout))
    floor = next((s for n, s, _ in results if n == "sim" and s), None)
    print(f"{'case':<16} {'first answer':>13} {'x sim':>7}  note")
    for name, seconds, note in results:
        if seconds is None:
            print(f"{name:<16} {'-':>13} {'-':>7}  {note}")
        else:
            ratio = f"{seconds / floor:.1f}" if floor else "-"
            print(f"{name:<16} {seconds:>12.2f}s {ratio:>7}  {note}")


if __name__ == "__main__":
    main()
