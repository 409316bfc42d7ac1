"""celpy's CEL parser built once per user and machine, not once per process.

Why: celpy builds its Lark LALR parser from the CEL grammar the first time a selector is
compiled: about 0.1 s of CPU in every process that compiles one (`laneway plan`, `laneway up`,
ticket checks), a fifth of what `laneway plan` spends importing. Lark can keep the analysed
grammar in a file and load it in a few milliseconds. The file starts with a digest of the
grammar, the parser options and Lark's version, which Lark checks on every load: a file left by
another celpy or Lark version is rebuilt, never used.

Safety: Lark reads that file with pickle, so only this user may be able to write it. It lives
in the user's own cache directory (`$XDG_CACHE_HOME/laneway`, else `~/.cache/laneway`), created
mode 0700, and is used only when that directory is owned by this user and not writable by group
or others. Anywhere else (no home, a read-only one, someone else's directory) the parser is
built as celpy builds it; the file is never put in a shared place such as /tmp, where Lark's
own `cache=True` would put it.

The parser is celpy's own: celpy's constructor runs unchanged with its options, only Lark is
handed the cache file for that one call.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from pathlib import Path

from celpy import celparser

CACHE_FILE = "cel-parser.lark"


def private_cache_dir(env: Mapping[str, str] = os.environ) -> Path | None:
    """This user's laneway cache directory, created 0700; None when it cannot be made or is
    not this user's alone."""
    try:
        base = Path(env.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "laneway"
        base.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = base.stat()
    except (OSError, RuntimeError):  # RuntimeError: no home directory to expand
        return None
    if info.st_uid != os.getuid() or info.st_mode & 0o022:
        return None
    return base


def build_cel_parser(cache_dir: Path | None) -> None:
    """Build celpy's one parser (if it is not built yet), through the cache file in `cache_dir`
    when one is given."""
    if celparser.CELParser.CEL_PARSER is not None:
        return
    if cache_dir is None:
        celparser.CELParser()
        return
    namespace = vars(celparser)  # the name celpy's constructor calls Lark by, swapped for that call
    lark = namespace["Lark"]
    namespace["Lark"] = functools.partial(lark, cache=str(cache_dir / CACHE_FILE))
    try:
        celparser.CELParser()
    finally:
        namespace["Lark"] = lark
