"""`laneway logs mr/NAME`: the engine logs of a replica on a Local cluster.

The local driver writes one log file per engine process under the data directory
(`logs/<namespace>/<replica>/<engine>-<copy>-<role>-<rank>.log`); this command reads them
there, so it works for the `laneway up` that owns that data directory.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from laneway.cli.terminal import echo_styled
from laneway.drivers.local.supervisor import tail
from laneway.paths import DataDir
from laneway.paths import data_dir as resolve_data_dir


def _replica_name(ref: str) -> str:
    kind, sep, name = ref.partition("/")
    if not sep:
        return ref
    if kind.lower() not in ("mr", "modelreplica", "modelreplicas"):
        raise click.UsageError(f"logs are kept per replica: write mr/NAME (got {ref!r})")
    return name


def log_files(root: Path, namespace: str, replica: str, engine: str | None) -> list[Path]:
    folder = root / "logs" / namespace / replica
    files = sorted(folder.glob("*.log")) if folder.is_dir() else []
    if engine:
        files = [f for f in files if f.name.startswith(f"{engine}-")]
    return files


@click.command("logs")
@click.argument("replica")
@click.option("-n", "--namespace", default="default", show_default=True, help="Namespace of the replica.")
@click.option("--engine", "-e", default=None, help="Only this engine's processes.")
@click.option("--tail", "lines", type=click.IntRange(min=0), default=200, show_default=True, help="Lines per process (0: everything).")
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines until interrupted.")
@click.option("--data-dir", default=None, help="Data directory of the `laneway up` running the replica.")
def logs(replica: str, namespace: str, engine: str | None, lines: int, follow: bool, data_dir: str | None) -> None:
    """Show the engine logs of replica REPLICA (mr/NAME) on a Local cluster."""
    root = DataDir(resolve_data_dir(data_dir)).root
    name = _replica_name(replica)
    files = log_files(root, namespace, name, engine)
    if not files:
        what = f" for engine {engine!r}" if engine else ""
        raise click.ClickException(
            f"no logs{what} of replica {namespace}/{name} under {root / 'logs'}. Logs are kept for replicas on Local "
            "clusters of the `laneway up` using this data directory; check the name with `laneway get mr -n "
            f"{namespace}`, or pass --data-dir"
        )
    for f in files:
        if len(files) > 1:
            echo_styled(f"==> {f.stem} <==", bold=True)
        click.echo(f.read_text(errors="replace") if lines == 0 else tail(f, lines))
    if follow:
        _follow(files)


def _follow(files: list[Path]) -> None:
    offsets = {f: f.stat().st_size for f in files}
    try:
        while True:
            for f in files:
                try:
                    size = f.stat().st_size
                except OSError:
                    continue
                if size > offsets[f]:
                    with open(f, "rb") as fh:
                        fh.seek(offsets[f])
                        chunk = fh.read().decode(errors="replace")
                    offsets[f] = size
                    prefix = f"[{f.stem}] " if len(files) > 1 else ""
                    for line in chunk.splitlines():
                        sys.stdout.write(prefix + line + "\n")
                    sys.stdout.flush()
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
