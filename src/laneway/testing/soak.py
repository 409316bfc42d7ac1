"""The soak: steady load through the gateway while laneway changes things, counted per fault.

What users of a serving platform expect is that a template edit, a scale-down, a restart or a
failed replica costs nothing they can see. This module drives a running `laneway up` through
those changes while a load of OpenAI clients (no client retries, 70% plain and 30% streamed
requests) calls the gateway, and counts every request by the fault that was in progress when
it started. The integration test runs it for about two minutes
(`tests/integration/rollouts/test_rollouts_soak.py`); `benchmarks/soak.py --minutes N` runs
it longer and prints the success rate per fault.

The fleet it sets up (`manifests`): a Local cluster of 16 synthetic slots; deployment `chat`
(3 simulator replicas) behind the Primary tier of service `chat`, and deployment `spare` (one
replica) behind its Overflow tier. The faults (`FAULTS`), each waited out until the fleet is
whole again:

- `template-edit`: an engine argument changes (a rolling update);
- `manual-scale-down`: `replicas` 3 -> 1, then back to 3;
- `autoscaler-scale-down`: autoscaling that asks for one replica, then removed;
- `kill-one-engine`: one engine process of `chat` is killed (SIGKILL);
- `kill-all-primary`: every engine of `chat` is killed at once; Overflow answers meanwhile.

What may fail: a *streamed* request whose engine was killed after its answer began (it ends
with an error event, see `gateway.stream_errors`). A plain request never should.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import textwrap
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
import openai
import psutil
from openai.types.chat import ChatCompletionMessageParam

from laneway.api.kinds.deployment import ModelDeployment, ModelReplica
from laneway.api.kinds.serving import ModelEndpoint
from laneway.api.manifest import load_text
from laneway.client import Client

NAMESPACE = "soak"
CLASS = "soak-cpu16"
CLUSTER = "soak-local"
REPLICAS = 3
WAIT = 120.0


def manifests(*, max_tokens: int = 12) -> str:
    """The fleet the soak runs against (see the module docstring)."""

    def deployment(name: str, replicas: int) -> str:
        return textwrap.dedent(f"""\
            apiVersion: laneway.dev/v1alpha1
            kind: ModelDeployment
            metadata: {{name: {name}, namespace: {NAMESPACE}, annotations: {{laneway.dev/job: soak test}}}}
            spec:
              replicas: {replicas}
              strategy: {{drainTimeout: 15s}}
              template:
                spec:
                  clusterSelector: {{matchLabels: {{laneway.dev/region: soak}}}}
                  engines:
                  - name: engine
                    members:
                    - nodeSelector: {{devices: [{{name: compute, count: 1, selectors: [{{cel: 'device.driver == "cpu.laneway.dev"'}}]}}]}}
                      template: {{spec: {{containers: [{{name: engine, image: laneway/engine-sim, command: [laneway, engine, sim],
                        args: ["--port", "$(LANEWAY_PORT)", "--served-model-name", chat, "--ttft", "0.02", "--itl", "0.01",
                               "--max-tokens", "{max_tokens}"]}}]}}}}
            """)

    return textwrap.dedent(f"""\
        apiVersion: laneway.dev/v1alpha1
        kind: InferenceClass
        metadata: {{name: {CLASS}}}
        spec:
          devices:
          - {{name: cpu, claim: Synthetic, driver: cpu.laneway.dev, count: 16}}
        ---
        apiVersion: laneway.dev/v1alpha1
        kind: InferenceCluster
        metadata: {{name: {CLUSTER}, labels: {{laneway.dev/region: soak}}}}
        spec:
          cluster: {{source: Local, local: {{}}}}
          nodePools:
          - {{name: cpu, className: {CLASS}, nodeCount: 1, accounting: Device}}
        ---
        """) + deployment("chat", REPLICAS) + "---\n" + deployment("spare", 1) + textwrap.dedent(f"""\
        ---
        apiVersion: laneway.dev/v1alpha1
        kind: ModelService
        metadata: {{name: chat, namespace: {NAMESPACE}}}
        spec:
          modelNames: [chat]
          owner: {{team: soak, contact: soak@example.com}}
          endpoints:
          - {{tier: Primary, selector: {{matchLabels: {{laneway.dev/deployment: chat}}}}}}
          - {{tier: Overflow, selector: {{matchLabels: {{laneway.dev/deployment: spare}}}}}}
        """)


# -- load -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    phase: str
    streamed: bool
    ok: bool
    error: str = ""
    at: float = 0.0


@dataclass
class Load:
    """`concurrency` callers in a thread of their own, each sending one request after another
    through the OpenAI client with retries off; a request that succeeds is recorded under the
    phase that was current when it started, one that fails under the phase current when it
    failed."""

    base_url: str
    concurrency: int = 16
    stream_share: float = 0.3
    seed: int = 0
    phase: str = "warm-up"
    outcomes: list[Outcome] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), name="soak-load", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)

    async def _run(self) -> None:
        client = openai.AsyncOpenAI(base_url=self.base_url, api_key="soak", max_retries=0, timeout=60)
        try:
            await asyncio.gather(*(self._caller(client, random.Random(self.seed + i)) for i in range(self.concurrency)))
        finally:
            await client.close()

    async def _caller(self, client: openai.AsyncOpenAI, rng: random.Random) -> None:
        messages: list[ChatCompletionMessageParam] = [{"role": "user", "content": "hello"}]
        while not self._stop.is_set():
            phase, streamed, started = self.phase, rng.random() < self.stream_share, time.time()
            try:
                if streamed:
                    stream = await client.chat.completions.create(model="chat", messages=messages, stream=True)
                    async for _ in stream:
                        pass
                else:
                    await client.chat.completions.create(model="chat", messages=messages)
                self.outcomes.append(Outcome(phase, streamed, True, at=started))
            except openai.APIError as e:
                # A failure belongs to what was going on when it happened (a stream begun in a
                # steady phase and cut by the kill that followed counts against the kill).
                self.outcomes.append(Outcome(self.phase, streamed, False, f"{type(e).__name__}: {str(e)[:160]}", at=started))
                await asyncio.sleep(0.05)


@dataclass(frozen=True)
class PhaseFigures:
    phase: str
    requests: int
    failed_plain: int
    failed_streamed: int
    errors: tuple[tuple[str, int], ...]

    @property
    def success_rate(self) -> float:
        return 1.0 if not self.requests else 1 - (self.failed_plain + self.failed_streamed) / self.requests


def figures(outcomes: list[Outcome]) -> list[PhaseFigures]:
    """Requests and failures per phase, in the order phases first appeared (pure)."""
    order: dict[str, list[Outcome]] = {}
    for o in outcomes:
        order.setdefault(o.phase, []).append(o)
    out = []
    for phase, got in order.items():
        errors = Counter(o.error.split(":")[0] + ("" if not o.streamed else " (stream)") for o in got if not o.ok)
        out.append(PhaseFigures(phase, len(got), sum(1 for o in got if not o.ok and not o.streamed),
                                sum(1 for o in got if not o.ok and o.streamed), tuple(sorted(errors.items()))))
    return out


def report(rows: list[PhaseFigures]) -> str:
    lines = [f"{'phase':24} {'requests':>8} {'success':>9} {'failed plain':>13} {'failed streamed':>16}  errors"]
    for r in rows:
        errors = ", ".join(f"{k} x{n}" for k, n in r.errors)
        lines.append(f"{r.phase:24} {r.requests:8d} {r.success_rate:9.2%} {r.failed_plain:13d} {r.failed_streamed:16d}  {errors}")
    total = sum(r.requests for r in rows)
    failed = sum(r.failed_plain + r.failed_streamed for r in rows)
    lines.append(f"{'all':24} {total:8d} {(1 - failed / total) if total else 1:9.2%}")
    return "\n".join(lines)


# -- faults ---------------------------------------------------------------------------------------


def engine_pids(root_pid: int, *, namespace: str, prefix: str) -> list[int]:
    """Engine processes laneway started under `root_pid` for replicas named `prefix...`."""
    out = []
    try:
        children = psutil.Process(root_pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    for child in children:
        try:
            env = child.environ()
            mine = env.get("LANEWAY_NAMESPACE") == namespace and env.get("LANEWAY_REPLICA", "").startswith(prefix)
            if mine and child.status() != psutil.STATUS_ZOMBIE:
                out.append(child.pid)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return out


@dataclass
class Soak:
    """A running fleet (API client, the `laneway up` process id) and its load."""

    client: Client
    up_pid: int
    load: Load
    log: Callable[[str], None] = print

    def eventually(self, what: str, probe: Callable[[], bool], timeout: float = WAIT) -> None:
        end = time.monotonic() + timeout
        while not probe():
            if time.monotonic() > end:
                raise AssertionError(f"soak: timed out after {timeout:.0f}s waiting for {what}")
            time.sleep(0.25)

    def whole(self, deployment: str = "chat", count: int = REPLICAS) -> bool:
        """`count` replicas, each Ready for its current spec and with an endpoint, none leaving."""
        replicas = [r for r in self.client.list("ModelReplica", namespace=NAMESPACE,
                                                label_selector=f"laneway.dev/deployment={deployment}").items
                    if isinstance(r, ModelReplica)]
        endpoints = [e for e in self.client.list("ModelEndpoint", namespace=NAMESPACE,
                                                 label_selector=f"laneway.dev/deployment={deployment}").items
                     if isinstance(e, ModelEndpoint)]
        ready = [r for r in replicas if r.status.phase == "Ready" and not r.metadata.deletion_timestamp
                 and r.status.observed_generation == r.metadata.generation]
        return len(replicas) == count and len(ready) == count and len(endpoints) == count

    def deployment(self, name: str = "chat") -> ModelDeployment:
        d = self.client.get("ModelDeployment", name, namespace=NAMESPACE)
        assert isinstance(d, ModelDeployment)
        return d

    def patch(self, patch: dict[str, object], name: str = "chat") -> None:
        self.client.patch("ModelDeployment", name, patch, namespace=NAMESPACE)

    def phase(self, name: str) -> None:
        self.load.phase = name
        self.log(f"soak: {name}")

    # the faults, in order ------------------------------------------------------------------

    def template_edit(self) -> None:
        d = self.deployment()
        engines = d.spec.template.spec.model_dump(by_alias=True, exclude_none=True)["engines"]
        args = engines[0]["members"][0]["template"]["spec"]["containers"][0]["args"]
        i = args.index("--max-tokens")
        args[i + 1] = str(int(args[i + 1]) + 1)
        self.patch({"spec": {"template": {"spec": {"engines": engines}}}})
        self.eventually("the rollout to complete", lambda: self._rolled() and self.whole())

    def _rolled(self) -> bool:
        rollout = self.deployment().status.rollout
        return rollout is not None and rollout.state == "Complete"

    def manual_scale_down(self) -> None:
        self.patch({"spec": {"replicas": 1}})
        self.eventually("the scale-down to one replica", lambda: self.whole(count=1))
        self.patch({"spec": {"replicas": REPLICAS}})
        self.eventually("the scale back up", self.whole)

    def autoscaler_scale_down(self) -> None:
        self.patch({"spec": {"autoscaling": {"minReplicas": 1, "maxReplicas": REPLICAS, "targetInFlight": 256,
                                             "scaleDownStabilization": "0s"}}})
        self.eventually("the autoscaler's scale-down to one replica", lambda: self.whole(count=1))
        self.patch({"spec": {"autoscaling": None, "replicas": REPLICAS}})
        self.eventually("the scale back up", self.whole)

    def restarts(self, deployment: str = "chat") -> int:
        """Engine restarts over the deployment's replicas (the supervisor counts them)."""
        return sum(r.status.restarts or 0 for r in self.client.list("ModelReplica", namespace=NAMESPACE,
                   label_selector=f"laneway.dev/deployment={deployment}").items if isinstance(r, ModelReplica))

    def _kill(self, pids: list[int]) -> None:
        before = self.restarts()
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        self.eventually("the killed engines to be restarted", lambda: self.restarts() >= before + len(pids))
        self.eventually("the fleet to be whole again", self.whole)

    def kill_one_engine(self) -> None:
        pids = engine_pids(self.up_pid, namespace=NAMESPACE, prefix="chat-")
        assert pids, "soak: no engine process of chat to kill"
        self._kill(pids[:1])

    def kill_all_primary(self) -> None:
        pids = engine_pids(self.up_pid, namespace=NAMESPACE, prefix="chat-")
        assert len(pids) >= REPLICAS, f"soak: expected {REPLICAS} engines of chat, found {len(pids)}"
        self._kill(pids)


FAULTS: tuple[tuple[str, Callable[[Soak], None]], ...] = (
    ("template-edit", Soak.template_edit),
    ("manual-scale-down", Soak.manual_scale_down),
    ("autoscaler-scale-down", Soak.autoscaler_scale_down),
    ("kill-one-engine", Soak.kill_one_engine),
    ("kill-all-primary", Soak.kill_all_primary),
)


def set_up(client: Client, gateway: str) -> str:
    """Apply the soak's fleet and wait until the service answers; returns its OpenAI base URL."""
    for obj in load_text(manifests()):
        client.apply(obj)
    base = f"{gateway}/{NAMESPACE}/chat/v1"
    soak = Soak(client, 0, Load(base))
    soak.eventually("chat's replicas", soak.whole)
    soak.eventually("spare's replica", lambda: soak.whole("spare", 1))

    def answers() -> bool:
        try:
            return httpx.post(f"{base}/chat/completions", json={"model": "chat", "messages": [{"role": "user", "content": "hi"}]},
                              timeout=10).status_code == 200
        except httpx.HTTPError:
            return False

    soak.eventually("the gateway to route chat", answers, timeout=30)
    return base


def run(client: Client, *, up_pid: int, gateway: str, concurrency: int = 16, rounds: int = 1, quiet: float = 3.0,
        minutes: float | None = None, log: Callable[[str], None] = print) -> list[PhaseFigures]:
    """Set up, then run every fault `rounds` times (or, with `minutes`, round after round until
    that long has passed, at least once) with `quiet` seconds of plain load before each and
    after the last; returns the figures per phase (fault)."""
    base = set_up(client, gateway)
    load = Load(base, concurrency=concurrency)
    soak = Soak(client, up_pid, load, log=log)
    end = time.monotonic() + minutes * 60 if minutes is not None else None
    load.start()
    try:
        soak.phase("steady")
        time.sleep(quiet)
        done = 0
        while done < rounds or (end is not None and time.monotonic() < end):
            done += 1
            for name, fault in FAULTS:
                soak.phase(name)
                fault(soak)
                soak.phase("steady")
                time.sleep(quiet)
    finally:
        load.stop()
    return figures(load.outcomes)
