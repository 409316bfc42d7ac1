"""`laneway economics` against a real `laneway up`: two simulator replicas on a device-priced
pool and a priced external endpoint (a local server the test's platform opened loopback egress
to). After a load through the gateway, the report's cost per million tokens, the provider's
price for the same tokens and the namespace's spend match the tokens the clients were told they
used and the declared prices. Every wait polls with a generous bound; nothing asserts timing."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "tests" / "integration" / "cli"))
sys.path.insert(0, str(ROOT / "tests" / "integration" / "gateway"))

from cli_harness import Cli, Up, apply_ready
from gateway_harness import LoopThread, Upstream

from laneway.testing.fleet import LOOPBACK_EGRESS

NS = "econ"
PER_DEVICE_HOUR = 1.5
IN_PRICE, OUT_PRICE = 2.0, 6.0


def manifest(provider_url: str) -> str:
    return f"""
apiVersion: laneway.dev/v1alpha1
kind: InferenceGateway
metadata: {{name: front-door}}
spec: {{egress: {json.dumps(LOOPBACK_EGRESS)}}}
---
apiVersion: laneway.dev/v1alpha1
kind: InferenceClass
metadata: {{name: econ-slots}}
spec:
  devices:
  - {{name: slot, claim: Synthetic, driver: slot.laneway.dev, count: 4}}
  pricing: {{perNodeHour: 4.0, perDeviceHour: {PER_DEVICE_HOUR}, currency: USD}}
---
apiVersion: laneway.dev/v1alpha1
kind: InferenceCluster
metadata: {{name: econ-host, labels: {{econ-test: "true"}}}}
spec:
  cluster: {{source: Local, local: {{}}}}
  nodePools: [{{name: slots, className: econ-slots, nodeCount: 1, accounting: Device}}]
---
apiVersion: laneway.dev/v1alpha1
kind: ModelDeployment
metadata: {{name: chat, namespace: {NS}, annotations: {{laneway.dev/job: "economics test"}}}}
spec:
  replicas: 2
  template:
    spec:
      clusterSelector: {{matchLabels: {{econ-test: "true"}}}}
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
                args: [--served-model-name, chat, --ttft, "0.005", --itl, "0.005", --max-tokens, "6"]
---
apiVersion: laneway.dev/v1alpha1
kind: ModelEndpoint
metadata: {{name: hosted, namespace: {NS}, labels: {{provider: hosted}}}}
spec:
  url: "{provider_url}/v1"
  pricing: {{perMillionInputTokens: {IN_PRICE}, perMillionOutputTokens: {OUT_PRICE}, currency: USD}}
---
apiVersion: laneway.dev/v1alpha1
kind: ModelService
metadata: {{name: chat, namespace: {NS}}}
spec:
  endpoints:
  - {{name: own, selector: {{matchLabels: {{laneway.dev/deployment: chat}}}}}}
  - {{name: bought, tier: Overflow, selector: {{matchLabels: {{provider: hosted}}}}}}
---
apiVersion: laneway.dev/v1alpha1
kind: ModelService
metadata: {{name: spill, namespace: {NS}}}
spec:
  endpoints:
  - {{name: own, selector: {{matchLabels: {{role: none-yet}}}}}}
  - {{name: bought, tier: Overflow, selector: {{matchLabels: {{provider: hosted}}}}}}
---
apiVersion: laneway.dev/v1alpha1
kind: ModelService
metadata: {{name: bare, namespace: {NS}}}
spec:
  endpoints:
  - {{name: own, selector: {{matchLabels: {{role: none-yet}}}}}}
---
apiVersion: laneway.dev/v1alpha1
kind: ModelService
metadata: {{name: bought, namespace: {NS}}}
spec:
  endpoints:
  - {{name: hosted, selector: {{matchLabels: {{provider: hosted}}}}}}
"""


def until(what: str, probe: Callable[[], object], timeout: float = 120.0) -> object:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = probe()
        if got:
            return got
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Up, Cli, Upstream]]:
    data = tmp_path_factory.mktemp("econ-up") / "data"
    loop = LoopThread()
    provider = Upstream("hosted")
    loop.call(provider.start())
    try:
        with Up.running(data, local_cluster=False) as up:
            cli = Cli(up.data_dir)
            apply_ready(cli, up, manifest(provider.url), NS, "chat")
            yield up, cli, provider
    finally:
        loop.call(provider.stop())
        loop.close()


def _stamp(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def test_economics_matches_metered_tokens_and_declared_prices(fleet: tuple[Up, Cli, Upstream]) -> None:
    up, cli, _ = fleet
    gateway = f"http://127.0.0.1:{up.gateway_port}"
    own = {"prompt": 0, "completion": 0}
    bought = {"prompt": 0, "completion": 0}
    # chat's requests the gateway overflowed to the provider (a replica it judged busy or
    # unhealthy on a loaded machine): metered as bought, not self-hosted, as they should be.
    spilled = {"prompt": 0, "completion": 0}
    with httpx.Client(base_url=gateway, timeout=60) as c:

        def ask(path: str, into: dict[str, int], i: int) -> bool:
            body = {"model": "chat", "max_tokens": 6, "messages": [{"role": "user", "content": f"question number {i} " * (i % 4 + 1)}]}
            r = c.post(path, json=body)
            if r.status_code != 200:
                return False
            if into is own and r.headers.get("x-laneway-tier") == "Overflow":
                into = spilled
            usage = r.json()["usage"]
            into["prompt"] += usage["prompt_tokens"]
            into["completion"] += usage["completion_tokens"]
            return True

        until("the service to answer", lambda: ask(f"/{NS}/chat/v1/chat/completions", own, 0))
        for i in range(1, 24):
            assert ask(f"/{NS}/chat/v1/chat/completions", own, i)
        until("the provider to answer", lambda: ask(f"/{NS}/bought/v1/chat/completions", bought, 0))
        for i in range(1, 6):
            assert ask(f"/{NS}/bought/v1/chat/completions", bought, i)
    assert own["prompt"] and own["completion"] and bought["prompt"]

    def report() -> dict[str, object] | None:
        got = cli("economics", "-n", NS, "--window", "1d", "-o", "json")
        assert got.exit_code == 0, got.output
        doc = json.loads(got.output)
        chat = next(s for s in doc["services"] if s["name"] == "chat")
        tokens = chat["self_hosted_tokens"]
        ours = {"prompt": tokens["prompt"], "completion": tokens["completion"]}
        paid = sum(p["tokens"]["prompt"] for s in doc["services"] for p in s["providers"])
        done = ours == own and paid == bought["prompt"] + spilled["prompt"]
        return doc if done else None

    before = time.time()
    doc = until("the gateway's token counts in the services' status", report)
    after = time.time()
    assert isinstance(doc, dict)
    chat = next(s for s in doc["services"] if s["name"] == "chat")
    replicas = json.loads(cli("get", "mr", "-n", NS, "-o", "json").output)
    items = replicas.get("items", replicas) if isinstance(replicas, dict) else replicas
    created = [_stamp(r["metadata"]["creationTimestamp"]) for r in items]
    assert len(created) == 2
    span_start = chat["span"]["start"]
    # Two replicas, one device each, at the declared device price, from their creation (or the
    # span's start) until the report: bounded by when the report was asked for.
    low = sum((before - max(t, span_start)) / 3600 * PER_DEVICE_HOUR for t in created)
    high = sum((after - max(t, span_start)) / 3600 * PER_DEVICE_HOUR for t in created)
    assert low - 1e-9 <= chat["capacity_cost"] <= high + 1e-9
    total = own["prompt"] + own["completion"]
    assert chat["cost_per_million"] == pytest.approx(chat["capacity_cost"] * 1e6 / total)
    [deployment] = chat["deployments"]
    assert deployment["name"] == "chat" and deployment["replicas"] == 2
    assert deployment["cost_per_million"] == pytest.approx(chat["cost_per_million"])
    # The same tokens at the Overflow provider's declared price.
    assert chat["compared_with"] == "hosted"
    bought_cost = (own["prompt"] * IN_PRICE + own["completion"] * OUT_PRICE) / 1e6
    assert chat["same_tokens_bought"] == pytest.approx(bought_cost)
    # Spend per namespace: the replicas' capacity over the namespace's span (from the earliest
    # start of its services' token totals), and what the provider was paid.
    [spend] = doc["namespaces"]
    assert spend["namespace"] == NS
    ns_start = spend["span"]["start"]
    assert ns_start <= span_start
    low = sum((before - max(t, ns_start)) / 3600 * PER_DEVICE_HOUR for t in created)
    high = sum((after - max(t, ns_start)) / 3600 * PER_DEVICE_HOUR for t in created)
    assert low - 1e-9 <= spend["self_hosted"] <= high + 1e-9
    paid_in, paid_out = bought["prompt"] + spilled["prompt"], bought["completion"] + spilled["completion"]
    assert spend["external"] == pytest.approx((paid_in * IN_PRICE + paid_out * OUT_PRICE) / 1e6)

    # The economics controller keeps the same figures on the service's status.
    def status_figures() -> dict[str, object] | None:
        got = json.loads(cli("get", "ms", "chat", "-n", NS, "-o", "json").output)
        figures = got["status"].get("economics") or {}
        done = figures.get("promptTokens") == own["prompt"] and figures.get("completionTokens") == own["completion"]
        return figures if done else None

    figures = until("status.economics to carry the metered tokens", status_figures)
    assert isinstance(figures, dict)
    assert figures["comparedWith"] == "hosted"
    assert figures["sameTokensBought"] == pytest.approx(bought_cost, abs=1e-6)
    assert figures["capacityCost"] > 0 and figures["costPerMillionTokens"] == pytest.approx(figures["capacityCost"] * 1e6 / total, rel=1e-3)

    table = cli("economics", "ms/chat", "-n", NS)
    assert table.exit_code == 0 and "per million tokens" in table.output and "bought from hosted" in table.output, table.output
    wrong = cli("economics", "md/chat", "-n", NS)
    assert wrong.exit_code != 0 and "ms/NAME" in wrong.output and "Traceback" not in wrong.output


def test_a_spent_budget_stops_paid_overflow_until_break_glass(fleet: tuple[Up, Cli, Upstream], tmp_path: Path) -> None:
    up, cli, provider = fleet
    gateway = f"http://127.0.0.1:{up.gateway_port}"
    limit = 0.0004
    budget = tmp_path / "budget.yaml"
    budget.write_text(f"""
apiVersion: laneway.dev/v1alpha1
kind: InferenceGateway
metadata: {{name: front-door}}
spec:
  egress: {json.dumps(LOOPBACK_EGRESS)}
  budgets: [{{namespace: {NS}, limit: {limit}, period: 30d, warnAt: 0.5}}]
""")
    applied = cli("apply", "-f", str(budget))
    assert applied.exit_code == 0, applied.output
    body = {"model": "chat", "messages": [{"role": "user", "content": "hello"}]}
    with httpx.Client(base_url=gateway, timeout=60) as c:
        # The service with no overflow at all: what a spent namespace's callers must get.
        bare = until("the bare service to refuse", lambda: c.post(f"/{NS}/bare/v1/chat/completions", json=body).status_code != 404)
        assert bare
        no_overflow = c.post(f"/{NS}/bare/v1/chat/completions", json=body)
        assert no_overflow.status_code >= 500

        answered = 0

        def stopped() -> bool:
            nonlocal answered
            r = c.post(f"/{NS}/spill/v1/chat/completions", json=body)
            if r.status_code == 200:
                answered += 1
                return False
            return r.status_code == no_overflow.status_code

        until("paid overflow to stop once the budget is spent", stopped, timeout=180)
        assert answered > 0, "overflow to the provider worked before the budget was spent"
        # Once stopped, the provider gets nothing more from this namespace.
        received = len(provider.received)
        for _ in range(3):
            assert c.post(f"/{NS}/spill/v1/chat/completions", json=body).status_code == no_overflow.status_code
        assert len(provider.received) == received

        got = json.loads(cli("get", "ig", "front-door", "-o", "json").output)
        [ledger] = got["status"]["budgets"]
        assert ledger["namespace"] == NS and ledger["exhausted"] and ledger["spent"] >= limit
        conditions = {c["type"]: c for c in got["status"]["conditions"]}
        assert conditions["BudgetExhausted"]["status"] == "True" and NS in conditions["BudgetExhausted"]["message"]
        assert conditions["BudgetApproached"]["status"] == "True"

        on = cli("service", "break-glass", "spill", "--on", "-n", NS)
        assert on.exit_code == 0, on.output
        until("break-glass to reopen the paid provider", lambda: c.post(f"/{NS}/spill/v1/chat/completions", json=body).status_code == 200)
