"""KVAware through a real `laneway up` with four simulator replicas on the local cluster:
requests that share a prefix land on the replica holding it, move when that replica saturates,
and the gateway's KV index follows the engines' evictions.

The replicas are real `laneway engine sim` processes with a small prefix cache (`--kv-blocks`)
that publish KV events; the gateway inside `laneway up` subscribes to them. Every wait polls a
condition with a generous bound; nothing asserts on timing."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "tests" / "integration" / "cli"))

from cli_harness import Cli, Up, apply_ready

NS = "routing"
MANIFEST = f"""
# Four engine slots on this machine, whatever its core count: a Local cluster of its own.
apiVersion: laneway.dev/v1alpha1
kind: InferenceClass
metadata: {{name: sim-slots}}
spec:
  devices:
  - {{name: slot, claim: Synthetic, driver: slot.laneway.dev, count: 4}}
---
apiVersion: laneway.dev/v1alpha1
kind: InferenceCluster
metadata: {{name: sim-host, labels: {{routing-test: "true"}}}}
spec:
  cluster: {{source: Local, local: {{}}}}
  nodePools: [{{name: slots, className: sim-slots, nodeCount: 1, accounting: Device}}]
---
apiVersion: laneway.dev/v1alpha1
kind: ModelDeployment
metadata: {{name: kv-sim, namespace: {NS}, annotations: {{laneway.dev/job: "prefix routing test"}}}}
spec:
  replicas: 4
  template:
    spec:
      clusterSelector: {{matchLabels: {{routing-test: "true"}}}}
      engines:
      - name: sim
        members:
        - nodeSelector:
            devices: [{{name: slot, count: 1, selectors: [{{cel: device.driver == "slot.laneway.dev"}}]}}]
          template:
            spec:
              containers:
              - name: engine
                image: laneway/engine-sim
                command: [laneway, engine, sim]
                args: [--served-model-name, kv-sim, --kv-blocks, "60", --max-num-seqs, "2", --ttft, "0.005",
                       --itl, "0.01", --max-tokens, "4"]
---
apiVersion: laneway.dev/v1alpha1
kind: ModelService
metadata: {{name: kv-sim, namespace: {NS}}}
spec:
  modelNames: [kv-sim]
  routing: {{policy: KVAware}}
  queueTimeout: 60s
  endpoints:
  - selector: {{matchLabels: {{laneway.dev/deployment: kv-sim}}}}
"""
DEADLINE = 90.0


def until(what: str, probe: Callable[[], object], timeout: float = DEADLINE) -> object:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = probe()
        if got:
            return got
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def tenant(name: str) -> str:
    return f"You are the assistant of {name}. " + " ".join(f"{name} rule {i} applies." for i in range(220))


def body(system: str, question: str = "what now?", max_tokens: int = 4) -> dict[str, object]:
    return {"model": "kv-sim", "max_tokens": max_tokens,
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": question}]}


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Up, dict[str, str]]]:
    data = tmp_path_factory.mktemp("kv-up") / "data"
    with Up.running(data, local_cluster=False) as up:
        cli = Cli(up.data_dir)
        apply_ready(cli, up, MANIFEST, NS, "kv-sim")

        def endpoints() -> dict[str, str] | None:
            got = cli("get", "me", "-n", NS, "-o", "json")
            if got.exit_code != 0:
                return None
            doc = json.loads(got.output)
            items = doc.get("items", doc) if isinstance(doc, dict) else doc
            urls = {i["metadata"]["name"]: i["spec"]["url"] for i in items}
            return urls if len(urls) == 4 else None

        urls = until("four ready endpoints", endpoints)
        assert isinstance(urls, dict)
        yield up, urls


def test_prefix_sticks_moves_when_saturated_and_follows_evictions(fleet: tuple[Up, dict[str, str]]) -> None:
    up, urls = fleet
    gateway = f"http://127.0.0.1:{up.gateway_port}"
    with httpx.Client(base_url=gateway, timeout=60) as c:

        def ask(system: str, question: str = "what now?") -> str:
            r = c.post("/v1/chat/completions", json=body(system, question))
            assert r.status_code == 200, r.text
            return r.headers["x-laneway-endpoint"]

        def settled(system: str, where: str | None = None) -> str:
            """Ask until three answers in a row come from one replica (KV events arrive
            asynchronously), then ten more must all come from it."""
            streak: list[str] = []

            def three() -> str | None:
                streak.append(ask(system, f"question {len(streak)}"))
                last = streak[-3:]
                if len(last) == 3 and len(set(last)) == 1 and (where is None or last[0] == where):
                    return last[0]
                return None

            got = until(f"requests for one prefix to settle on {where or 'one replica'}", three)
            assert isinstance(got, str)
            assert [ask(system, f"again {i}") for i in range(10)] == [got] * 10
            return got

        until("the service to answer", lambda: c.post("/v1/chat/completions", json=body("hi")).status_code == 200)

        # 1. Sticky: one tenant's requests all land on the replica that holds its prefix.
        alpha = tenant("alpha")
        home = settled(alpha)

        # 2. Saturated: fill the home's queue (two slots, eight long requests sent straight to it);
        #    the gateway reads its waiting queue from /metrics and sends the tenant elsewhere.
        def placed(system: str, question: str) -> str:
            """Where the gateway sends a streamed request: known from the response headers, which
            the engine sends at once even while the request waits in its queue; leaving the
            stream aborts the request there."""
            with c.stream("POST", "/v1/chat/completions", json={**body(system, question), "stream": True}) as r:
                assert r.status_code == 200
                return r.headers["x-laneway-endpoint"]

        long_request = body("unrelated", max_tokens=1000)
        long_request["ignore_eos"] = True
        with ThreadPoolExecutor(max_workers=8) as pool, httpx.Client(timeout=120) as direct:
            busy = [pool.submit(direct.post, urls[home] + "/v1/chat/completions", json=long_request) for _ in range(8)]

            def elsewhere() -> str | None:
                where = placed(alpha, "while it is busy")
                return where if where != home else None

            moved = until("the tenant to move off its saturated home", elsewhere)
            assert moved != home
            assert all(f.result().status_code == 200 for f in busy)
        with httpx.Client(timeout=60) as direct2:
            # 3. Evictions: beta settles on one replica; other prompts sent straight to that replica
            #    evict beta's blocks there, and beta's prefix is put on another replica directly.
            beta = tenant("beta")
            first = settled(beta)
            for n in range(6):
                r = direct2.post(urls[first] + "/v1/chat/completions", json=body(tenant(f"filler{n}")))
                assert r.status_code == 200
            second = next(name for name in sorted(urls) if name not in (first, home))
            assert direct2.post(urls[second] + "/v1/chat/completions", json=body(beta, "seed")).status_code == 200
            # The index dropped beta from `first` (BlockRemoved) and added it on `second`.
            assert settled(beta, where=second) == second
