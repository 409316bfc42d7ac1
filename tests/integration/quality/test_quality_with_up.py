"""Quality probes through a real `laneway up`: two healthy simulator deployments behind one
service pass the probe; one is then switched to `--wrong-answers` (a rollout of its template).
The probe fails on it, `QualityDegraded` names it, and with `eject` the gateway stops sending
it traffic.
Every wait polls with a generous bound; nothing asserts timing."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "tests" / "integration" / "cli"))

from cli_harness import Cli, Up, apply_ready

NS = "qa"
PROMPT = "What is the capital of France?"


def deployment(name: str, *extra: str) -> str:
    args = ", ".join(json.dumps(a) for a in ["--served-model-name", "qa", "--ttft", "0.005", "--itl", "0.002", *extra])
    return f"""
---
apiVersion: laneway.dev/v1alpha1
kind: ModelDeployment
metadata: {{name: {name}, namespace: {NS}, annotations: {{laneway.dev/job: "quality test"}}}}
spec:
  replicas: 1
  template:
    spec:
      clusterSelector: {{matchLabels: {{qa-test: "true"}}}}
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
                args: [{args}]
"""


FLEET = (
    """
apiVersion: laneway.dev/v1alpha1
kind: InferenceClass
metadata: {name: qa-slots}
spec:
  devices:
  - {name: slot, claim: Synthetic, driver: slot.laneway.dev, count: 4}
---
apiVersion: laneway.dev/v1alpha1
kind: InferenceCluster
metadata: {name: qa-host, labels: {qa-test: "true"}}
spec:
  cluster: {source: Local, local: {}}
  nodePools: [{name: slots, className: qa-slots, nodeCount: 1, accounting: Device}]
"""
    + deployment("good")
    + deployment("bad")
)


def service(golden: str | None, *, eject: bool = False) -> str:
    quality = ""
    if golden is not None:
        probe = json.dumps({"name": "capital", "prompt": PROMPT, "maxTokens": 6, "exact": golden})
        quality = f"\n  quality: {{interval: 1s, window: 3, minPassRate: 0.99, eject: {str(eject).lower()}, probes: [{probe}]}}"
    return f"""
apiVersion: laneway.dev/v1alpha1
kind: ModelService
metadata: {{name: qa, namespace: {NS}}}
spec:
  modelNames: [qa]
  endpoints:
  - {{name: good, selector: {{matchLabels: {{laneway.dev/deployment: good}}}}}}
  - {{name: bad, selector: {{matchLabels: {{laneway.dev/deployment: bad}}}}}}{quality}
"""


def until(what: str, probe: Callable[[], object], timeout: float = 150.0, seen: Callable[[], object] | None = None) -> object:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = probe()
        if got:
            return got
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}" + (f"; last seen: {seen()}" if seen is not None else ""))


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Up, Cli, Path]]:
    data = tmp_path_factory.mktemp("qa-up") / "data"
    with Up.running(data, local_cluster=False) as up:
        cli = Cli(up.data_dir)
        apply_ready(cli, up, FLEET + "---\n" + service(None), NS, "good", "bad")
        yield up, cli, data.parent


def _endpoints(cli: Cli) -> dict[str, tuple[str, str]]:
    got = json.loads(cli("get", "me", "-n", NS, "-o", "json").output)
    items = got.get("items", got) if isinstance(got, dict) else got
    return {i["metadata"]["name"]: (i["metadata"]["labels"]["laneway.dev/deployment"], i["spec"]["url"]) for i in items}


def _quality(cli: Cli) -> tuple[dict[str, object] | None, dict[str, dict[str, object]]]:
    doc = json.loads(cli("get", "ms", "qa", "-n", NS, "-o", "json").output)
    cond = next((c for c in doc["status"].get("conditions", []) if c["type"] == "QualityDegraded"), None)
    quality = doc["status"].get("quality") or {}
    return cond, {e["name"]: e for e in quality.get("endpoints", [])}


@pytest.mark.timeout(400)  # a rollout on a loaded machine; every wait is bounded on its own
def test_probe_fails_the_switched_replica_and_eject_takes_it_out(fleet: tuple[Up, Cli, Path]) -> None:
    up, cli, where = fleet
    eps = until("both endpoints", lambda: (lambda e: e if len(e) == 2 else None)(_endpoints(cli)))
    assert isinstance(eps, dict)
    good_url = next(url for dep, url in eps.values() if dep == "good")
    body = {"model": "qa", "messages": [{"role": "user", "content": PROMPT}], "max_tokens": 6, "temperature": 0}
    golden = httpx.post(f"{good_url}/v1/chat/completions", json=body, timeout=30).json()["choices"][0]["message"]["content"]

    path = where / "qa-service.yaml"
    path.write_text(service(golden))
    assert cli("apply", "-f", str(path)).exit_code == 0

    def all_pass() -> bool:
        cond, per = _quality(cli)
        return bool(cond and cond["status"] == "False" and set(per) == set(eps)
                    and all(e["passRate"] == 1.0 for e in per.values()))

    until("the probe to pass on both healthy replicas", all_pass)

    switched = where / "qa-bad-wrong.yaml"
    switched.write_text(deployment("bad", "--wrong-answers"))
    assert cli("apply", "-f", str(switched)).exit_code == 0

    # The rollout replaces the replica (its name is kept: the endpoint is bad-0 again).
    bad_name = next(name for name, (dep, _) in eps.items() if dep == "bad")

    def degraded() -> dict[str, object] | None:
        cond, per = _quality(cli)
        if cond and cond["status"] == "True" and bad_name in per and per[bad_name]["failing"]:
            return {"condition": cond, "endpoints": per}
        return None

    seen = until("QualityDegraded to name the switched replica", degraded,
                 seen=lambda: (_quality(cli), cli("describe", "md", "bad", "-n", NS).output))
    assert isinstance(seen, dict)
    per = seen["endpoints"]
    assert isinstance(per, dict)
    good = next(e for n, e in per.items() if _endpoints(cli).get(n, ("",))[0] == "good")
    assert good["passRate"] == 1.0 and not good["failing"]
    assert per[bad_name]["lastFailure"]["probe"] == "capital"
    assert per[bad_name]["lastFailure"]["answer"] and per[bad_name]["lastFailure"]["answer"] != golden
    assert bad_name in seen["condition"]["message"]  # type: ignore[index]

    gateway = f"http://127.0.0.1:{up.gateway_port}"
    with httpx.Client(base_url=gateway, timeout=60) as c:
        served = {c.post("/v1/chat/completions", json=body).headers.get("x-laneway-endpoint") for _ in range(12)}
        assert bad_name in served, "without eject the failing replica still gets traffic"

        path.write_text(service(golden, eject=True))
        assert cli("apply", "-f", str(path)).exit_code == 0

        def ejected() -> bool:
            names = [c.post("/v1/chat/completions", json=body).headers.get("x-laneway-endpoint") for _ in range(12)]
            return all(n is not None and n != bad_name for n in names)

        until("the failing replica to leave rotation", ejected)
