"""Kind arguments on the command line: `md`, `modeldeployments`, `ModelDeployment`, `md,ms`,
and `get all`."""

from __future__ import annotations

from laneway.api.registry import KindInfo, UnknownKind, lookup
from laneway.cli.context import DEFAULT_NAMESPACE

ALL = "all"
ALL_KINDS = ("ModelDeployment", "ModelReplica", "ModelEndpoint", "ModelService", "ModelCache", "InferenceTicket")
"""What `laneway get all` lists, as kubectl's `all` lists a namespace's workloads: the ML team's
namespaced kinds, in the order a model comes up. Secrets are left out (as kubectl leaves them),
and so are the platform's cluster-scoped kinds."""


def parse_kinds(text: str, *, allow_all: bool = False) -> list[KindInfo]:
    """Comma-separated kind names, each resolved through the registry; duplicates collapse.
    With `allow_all`, `all` stands for ALL_KINDS. Raises UnknownKind naming the known spellings."""
    out: list[KindInfo] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        infos = [lookup(k) for k in ALL_KINDS] if allow_all and part.lower() == ALL else [lookup(part)]
        out += [info for info in infos if info not in out]
    if not out:
        raise UnknownKind(text)
    return out


def namespace_for(info: KindInfo, namespace: str | None) -> str | None:
    """The namespace a request about this kind uses: None for cluster-scoped kinds."""
    if not info.namespaced:
        return None
    return namespace or DEFAULT_NAMESPACE


def ref(info: KindInfo, name: str) -> str:
    """How the CLI names one object in its messages: `modeldeployment/llama`."""
    return f"{info.singular}/{name}"


def one_kind(text: str) -> KindInfo:
    """Exactly one kind (describe, delete, scale, wait name one object)."""
    infos = parse_kinds(text)
    if len(infos) != 1:
        from laneway.cli.errors import EXIT_USAGE, Failure

        raise Failure(f"this command takes one kind, got {text!r}", EXIT_USAGE)
    return infos[0]


def split_kind_name(kinds: str, name: str | None) -> tuple[str, str | None]:
    """`md/chat` as `md chat` (as describe, logs and rollout accept it); a second name is an error."""
    if "/" not in kinds:
        return kinds, name
    kind, _, slash_name = kinds.partition("/")
    from laneway.cli.errors import EXIT_USAGE, Failure

    if name is not None or not slash_name or "," in kind:
        raise Failure(f"{kinds!r}: name one object as KIND/NAME or KIND NAME, not both (and one kind)", EXIT_USAGE)
    return kind, slash_name
