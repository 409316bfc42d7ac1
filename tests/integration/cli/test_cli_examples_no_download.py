"""`laneway apply -f examples/modelplane/` on a `laneway up` with a local cluster starts no
download: the examples' caches are needed by no placed replica, so none is staged.

The Hugging Face endpoint (HF_ENDPOINT) is a loopback listener that counts connections and
answers none: the network "fails". A staging attempt shows either as a connection there or as a
per-cluster entry in the cache's status (Hydrating, or Failed when the examples' own gateway's
egress policy refuses loopback), so the test asserts neither happened. Before on-demand
staging, the nemotron cache (no clusterSelector, sizeGiB 50) was staged onto every cluster,
`local` included, as soon as it was applied.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_harness import Cli, Up

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
SETTLE_DEADLINE = 90.0


class CountingListener:
    """A TCP listener on loopback that accepts, counts and closes every connection."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port: int = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()


@pytest.fixture
def hub() -> Iterator[CountingListener]:
    listener = CountingListener()
    try:
        yield listener
    finally:
        listener.close()


def _caches(cli: Cli) -> list[dict[str, object]]:
    out = cli("get", "mc", "-A", "-o", "json")
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    items = doc["items"] if isinstance(doc, dict) and "items" in doc else doc
    assert isinstance(items, list)
    return items


def _reason(cache: dict[str, object]) -> str | None:
    status = cache.get("status")
    conditions = status.get("conditions", []) if isinstance(status, dict) else []
    return next((c.get("reason") for c in conditions if c.get("type") == "Ready"), None)


def test_modelplane_examples_download_nothing_on_up(tmp_path: Path, hub: CountingListener) -> None:
    up = Up.start(tmp_path / "data", env={"HF_ENDPOINT": f"http://127.0.0.1:{hub.port}", "HF_HUB_ETAG_TIMEOUT": "2"})
    try:
        up.wait_ready()
        cli = Cli(up.data_dir)
        applied = cli("apply", "-f", str(EXAMPLES / "modelplane"))
        assert applied.exit_code == 0, applied.output
        deadline = time.monotonic() + SETTLE_DEADLINE
        caches = _caches(cli)
        while time.monotonic() < deadline and not all(_reason(c) for c in caches):
            time.sleep(0.5)
            caches = _caches(cli)
        assert caches and all(_reason(c) for c in caches), f"caches never reconciled: {caches}\n{up.output}"
        time.sleep(3)  # a hydration thread, had one started, connects within this
        assert hub.connections == 0, "a download was attempted for a cache no placed deployment needs"
        caches = _caches(cli)
        for cache in caches:
            status = cache.get("status")
            assert isinstance(status, dict) and not status.get("clusters"), f"staged though no replica needs it: {cache}"
            assert _reason(cache) in ("NotNeeded", "NoClusters"), cache
    finally:
        code = up.stop()
    assert code == 0, up.output
    assert up.leftovers() == []
