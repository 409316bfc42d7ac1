"""Loopback servers for cache tests: a Range-aware HTTP file server that can cut a download
short once, a fake Hugging Face Hub on top of it (the two calls `huggingface_hub` and the
source make: the model-info API and `resolve` downloads), and moto's S3 server. Each is
started and stopped by one fixture."""

from __future__ import annotations

import hashlib
import json
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class FileServerState:
    files: dict[str, bytes] = field(default_factory=dict)
    cut_after: int | None = None
    """Send this many body bytes of the next GET longer than that, then drop the connection (once)."""
    ranges: list[str | None] = field(default_factory=list)
    gets: int = 0
    api: dict[str, tuple[int, dict[str, str], bytes]] = field(default_factory=dict)
    """Fixed answers by path (query ignored): status, headers, body."""


def _handler(state: FileServerState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            path = self.path.partition("?")[0]
            if path in state.api:
                status, headers, payload = state.api[path]
                self.send_response(status)
                for k, v in {**headers, "Content-Length": str(len(payload))}.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(payload)
                return
            body = state.files.get(path)
            state.gets += 1
            rng = self.headers.get("Range")
            state.ranges.append(rng)
            if body is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            start = 0
            if rng and rng.startswith("bytes="):
                start = int(rng[len("bytes="):].split("-")[0])
                if start >= len(body):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(body)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            else:
                self.send_response(200)
            payload = body[start:]
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if state.cut_after is not None and len(payload) > state.cut_after:
                cut, state.cut_after = state.cut_after, None
                self.wfile.write(payload[:cut])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            self.wfile.write(payload)

    return Handler


class FileServer:
    def __init__(self) -> None:
        self.state = FileServerState()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.state))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FileServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class FakeHub(FileServer):
    """A Hugging Face Hub on loopback: `add_repo` publishes files at a commit; LFS files carry
    their SHA-256 in the listing as the real Hub's does (`lfs` can be overridden to lie)."""

    def add_repo(self, repo: str, commit: str, files: dict[str, bytes], *, lfs: set[str], wrong_sha: frozenset[str] = frozenset()) -> None:
        siblings = []
        for name, data in files.items():
            sibling: dict[str, object] = {"rfilename": name, "size": len(data)}
            if name in lfs:
                sha = hashlib.sha256(b"not these bytes" if name in wrong_sha else data).hexdigest()
                sibling["lfs"] = {"size": len(data), "sha256": sha, "pointerSize": 134}
            siblings.append(sibling)
            self.state.files[f"/{repo}/resolve/{commit}/{name}"] = data
        doc = json.dumps({"id": repo, "modelId": repo, "sha": commit, "siblings": siblings}).encode()
        self.state.api[f"/api/models/{repo}"] = (200, {"Content-Type": "application/json"}, doc)
        for revision in ("main", commit):
            self.state.api[f"/api/models/{repo}/revision/{revision}"] = (200, {"Content-Type": "application/json"}, doc)

    def missing_repo(self, repo: str) -> None:
        body = json.dumps({"error": "Repository not found"}).encode()
        self.state.api[f"/api/models/{repo}/revision/main"] = (404, {"X-Error-Code": "RepoNotFound", "Content-Type": "application/json"}, body)


class MotoS3:
    """moto's S3-compatible server on loopback, with a boto3 client for setting up objects."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        self.port = free_port()
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self):  # type: ignore[no-untyped-def]
        import boto3

        return boto3.client(
            "s3", region_name="us-east-1", endpoint_url=self.endpoint,
            aws_access_key_id="testing", aws_secret_access_key="testing",
        )

    def __enter__(self) -> MotoS3:
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop()


