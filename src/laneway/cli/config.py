"""Which server the CLI talks to, and with which token.

The order, first match wins: `--server` / `--token` flags, then `LANEWAY_SERVER` /
`LANEWAY_TOKEN`, then the current context's server (`laneway config set-context NAME
--server URL`; contexts hold no token), then the data directory of a local `laneway up`
(`--data-dir`, `LANEWAY_DATA_DIR`, or `~/.laneway`), whose `server.json` names the API address
and whose `admin.token` holds the admin token.

One rule guards the admin token: it is only ever sent to the server named in that same data
directory's `server.json`. A `--server` pointing elsewhere gets no token unless one is given,
so a local admin token never leaks to a remote host.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from laneway.paths import DEFAULT_DATA_DIR, DataDir


@dataclass(frozen=True)
class Connection:
    server: str
    token: str | None
    source: str  # where the server address came from, for messages such as "cannot reach ..."


@dataclass(frozen=True)
class LocalInstance:
    """What a data directory says about a local `laneway up`: its API address and admin token."""

    root: Path
    server: str | None
    token: str | None

    @classmethod
    def read(cls, root: Path) -> LocalInstance:
        d = DataDir(root)
        info = d.read_server_info() or {}
        server = info.get("server")
        return cls(root=root, server=server if isinstance(server, str) and server else None, token=d.read_admin_token())


class NoServer(Exception):
    """Nothing says where a laneway API is."""


def _same_server(a: str, b: str) -> bool:
    return a.rstrip("/") == b.rstrip("/")


@dataclass(frozen=True)
class ContextServer:
    """The server the current CLI context names (`laneway config set-context NAME --server URL`)."""

    context: str
    server: str


def resolve_connection(
    *,
    server_flag: str | None,
    token_flag: str | None,
    env: Mapping[str, str],
    local: LocalInstance,
    context: ContextServer | None = None,
) -> Connection:
    """Pure: flags, then environment, then the current context's server, then the local
    instance. Raises NoServer when none says."""
    server, source = None, ""
    if server_flag:
        server, source = server_flag, "--server"
    elif env.get("LANEWAY_SERVER"):
        server, source = env["LANEWAY_SERVER"], "LANEWAY_SERVER"
    elif context is not None:
        server, source = context.server, f"the current context {context.context!r} (laneway config get-contexts)"
    elif local.server:
        server, source = local.server, f"{local.root / 'server.json'}"
    if not server:
        raise NoServer(
            f"no laneway server found: nothing in --server, LANEWAY_SERVER, the current context, or "
            f"{local.root / 'server.json'}. Start one with `laneway up` (in another terminal), or set "
            "LANEWAY_SERVER=http://HOST:PORT and LANEWAY_TOKEN (or `laneway config set-context NAME --server URL`)"
        )
    if not server.startswith(("http://", "https://")):
        server = "http://" + server
    token = token_flag or env.get("LANEWAY_TOKEN") or None
    if token is None and local.token and local.server and _same_server(server, local.server):
        token = local.token
    return Connection(server=server.rstrip("/"), token=token, source=source)


def local_root(data_dir_flag: str | None, env: Mapping[str, str]) -> Path:
    """`--data-dir`, else LANEWAY_DATA_DIR, else the default (as laneway.paths defines it)."""
    if data_dir_flag:
        return Path(data_dir_flag).expanduser()
    if env.get("LANEWAY_DATA_DIR"):
        return Path(env["LANEWAY_DATA_DIR"]).expanduser()
    return DEFAULT_DATA_DIR


def discover(
    *,
    server_flag: str | None,
    token_flag: str | None,
    data_dir_flag: str | None,
    env: Mapping[str, str],
    context: ContextServer | None = None,
) -> Connection:
    """The I/O wrapper: reads the data directory, then decides with `resolve_connection`."""
    root = local_root(data_dir_flag, env)
    return resolve_connection(
        server_flag=server_flag, token_flag=token_flag, env=env, local=LocalInstance.read(root), context=context
    )



def __getattr__(name: str) -> object:
    """`laneway config` (contexts) lives in laneway.cli.contexts; the command loader finds a
    module's command by the module's name, so it is handed out here, imported on first use
    (laneway.cli.errors imports this module, and contexts imports errors)."""
    if name == "config":
        from laneway.cli.contexts import config

        return config
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
