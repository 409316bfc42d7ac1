"""Which engines a Local cluster lets run, and what runs for a container: pure, no I/O.

A team writes a container (image, command, args, env); on a Local cluster that container is
run on this machine, so the platform decides what it may be. The cluster's
`spec.cluster.local.engines` lists allowed engines; a container is run by the first one whose
image pattern matches it and whose command it leaves empty or repeats exactly. What runs is
the allowed engine's command (the platform's words, not the team's), followed by the
container's args when the engine allows args. Only an engine with `allowCommand` runs the
team's own command: that is the platform's explicit "any command" choice.

Environment variables that change what a program loads (`LD_PRELOAD`, `PYTHONPATH`, ...)
would turn an allowed engine into any program, so a container may set them only on an engine
that allows any command anyway.

The scheduler uses `refusal` to keep replicas off clusters that would not run them (the
explanation names the allowed engines); the local driver uses `choose_engine` to build the
argv it starts, so a replica that reaches a cluster some other way still runs only what the
cluster allows. Kubernetes clusters are not restricted here: their pods run in the cluster's
own isolation (`engine_policy` returns None for them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase

from laneway.api.kinds.deployment import Engine
from laneway.api.kinds.platform import InferenceCluster, LocalEngine, LocalSource


@dataclass(frozen=True)
class AllowedEngine:
    """One engine a Local cluster allows (the scheduler's copy of a `LocalEngine`)."""

    name: str
    image: str
    command: tuple[str, ...]
    allow_args: bool = True
    allow_command: bool = False

    @classmethod
    def of(cls, engine: LocalEngine) -> AllowedEngine:
        return cls(engine.name, engine.image, tuple(engine.command), engine.allow_args, engine.allow_command)

    def describe(self) -> str:
        runs = "any command" if self.allow_command else (" ".join(self.command) or "nothing")
        image = "any image" if self.image == "*" else f"image {self.image}"
        return f"{self.name} ({image}: {runs})"


@dataclass(frozen=True)
class EnginePolicy:
    """The engines one Local cluster allows, in the order they are tried."""

    engines: tuple[AllowedEngine, ...]

    def describe(self, *, shown: int = 5) -> str:
        if not self.engines:
            return "none: its engines list is empty"
        text = ", ".join(e.describe() for e in self.engines[:shown])
        if len(self.engines) > shown:
            text += f" and {len(self.engines) - shown} more"
        return text


DEFAULT_LOCAL_ENGINES = EnginePolicy(
    (
        AllowedEngine("sim", "*", ("laneway", "engine", "sim")),
        AllowedEngine("llamacpp", "*", ("laneway", "engine", "llamacpp")),
    )
)
"""What a Local cluster written as `local: {}` allows: laneway's own simulator and llama.cpp
engines, whatever image a manifest names (the image is informational for them)."""


def engine_policy(cluster: InferenceCluster) -> EnginePolicy | None:
    """The engines a cluster allows; None when laneway does not start its engines as processes
    (on this machine for Local, through `laneway agent` for Machines)."""
    source = cluster.spec.cluster
    if source.source == "Local":
        local: LocalSource | None = source.local
    elif source.source == "Machines":
        local = source.machines  # an agent runs engines on its machine as the Local driver does here
    else:
        return None
    if local is None or local.engines is None:
        return DEFAULT_LOCAL_ENGINES
    return EnginePolicy(tuple(AllowedEngine.of(e) for e in local.engines))


# Variables through which a process can be made to load code it was not written to load.
_LOADER_PREFIXES = ("LD_", "PYTHON", "DYLD_")
_LOADER_NAMES = frozenset({"GCONV_PATH", "BASH_ENV", "ENV", "SHELLOPTS", "PS4", "PATH", "HOME", "TMPDIR", "HOSTALIASES",
                           "LOCPATH", "NLSPATH", "GLIBC_TUNABLES", "OPENSSL_CONF", "OPENSSL_MODULES", "NODE_OPTIONS",
                           "NODE_PATH", "PERL5OPT", "PERL5LIB", "PERLLIB", "RUBYOPT", "RUBYLIB", "JAVA_TOOL_OPTIONS",
                           "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS"})
_HARMLESS = frozenset({"PYTHONUNBUFFERED", "PYTHONHASHSEED", "PYTHONIOENCODING", "PYTHONDONTWRITEBYTECODE",
                       "PYTHONFAULTHANDLER", "PYTHONUTF8"})


def loader_variable(name: str) -> bool:
    """Whether an environment variable can change what code a process loads or runs."""
    if name in _HARMLESS:
        return False
    return name.upper() in _LOADER_NAMES or name.upper().startswith(_LOADER_PREFIXES)


@dataclass(frozen=True)
class ContainerRequest:
    """What a team asks one member to run, located for explanations."""

    engine: str
    member: int
    image: str
    command: tuple[str, ...]
    args: tuple[str, ...]
    env_names: tuple[str, ...]

    @property
    def where(self) -> str:
        return f"engine {self.engine!r} member {self.member + 1}"


def containers_of(engines: Sequence[Engine]) -> tuple[ContainerRequest, ...]:
    """Every member's container of a deployment's (or replica's) engines."""
    out = []
    for engine in engines:
        for mi, member in enumerate(engine.members):
            c = member.container
            out.append(ContainerRequest(engine.name, mi, c.image, tuple(c.command), tuple(c.args), tuple(v.name for v in c.env)))
    return tuple(out)


@dataclass(frozen=True)
class Launch:
    """What runs for a container: the allowed engine, and its argv before `$(VAR)` expansion."""

    engine: AllowedEngine
    argv: tuple[str, ...]


@dataclass(frozen=True)
class NotAllowed:
    """Why a container does not run on a cluster, naming what the cluster allows."""

    message: str


Choice = Launch | NotAllowed


def _shown(words: Sequence[str], limit: int = 120) -> str:
    text = repr(list(words))
    return text if len(text) <= limit else text[: limit - 4] + "...]"


def _why_not(request: ContainerRequest, engine: AllowedEngine) -> str | None:
    """Why this allowed engine does not run the request; None when it does."""
    if not fnmatchcase(request.image, engine.image):
        return f"image {request.image!r} is not {engine.image!r}"
    if request.command and request.command != engine.command and not engine.allow_command:
        return f"command {_shown(request.command)} is not {_shown(engine.command)}"
    if request.args and not engine.allow_args:
        return f"{engine.name} takes no args"
    if not engine.allow_command:
        loaders = [n for n in request.env_names if loader_variable(n)]
        if loaders:
            return f"env {', '.join(sorted(set(loaders)))} would change what {engine.name} loads"
    if not request.command and not engine.command:
        return f"{engine.name} runs the container's own command, and it has none"
    return None


def choose_engine(request: ContainerRequest, policy: EnginePolicy) -> Choice:
    """The first allowed engine that runs the request, and the argv it runs; or why none does."""
    misses = []
    for engine in policy.engines:
        why = _why_not(request, engine)
        if why is None:
            command = request.command if engine.allow_command and request.command else engine.command
            return Launch(engine, (*command, *(request.args if engine.allow_args else ())))
        misses.append(why)
    detail = "; ".join(dict.fromkeys(misses)) or "the list is empty"
    return NotAllowed(
        f"{request.where}: its container is not an engine this cluster allows ({detail}); "
        f"allowed engines: {policy.describe()}. Leave 'command' empty or use an allowed engine's command, "
        "or ask the platform team to allow this engine"
    )


def refusal(requests: Sequence[ContainerRequest], policy: EnginePolicy | None) -> str | None:
    """Why a cluster with this policy runs none of a replica like this; None when it runs all of it."""
    if policy is None:
        return None
    for request in requests:
        choice = choose_engine(request, policy)
        if isinstance(choice, NotAllowed):
            return choice.message
    return None
