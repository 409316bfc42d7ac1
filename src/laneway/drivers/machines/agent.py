"""`laneway agent`: one machine of a Machines cluster, running what the control plane gives it.

It discovers the machine's devices (NVML as the Local cluster does; the CPU otherwise), joins
once with a join token (the credential it gets back is kept in its data directory, mode 0600,
so a restart does not need a new token), and then beats: each heartbeat carries what its
engines are doing and brings back the replicas this machine should run. Those run under the
Local driver itself (`LocalDriver`: the same supervision, confinement, readiness probes and
cache mounts as on the control plane's own machine); a replica no longer listed is stopped.
The caches it is told to stage it stages on its own disk with the Local driver's cache code.

It keeps its engines running while the control plane cannot be reached, and reconciles with the
first answer after. A refused credential (revoked: `laneway cluster remove-machine`) or a
machine the cluster no longer has stops every engine and ends the agent: it was cut off.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from pydantic import ValidationError

from laneway import __version__
from laneway.api.kinds.cache import ModelCache
from laneway.api.kinds.deployment import ModelReplica
from laneway.api.kinds.platform import InferenceCluster, InferenceGateway
from laneway.drivers.local.discovery import Nvml, discover_local_class
from laneway.drivers.local.driver import LocalDriver
from laneway.drivers.machines.forward import PortForwards
from laneway.drivers.machines.membership import devices_summary, pods_of
from laneway.drivers.machines.protocol import (
    AGENT_PREFIX,
    MAX_MODELS,
    CacheReport,
    EngineReport,
    Heartbeat,
    JoinAnswer,
    JoinRequest,
    MemberReport,
    Orders,
    ReplicaReport,
    RunOrder,
)
from laneway.egress.policy import EgressPolicy
from laneway.server.auth import write_private
from laneway.server.certificates import pinned_ca

log = logging.getLogger("laneway.agent")

IDENTITY_FILE = "agent.json"
CA_FILE = "ca.pem"
RETRY_SECONDS = 2.0
REQUEST_TIMEOUT = 10.0


class AgentRefused(Exception):
    """The control plane refused this agent for good (a used or expired join token, a revoked
    credential, a pool its devices do not fit); the message says why and what to do."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status

    @property
    def cut_off(self) -> bool:
        """The machine's credential is revoked or the machine is gone: it must run nothing."""
        return self.status in (401, 410)


@dataclass(frozen=True)
class Identity:
    """Who this machine is once joined: kept in the data directory."""

    server: str
    cluster: str
    machine: str
    pool: str
    credential: str

    def save(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        write_private(data_dir / IDENTITY_FILE, json.dumps(self.__dict__, indent=2) + "\n")

    @classmethod
    def load(cls, data_dir: Path) -> Identity | None:
        try:
            data = json.loads((data_dir / IDENTITY_FILE).read_text())
            return cls(**{k: str(data[k]) for k in ("server", "cluster", "machine", "pool", "credential")})
        except (OSError, ValueError, KeyError, TypeError):
            return None


@dataclass(frozen=True)
class AgentConfig:
    server: str
    data_dir: Path
    join_token: str | None = None
    cluster: str | None = None
    pool: str | None = None
    machine: str = ""
    address: str = "127.0.0.1"
    listen: str = "127.0.0.1"
    ca_cert_hash: str | None = None
    nvml: Nvml | None = None


def runnable(replica: ModelReplica, order: RunOrder) -> frozenset[str]:
    """The ordered processes that can start now: a Worker waits until its leader's address is
    known, unless the leader runs on this machine too."""
    here = set(order.processes)
    leaders_here = {p.gang for p in pods_of(replica) if p.leader and p.id in here}
    return frozenset(p.id for p in pods_of(replica) if p.id in here and (
        p.leader or p.gang in leaders_here or p.gang in order.leader_addresses))


def default_machine_name() -> str:
    """This host's name as a DNS label (what the machine is called if not told)."""
    name = "".join(c if c.isalnum() else "-" for c in socket.gethostname().lower()).strip("-")
    return name[:63].strip("-") or "machine"


def _message(body: Any, status: int) -> str:
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return str(body["message"])
    return f"HTTP {status}"


class Agent:
    def __init__(self, config: AgentConfig) -> None:
        self.config = config
        self.driver = LocalDriver(logs_dir=config.data_dir / "logs", cache_dir=config.data_dir / "caches", data_dir=config.data_dir)
        self.forwards = PortForwards(config.listen)
        self.running: dict[str, ModelReplica] = {}
        self.caches: dict[str, ModelCache] = {}
        self.cluster: InferenceCluster | None = None
        self.identity: Identity | None = None

    async def _call(self, session: aiohttp.ClientSession, method: str, path: str, token: str, body: Any = None) -> Any:
        url = self.config.server.rstrip("/") + path
        async with session.request(method, url, json=body, headers={"Authorization": f"Bearer {token}"}) as resp:
            try:
                data = await resp.json(content_type=None)
            except ValueError:  # not JSON: a proxy's error page, say
                data = None
            if resp.status in (401, 403, 404, 409, 410, 413, 422):
                raise AgentRefused(_message(data, resp.status), resp.status)
            if resp.status >= 300:
                raise aiohttp.ClientResponseError(resp.request_info, (), status=resp.status, message=_message(data, resp.status))
            return data

    async def join(self, session: aiohttp.ClientSession) -> Identity:
        """The kept identity, or a new one from exchanging the join token (retried while the
        server cannot be reached; a refusal is final)."""
        kept = Identity.load(self.config.data_dir)
        if kept is not None:
            return kept
        if not self.config.join_token:
            raise AgentRefused(f"{self.config.data_dir} holds no credential and no --token was given: "
                               "mint a join token (laneway cluster join-token CLUSTER) and pass it with --token")
        devices = discover_local_class(self.config.nvml)
        ask = JoinRequest(machine=self.config.machine or default_machine_name(), cluster=self.config.cluster,
                          pool=self.config.pool, address=self.config.address, devices=devices.spec)
        while True:
            try:
                data = await self._call(session, "POST", f"{AGENT_PREFIX}/join", self.config.join_token, ask.wire())
                break
            except (aiohttp.ClientError, TimeoutError) as e:
                log.warning("cannot reach %s to join (%s); trying again", self.config.server, e)
                await asyncio.sleep(RETRY_SECONDS)
        answer = JoinAnswer.model_validate(data)
        identity = Identity(server=self.config.server, cluster=answer.cluster, machine=answer.machine, pool=answer.pool,
                            credential=answer.credential)
        identity.save(self.config.data_dir)
        log.info("joined cluster %s as machine %s in pool %s (%s)", answer.cluster, answer.machine, answer.pool,
                 devices_summary(devices))
        return identity

    async def reports(self) -> list[ReplicaReport]:
        """What runs here, each engine by the port of its door (`forward.py`)."""
        out = []
        engine_ports: set[int] = set()
        for uid, replica in self.running.items():
            seen = await self.driver.observe(replica)
            addresses = []
            for a in seen.addresses:
                port = urlsplit(a.url).port
                if port is None:
                    continue
                engine_ports.add(port)
                addresses.append(EngineReport(engine=a.engine, engine_copy=a.copy, port=await self.forwards.ensure(port),
                                              ready=a.ready, models=list(a.models)[:MAX_MODELS]))
            out.append(ReplicaReport(
                namespace=replica.namespace, name=replica.name, uid=uid, ready=seen.ready, reason=seen.reason,
                message=seen.message[:2048], addresses=addresses,
                members=[MemberReport(id=m.id, engine=m.engine, phase=m.phase, ready=m.ready, restarts=m.restarts)
                         for m in seen.members],
            ))
        await self.forwards.keep(engine_ports)
        return out

    async def cache_reports(self) -> list[CacheReport]:
        """Where staging each ordered cache stands on this machine."""
        if self.cluster is None:
            return []
        out = []
        for uid, cache in self.caches.items():
            state = await self.driver.observe_cache(cache, self.cluster)
            out.append(CacheReport(namespace=cache.namespace, name=cache.name, uid=uid, state=state.state,
                                   message=(state.message or "")[:2048], bytes=state.bytes))
        return out

    async def stage(self, orders: Orders, cluster: InferenceCluster) -> None:
        """Stage the ordered caches on this machine's disk (the Local driver's cache code, under
        the fleet's egress policy) and remove those no longer ordered."""
        policy = EgressPolicy.from_gateways([InferenceGateway.model_validate(g) for g in orders.gateways])
        wanted = {c.metadata.uid or "": c for c in (ModelCache.model_validate(doc) for doc in orders.caches)}
        for uid in [u for u in self.caches if u not in wanted]:
            cache = self.caches.pop(uid)
            log.info("removing cache %s/%s: no longer ordered here", cache.namespace, cache.name)
            await self.driver.delete_cache(cache, cluster)
        for uid, cache in wanted.items():
            self.caches[uid] = cache
            await self.driver.apply_cache(cache, cluster, egress=policy)

    async def reconcile(self, orders: Orders) -> None:
        """Run what the orders list and stop what they do not."""
        cluster = InferenceCluster.model_validate(orders.cluster)
        self.cluster = cluster
        await self.stage(orders, cluster)
        wanted: dict[str, tuple[ModelReplica, RunOrder]] = {}
        for order in orders.replicas:
            replica = ModelReplica.model_validate(order.replica)
            wanted[replica.metadata.uid or ""] = (replica, order)
        for uid in [u for u in self.running if u not in wanted]:
            replica = self.running.pop(uid)
            log.info("stopping replica %s/%s: this machine no longer runs it", replica.namespace, replica.name)
            await self.driver.teardown(replica)
        for uid, (replica, order) in wanted.items():
            if uid not in self.running:
                log.info("starting replica %s/%s%s", replica.namespace, replica.name,
                         f" ({', '.join(order.processes)})" if order.processes else "")
            self.running[uid] = replica
            try:
                if not order.processes:
                    await self.driver.apply(replica, cluster)
                else:
                    await self.driver.apply_members(replica, cluster, members=runnable(replica, order),
                                                    leader_addresses=order.leader_addresses)
            except OSError as e:  # one replica that cannot start (a full disk, say) must not stop the others
                log.error("cannot start replica %s/%s: %s", replica.namespace, replica.name, e)

    async def beat(self, session: aiohttp.ClientSession, identity: Identity) -> float:
        """One heartbeat; seconds until the next."""
        path = f"{AGENT_PREFIX}/clusters/{identity.cluster}/machines/{identity.machine}/heartbeat"
        body = Heartbeat(reports=await self.reports(), caches=await self.cache_reports()).wire()
        orders = Orders.model_validate(await self._call(session, "POST", path, identity.credential, body))
        await self.reconcile(orders)
        return float(orders.heartbeat_seconds)

    async def trust(self) -> ssl.SSLContext | None:
        """How the server is verified over https: the CA kept from an earlier start; else the CA
        the server offers, once its fingerprint matches `--ca-cert-hash` (it is then kept); else
        the system's trust store (a reverse proxy with a public certificate). None for http."""
        if not self.config.server.startswith("https://"):
            return None
        kept = self.config.data_dir / CA_FILE
        if kept.exists():
            return ssl.create_default_context(cafile=str(kept))
        if not self.config.ca_cert_hash:
            return ssl.create_default_context()
        url = self.config.server.rstrip("/") + f"{AGENT_PREFIX}/ca"
        timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
        # Unverified on purpose: what is trusted is the fingerprint checked below, not the channel.
        async with aiohttp.ClientSession(timeout=timeout) as session, session.get(url, ssl=False) as resp:
            if resp.status != 200:
                raise AgentRefused(f"{url} answered HTTP {resp.status}: is this laneway's TLS door for agents (laneway up --agent-port)?")
            pem = str((await resp.json(content_type=None)).get("caCert", ""))
        try:
            ca = pinned_ca(pem, self.config.ca_cert_hash)
        except ValueError as e:
            raise AgentRefused(f"{url} {e}: this is not the control plane the join token came from") from None
        kept.write_text(ca)
        return ssl.create_default_context(cadata=ca)

    async def run(self, stop: asyncio.Event) -> None:
        """Join, then beat until `stop` is set or the control plane cuts this machine off."""
        timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
        try:
            while True:
                try:
                    context = await self.trust()
                    break
                except (aiohttp.ClientError, TimeoutError) as e:
                    log.warning("cannot reach %s to fetch its CA (%s); trying again", self.config.server, e)
                    await asyncio.sleep(RETRY_SECONDS)
            connector = aiohttp.TCPConnector(ssl=context if context is not None else True)
            async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
                self.identity = await self.join(session)
                while not stop.is_set():
                    try:
                        wait = await self.beat(session, self.identity)
                    except (aiohttp.ClientError, TimeoutError) as e:
                        log.warning("control plane unreachable (%s); engines keep running", e)
                        wait = RETRY_SECONDS
                    except ValidationError as e:
                        log.error("the control plane's answer is not one this agent reads (are their laneway versions "
                                  "the same? this is %s): %s; engines keep running", __version__, e)
                        wait = RETRY_SECONDS
                    except AgentRefused as e:
                        if e.cut_off:
                            raise
                        log.error("the control plane refused a heartbeat (%s; are their laneway versions the same? this is "
                                  "%s); engines keep running", e, __version__)
                        wait = RETRY_SECONDS
                    try:
                        await asyncio.wait_for(stop.wait(), wait)
                    except TimeoutError:
                        pass
        except AgentRefused as e:
            if self.identity is not None and e.cut_off:  # cut off after joining: it must run nothing any more
                (self.config.data_dir / IDENTITY_FILE).unlink(missing_ok=True)
            raise
        finally:
            await self.forwards.close()
            await self.driver.close()


def check_data_dir(path: Path) -> Path:
    """The agent's data directory, created owner-only."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
    return path

