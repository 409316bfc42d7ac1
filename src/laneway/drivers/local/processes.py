"""What processes a replica is, as plain data: the pure half of the local driver.

`replica_processes` turns a ModelReplica into one `ProcessSpec` per engine copy and member
(a Worker with `worker.nodes: N` is N processes), with the command resolved, `$(VAR)`
references expanded as Kubernetes expands them, and laneway's variables injected:
`LANEWAY_PORT` (a port chosen by the caller), `LANEWAY_LEADER_ADDRESS` and `LANEWAY_RANK`
(for Leader/Worker engines), their `MODELPLANE_` aliases, and `LANEWAY_MODEL_CACHE` when a
ModelCache is mounted.

The argv is the one the cluster's allowed engine gives (`laneway.placement.engines`), never
simply the container's command: a container no allowed engine runs raises `EngineNotAllowed`
and no process of the replica is started.
"""

from __future__ import annotations

import re
import shutil
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from laneway.api.kinds.deployment import Member, ModelReplica
from laneway.placement.engines import DEFAULT_LOCAL_ENGINES, EnginePolicy, Launch, choose_engine, containers_of

_VAR_REF = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


def expand(text: str, env: Mapping[str, str]) -> str:
    """Kubernetes' `$(VAR)` expansion: a defined variable is replaced, an undefined reference is
    left as written, and `$$` escapes to a literal `$`."""

    def repl(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group(1)
        return env[name] if name in env else m.group(0)

    return _VAR_REF.sub(repl, text)


def resolve_command(argv: list[str]) -> list[str]:
    """`laneway` resolves to the running installation, so engines such as `laneway engine sim`
    run with the same Python and package as the control plane that starts them.

    `laneway engine ...` runs the engine commands' own module, which skips importing the rest
    of the CLI (the API client, the resource model): an engine is ready sooner, and a
    replica with it."""
    if len(argv) >= 2 and argv[0] == "laneway" and argv[1] == "engine":
        return [sys.executable, "-m", "laneway.cli.engine", *argv[2:]]
    if argv and argv[0] == "laneway":
        return [sys.executable, "-m", "laneway.cli.main", *argv[1:]]
    if argv and "/" not in argv[0]:
        found = shutil.which(argv[0])
        if found:
            return [found, *argv[1:]]
    return list(argv)


class EngineNotAllowed(Exception):
    """A replica's container is not one the cluster's allowed engines run; the message says which are."""


def process_id(engine: str, copy: int, role: str, rank: int) -> str:
    """`<engine>-<copy>-<role>-<rank>`: one process (one pod, on Kubernetes) of a replica."""
    return f"{engine}-{copy}-{role.lower()}-{rank}"


def gang_key(engine: str, copy: int) -> str:
    """`<engine>-<copy>`: one copy of an engine, whose members share one leader."""
    return f"{engine}-{copy}"


@dataclass(frozen=True)
class ProcessSpec:
    """One process of a replica. `serving` marks the processes whose port is the replica's endpoint."""

    engine: str
    copy: int
    role: str
    rank: int
    port: int
    argv: tuple[str, ...]
    env: tuple[tuple[str, str], ...]
    serving: bool

    @property
    def id(self) -> str:
        return process_id(self.engine, self.copy, self.role, self.rank)

    @property
    def runs_laneway(self) -> bool:
        """Whether this is one of laneway's own commands (`laneway ...`), run by this Python."""
        return len(self.argv) >= 3 and self.argv[0] == sys.executable and self.argv[1] == "-m" and self.argv[2].startswith("laneway.")


def replica_processes(
    replica: ModelReplica,
    *,
    allocate_port: Callable[[str], int],
    cache_path: str | None = None,
    policy: EnginePolicy = DEFAULT_LOCAL_ENGINES,
    leader_addresses: Mapping[str, str] | None = None,
) -> list[ProcessSpec]:
    """Every process the replica needs. `allocate_port(process_id)` returns the port for one
    process (the caller keeps ports stable across restarts). Raises `EngineNotAllowed` when a
    container is not one of `policy`'s engines.

    `leader_addresses` (by `gang_key`) gives the leader's `host:port` where it runs on another
    machine (a gang spread over machines); else a member's leader is on 127.0.0.1."""
    launches: dict[tuple[str, int], Launch] = {}
    for request in containers_of(replica.spec.engines):
        choice = choose_engine(request, policy)
        if not isinstance(choice, Launch):
            raise EngineNotAllowed(choice.message)
        launches[(request.engine, request.member)] = choice
    specs: list[ProcessSpec] = []
    for engine in replica.spec.engines:
        for copy in range(engine.copies):
            ranks: list[tuple[Member, Launch, str, int, int]] = []
            for mi, declared in enumerate(engine.members):
                for _ in range(declared.pods):
                    rank = len(ranks)
                    pid = process_id(engine.name, copy, declared.role, rank)
                    ranks.append((declared, launches[(engine.name, mi)], declared.role, rank, allocate_port(pid)))
            leader_port = next((port for _, _, role, _, port in ranks if role in ("Leader", "Standalone")), ranks[0][4])
            leader = (leader_addresses or {}).get(gang_key(engine.name, copy), f"127.0.0.1:{leader_port}")
            for member, launch, role, rank, port in ranks:
                specs.append(
                    _spec(
                        replica,
                        member,
                        launch,
                        engine=engine.name,
                        copy=copy,
                        role=role,
                        rank=rank,
                        port=port,
                        leader=leader,
                        cache_path=cache_path,
                    )
                )
    return specs


def _spec(
    replica: ModelReplica,
    member: Member,
    launch: Launch,
    *,
    engine: str,
    copy: int,
    role: str,
    rank: int,
    port: int,
    leader: str,
    cache_path: str | None,
) -> ProcessSpec:
    container = member.container
    env: dict[str, str] = {
        "LANEWAY_PORT": str(port),
        "LANEWAY_RANK": str(rank),
        "LANEWAY_LEADER_ADDRESS": leader,
        "LANEWAY_REPLICA": replica.metadata.name,
        "LANEWAY_NAMESPACE": replica.namespace,
        "LANEWAY_ENGINE": engine,
    }
    if cache_path:
        env["LANEWAY_MODEL_CACHE"] = cache_path
    for key in ("PORT", "RANK", "LEADER_ADDRESS", "MODEL_CACHE"):
        if f"LANEWAY_{key}" in env:
            env[f"MODELPLANE_{key}"] = env[f"LANEWAY_{key}"]
    # Container env may refer to earlier variables and to laneway's, as in Kubernetes; laneway's
    # own stay as laneway set them (an engine and the tests that find it rely on them).
    own = dict(env)
    for var in container.env:
        if var.name not in own:
            env[var.name] = expand(var.value or "", env)
    argv = resolve_command([expand(a, env) for a in launch.argv])
    return ProcessSpec(
        engine=engine,
        copy=copy,
        role=role,
        rank=rank,
        port=port,
        argv=tuple(argv),
        env=tuple(sorted(env.items())),
        serving=role in ("Standalone", "Leader"),
    )
