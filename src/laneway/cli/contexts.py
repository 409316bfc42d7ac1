"""CLI contexts, kubectl style: a named default namespace and server, chosen with `use-context`.

The file is `LANEWAY_CONFIG`, else `~/.laneway/config.json`:
`{"current": "team", "contexts": {"team": {"namespace": "ml-team", "server": "http://h:8470"}}}`.
Which namespace a command uses when `-n` is not given is decided by `default_namespace` (pure):
the current context's, else the token's own when it is limited to exactly one, else `default`.
A context's server is used when neither `--server` nor `LANEWAY_SERVER` names one
(`laneway.cli.config`). Contexts hold no token: a token is a secret, given with `--token` or
`LANEWAY_TOKEN`, and the local admin token still goes only to its own `laneway up`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import click

from laneway.api.meta import check_dns1123_label
from laneway.cli.config import ContextServer
from laneway.cli.errors import EXIT_USAGE, Failure

DEFAULT_NAMESPACE = "default"


def config_path(env: Mapping[str, str]) -> Path:
    explicit = env.get("LANEWAY_CONFIG")
    return Path(explicit).expanduser() if explicit else Path.home() / ".laneway" / "config.json"


@dataclass
class CliConfig:
    current: str | None = None
    contexts: dict[str, dict[str, str]] = field(default_factory=dict)

    @classmethod
    def read(cls, path: Path) -> CliConfig:
        """The file's contexts; a missing file is an empty config, an unreadable one an error."""
        try:
            raw: object = json.loads(path.read_text())
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError) as e:
            raise Failure(f"{path}: not a laneway CLI config ({e}); fix or remove the file") from None
        if not isinstance(raw, dict) or not isinstance(raw.get("contexts", {}), dict):
            raise Failure(f"{path}: expected {{\"current\": NAME, \"contexts\": {{NAME: {{\"namespace\": NS}}}}}}; fix or remove the file")
        contexts = {str(k): {str(a): str(b) for a, b in v.items()} for k, v in raw.get("contexts", {}).items() if isinstance(v, dict)}
        current = raw.get("current")
        return cls(current=current if isinstance(current, str) else None, contexts=contexts)

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"current": self.current, "contexts": self.contexts}, indent=2) + "\n")
        os.replace(tmp, path)

    def namespace(self) -> str | None:
        if self.current is None:
            return None
        return self.contexts.get(self.current, {}).get("namespace")

    def server(self) -> ContextServer | None:
        if self.current is None:
            return None
        server = self.contexts.get(self.current, {}).get("server")
        return ContextServer(context=self.current, server=server) if server else None


def default_namespace(context_namespace: str | None, token_namespaces: list[str] | None) -> str:
    """The namespace of a command without `-n` (pure)."""
    if context_namespace:
        return context_namespace
    if token_namespaces is not None and len(token_namespaces) == 1:
        return token_namespaces[0]
    return DEFAULT_NAMESPACE


def context_namespace(env: Mapping[str, str]) -> str | None:
    """The current context's namespace, or None (no file, no current context, or none set)."""
    return CliConfig.read(config_path(env)).namespace()


def context_server(env: Mapping[str, str]) -> ContextServer | None:
    """The current context's server, or None (no file, no current context, or none set)."""
    return CliConfig.read(config_path(env)).server()


def checked_server(url: str) -> str:
    """A context's server as an http(s) URL with a host (`host:port` gets `http://`); raises
    Failure saying what is wrong (pure)."""
    text = url.strip()
    if "://" not in text:
        text = "http://" + text
    text = text.rstrip("/")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Failure(f"--server: {url!r} is not an http(s) address; write it as http://HOST:PORT", EXIT_USAGE)
    try:
        parts.port  # noqa: B018 (a malformed port raises here)
    except ValueError:
        raise Failure(f"--server: {url!r} has a port that is not a number; write it as http://HOST:PORT", EXIT_USAGE) from None
    return text


@click.group("config")
def config() -> None:
    """Contexts: a named default namespace (and server) for commands run without -n (kubectl style)."""


@config.command("set-context")
@click.argument("name")
@click.option("-n", "--namespace", default=None, metavar="NS", help="The namespace commands use without -n.")
@click.option("--server", "server", default=None, metavar="URL", help="The API address commands use without --server/LANEWAY_SERVER.")
def set_context(name: str, namespace: str | None, server: str | None) -> None:
    """Create or change context NAME (it becomes current with `use-context NAME`); what is not
    given stays as it was."""
    if namespace is None and server is None:
        raise Failure(f"say what context {name!r} sets: --namespace NS, --server URL, or both", EXIT_USAGE)
    if namespace is not None:
        try:
            check_dns1123_label(namespace, "namespace")
        except ValueError as e:
            raise Failure(f"--namespace: {e}") from None
    path = config_path(os.environ)
    cfg = CliConfig.read(path)
    values = cfg.contexts.setdefault(name, {})
    if namespace is not None:
        values["namespace"] = namespace
    if server is not None:
        values["server"] = checked_server(server)
    cfg.write(path)
    said = ", ".join(f"{k} {v!r}" for k, v in sorted(values.items()))
    click.echo(f"context {name!r} set ({said}) in {path}")


@config.command("use-context")
@click.argument("name")
def use_context(name: str) -> None:
    """Make context NAME current."""
    path = config_path(os.environ)
    cfg = CliConfig.read(path)
    if name not in cfg.contexts:
        known = ", ".join(sorted(cfg.contexts)) or "none yet"
        raise Failure(
            f"no context {name!r} in {path} (known: {known}); create it with `laneway config set-context {name} --namespace NS` "
            "(and/or --server URL)"
        )
    cfg.current = name
    cfg.write(path)
    click.echo(f"switched to context {name!r} (namespace {cfg.contexts[name].get('namespace', DEFAULT_NAMESPACE)!r})")


@config.command("current-context")
def current_context() -> None:
    """Print the current context's name."""
    cfg = CliConfig.read(config_path(os.environ))
    if cfg.current is None:
        raise Failure("no current context; choose one with `laneway config use-context NAME`")
    click.echo(cfg.current)


@config.command("get-contexts")
def get_contexts() -> None:
    """List the contexts; `*` marks the current one."""
    cfg = CliConfig.read(config_path(os.environ))
    click.echo(f"{'CURRENT':<8} {'NAME':<20} {'NAMESPACE':<20} SERVER")
    for name, values in sorted(cfg.contexts.items()):
        namespace = values.get("namespace", DEFAULT_NAMESPACE)
        click.echo(f"{'*' if name == cfg.current else '':<8} {name:<20} {namespace:<20} {values.get('server', '-')}")
