"""What to tell a user whose CLI talks to the wrong place: nothing answers at the address, or
something answers that is not laneway's control API (most often its gateway's port).

Why: `cannot reach ...` alone left a newcomer guessing where the address came from (a flag, an
environment variable, or a `server.json` left by a `laneway up` that is gone) and how to name
another. The hint says where this address came from and each way to point the CLI elsewhere.
"""

from __future__ import annotations

from laneway.cli.config import Connection

CONNECTION_KEY = "laneway.connection"
"""Where `open_client` leaves the Connection in click's shared `ctx.meta`, for the error hint."""


def reach_hint(connection: Connection | None) -> str:
    """The lines after an unreachable-server or wrong-server error (pure)."""
    lines = []
    if connection is not None:
        origin = connection.source
        if origin.endswith("server.json"):
            lines.append(
                f"  the address came from {origin}, written by a `laneway up` on this machine; if that one stopped "
                "without cleaning up, start it again"
            )
        else:
            lines.append(f"  the address came from {origin}")
    lines.append(
        "  point the CLI at the API address `laneway up` prints as `API` (not the gateway's): --server http://HOST:PORT, "
        "or export LANEWAY_SERVER=http://HOST:PORT (and LANEWAY_TOKEN), or name it in a context (`laneway config "
        "set-context NAME --server http://HOST:PORT`, then `use-context NAME`); for a `laneway up --data-dir DIR` on "
        "this machine, export LANEWAY_DATA_DIR=DIR"
    )
    return "\n".join(lines)
