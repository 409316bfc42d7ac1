"""How an engine process is confined: its environment, its view of the files, its user.

Whatever runs as an engine is treated as hostile (its command may be a team's, and even an
allowed engine takes a team's args and model files). Every engine process gets:

- a scrubbed environment: `PATH` (the Python running laneway, then /usr/local/bin:/usr/bin:/bin),
  `HOME` (its working directory), `LANG=C.UTF-8`, and what its spec sets (laneway's documented
  `LANEWAY_*`/`MODELPLANE_*` variables and the container's `env`); nothing of laneway's own;
- its own working directory, `<data-dir>/engines/<replica uid>/<process id>`, and nothing else
  writable but a private `/tmp`;
- when laneway runs as root, an unprivileged user: uid/gid 65534 (`nobody`), or
  `LANEWAY_ENGINE_UID` when set in laneway's environment.

With bubblewrap (`bwrap`, Debian package `bubblewrap`) the engine also runs in its own mount,
pid, ipc and uts namespaces (the network is shared: engines listen on 127.0.0.1): the host's
files read-only, laneway's data directory, laneway's HOME and /tmp replaced by empty tmpfs, into
which only what the engine needs is bound back (the Python installation and laneway's package
read-only, its own working directory read-write, its replica's model cache read-only). It sees
its own processes only. As root, bwrap sets the namespaces up and `setpriv` drops to the
unprivileged user inside them: a user namespace mapped from root would still read root's files.

Without bwrap (or where it cannot create namespaces), laneway still scrubs the environment,
gives each engine its working directory and drops to the unprivileged user, and says in its
log that the sandbox is weaker: the engine then sees the host as that user does (laneway's data
directory is mode 0700, so its tokens and store stay unreadable, and so do model caches inside
it; and a Python installed under root's home cannot be run).

The argv and environment are built by pure functions (`engine_environment`, `bwrap_argv`);
`detect_confinement` is the one place that looks at the machine.
"""

from __future__ import annotations

import glob
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

ENGINE_UID = 65534
"""The unprivileged user (and group) engines run as when laneway runs as root: `nobody`."""
ENGINE_UID_VARIABLE = "LANEWAY_ENGINE_UID"
MINIMAL_PATH = "/usr/local/bin:/usr/bin:/bin"
DEVICE_GLOBS = ("/dev/nvidia*", "/dev/dri")
"""Accelerator devices bound into the sandbox's otherwise minimal /dev when present."""


@dataclass(frozen=True)
class Confinement:
    """How this machine confines engines, decided once per driver.

    `hidden`: directories the engine must not see (replaced by empty tmpfs); `needed`: paths
    it must see even when inside a hidden one (the Python and laneway it runs with)."""

    bwrap: str | None
    setpriv: str | None
    uid: int | None
    hidden: tuple[Path, ...]
    needed: tuple[Path, ...]
    devices: tuple[Path, ...] = ()
    weaker: str = ""
    """Empty when fully confined; else why the sandbox is weaker, for the log and `describe`."""

    def describe(self) -> str:
        """One line for the cluster's BackendReady condition: how its engines are confined."""
        who = f"as uid {self.uid}" if self.uid is not None else "as laneway's own user"
        if self.bwrap is not None:
            return f"engines run confined by bubblewrap, {who}, with a scrubbed environment"
        return self.weaker or f"engines run {who} with a scrubbed environment, without a sandbox"

    @property
    def hides_laneway_data(self) -> bool:
        """Whether engines cannot read laneway's data directory: a sandbox hides it, or they run
        as another user than laneway (which keeps it mode 0700)."""
        return self.bwrap is not None or self.uid is not None


@dataclass(frozen=True)
class EngineLaunch:
    """What the supervisor executes for one engine process: argv, environment, working
    directory and the user to become (None: stay who laneway is)."""

    argv: tuple[str, ...]
    env: Mapping[str, str]
    cwd: Path
    uid: int | None = None
    sandboxed: bool = False


def engine_environment(spec_env: Mapping[str, str], *, workdir: Path, python_path: str | None = None) -> dict[str, str]:
    """The whole environment of an engine: the minimal base, then what its spec sets (pure).

    `python_path` is where laneway's own package lives, for `laneway engine ...` commands, so
    they import the same laneway as the control plane that starts them."""
    bin_dir = str(Path(sys.executable).parent)
    env = {"PATH": f"{bin_dir}:{MINIMAL_PATH}", "HOME": str(workdir), "LANG": "C.UTF-8"}
    if python_path:
        env["PYTHONPATH"] = python_path
    env.update(spec_env)
    return env


def _under(path: Path, roots: Sequence[Path]) -> bool:
    return any(path == r or r in path.parents for r in roots)


def _dirs_between(root: Path, target: Path) -> list[Path]:
    """The directories strictly between a hidden root and a path bound inside it."""
    out = []
    for parent in reversed(target.parents):
        if root in parent.parents:
            out.append(parent)
    return out


def bwrap_argv(
    confinement: Confinement,
    *,
    argv: Sequence[str],
    env: Mapping[str, str],
    workdir: Path,
    read_only: Sequence[Path] = (),
) -> list[str]:
    """The bubblewrap command line that runs `argv` confined (pure).

    Mount order matters: the host read-only, then empty tmpfs over what is hidden (outer ones
    first), then the paths bound back into them, each with traversable parents (0711: enter, not
    list), then the working directory read-write. The empty tmpfs are 0711 as well: an engine
    may pass through them to what is bound inside, but cannot list them."""
    assert confinement.bwrap is not None
    out = [confinement.bwrap, "--die-with-parent", "--new-session", "--unshare-ipc", "--unshare-pid", "--unshare-uts",
           "--unshare-cgroup-try"]
    if confinement.uid is None:
        out.append("--unshare-user")  # unprivileged bwrap needs a user namespace for its mounts
    out += ["--ro-bind", "/", "/", "--dev", "/dev"]
    for device in confinement.devices:
        out += ["--dev-bind-try", str(device), str(device)]
    out += ["--proc", "/proc", "--perms", "1777", "--tmpfs", "/tmp"]
    roots: list[Path] = [Path("/tmp")]
    made: set[Path] = set()

    def parents(path: Path) -> None:
        """Traversable directories from the innermost hidden root above `path` down to it."""
        inner = max((r for r in roots if r in path.parents), key=lambda r: len(r.parts), default=None)
        if inner is None:
            return
        for d in _dirs_between(inner, path):
            if d not in made:
                made.add(d)
                out.extend(["--perms", "0711", "--dir", str(d)])

    for h in sorted({h for h in confinement.hidden if h != Path("/tmp")}, key=lambda p: len(p.parts)):
        parents(h)
        out += ["--perms", "0711", "--tmpfs", str(h)]
        roots.append(h)
    binds = [("--ro-bind", p) for p in confinement.needed if _under(p, roots)]
    binds += [("--bind", workdir)] + [("--ro-bind-try", p) for p in read_only]
    for kind, path in binds:
        parents(path)
        out += [kind, str(path), str(path)]
    out += ["--chdir", str(workdir), "--clearenv"]
    for key, value in env.items():
        out += ["--setenv", key, value]
    out.append("--")
    if confinement.uid is not None:
        assert confinement.setpriv is not None
        uid = str(confinement.uid)
        out += [confinement.setpriv, f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--no-new-privs",
                "--inh-caps=-all", "--bounding-set=-all", "--"]
    return out + list(argv)


def engine_launch(
    confinement: Confinement,
    *,
    argv: Sequence[str],
    spec_env: Mapping[str, str],
    workdir: Path,
    read_only: Sequence[Path] = (),
    python_path: str | None = None,
) -> EngineLaunch:
    """What to execute for one engine process under this confinement (pure)."""
    env = engine_environment(spec_env, workdir=workdir, python_path=python_path)
    if confinement.bwrap is not None:
        # bwrap gets no environment of its own: the engine's is set inside, with --setenv.
        argv = bwrap_argv(confinement, argv=argv, env=env, workdir=workdir, read_only=read_only)
        return EngineLaunch(tuple(argv), {}, workdir, sandboxed=True)
    return EngineLaunch(tuple(argv), env, workdir, confinement.uid)


def engine_uid(environ: Mapping[str, str]) -> int:
    """The unprivileged uid engines run as: LANEWAY_ENGINE_UID when it is a plain non-zero number."""
    raw = environ.get(ENGINE_UID_VARIABLE, "").strip()
    if raw.isdigit() and int(raw) > 0:
        return int(raw)
    if raw:
        log.warning("%s=%r is not a non-zero uid; engines run as %d", ENGINE_UID_VARIABLE, raw, ENGINE_UID)
    return ENGINE_UID


def laneway_root() -> Path:
    """The directory laneway's package is imported from (site-packages, or `src` of a checkout)."""
    import laneway

    return Path(laneway.__file__).resolve().parent.parent


def python_paths() -> tuple[Path, ...]:
    """The Python installation and laneway package an engine needs to see."""
    paths = {Path(sys.prefix), Path(sys.base_prefix), Path(sys.exec_prefix),
             Path(os.path.realpath(sys.executable)).parent.parent, laneway_root()}
    return tuple(sorted(p.resolve() for p in paths))


def _probe(argv: list[str]) -> str:
    """Empty when the sandbox starts a trivial command; else what went wrong."""
    try:
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=20, env={}, cwd="/", check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        return str(e)
    if done.returncode != 0:
        return (done.stderr or done.stdout).decode(errors="replace").strip()[:300] or f"exit code {done.returncode}"
    return ""


def detect_confinement(*, data_dir: Path, work_root: Path) -> Confinement:
    """Look at this machine once: is bwrap there and able to run, are we root, what to hide."""
    root = os.geteuid() == 0
    uid = engine_uid(os.environ) if root else None
    home = Path(os.path.expanduser("~")).resolve()
    hidden = tuple(sorted(p for p in {data_dir.resolve(), home} if p != Path("/") and p.is_dir()))
    devices = tuple(Path(d) for pattern in DEVICE_GLOBS for d in sorted(glob.glob(pattern)))
    bwrap = shutil.which("bwrap")
    setpriv = shutil.which("setpriv") if root else None
    base = Confinement(bwrap=None, setpriv=None, uid=uid, hidden=hidden, needed=python_paths(), devices=devices)
    if bwrap is None:
        why = "bubblewrap (bwrap) is not installed"
    elif root and setpriv is None:
        why = "setpriv (util-linux) is not installed, which drops root inside the sandbox"
    else:
        full = Confinement(bwrap=bwrap, setpriv=setpriv, uid=uid, hidden=hidden, needed=base.needed, devices=devices)
        work_root.mkdir(parents=True, exist_ok=True)
        problem = _probe(bwrap_argv(full, argv=["true"], env={}, workdir=work_root))
        if not problem:
            return full
        why = f"bwrap cannot create a sandbox here ({problem})"
    weaker = (f"engines run without a sandbox because {why}: their environment is scrubbed, each has its own "
              "working directory" + (f" and runs as uid {uid}" if uid is not None else ", but they run as laneway's own user")
              + ", yet they see the host's files as that user does; install bubblewrap (apt-get install bubblewrap) "
              "for the full confinement")
    log.warning("%s", weaker)
    return Confinement(bwrap=None, setpriv=None, uid=uid, hidden=hidden, needed=base.needed, devices=devices, weaker=weaker)


def prepare_workdir(path: Path, confinement: Confinement) -> None:
    """Create an engine's working directory, owned by the user it runs as, mode 0700."""
    path.mkdir(parents=True, exist_ok=True)
    if confinement.uid is not None:
        os.chown(path, confinement.uid, confinement.uid)
    os.chmod(path, 0o700)
