"""The cache sources' connections are judged one by one: a redirect from an allowed host to a
refused one is not followed into it, and a boto3 client's own connections go through the
policy even after its endpoint was checked. Servers on 127.0.0.1 (the sink) and 127.0.0.2
(the door the policy opens)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import EndpointConnectionError

from laneway.api.kinds.platform import GatewayEgress
from laneway.cache.errors import EgressDenied, SourceUnavailable
from laneway.cache.hydrate import hydrate
from laneway.cache.sources import HTTPFileSource
from laneway.egress.policy import EgressPolicy
from laneway.egress.sync_http import guard_boto3

ONLY_127_0_0_2 = EgressPolicy.from_specs([("gw", GatewayEgress.model_validate({"allow": [{"cidr": "127.0.0.2/32"}]}))])


class _Server:
    """Answers every GET with `status` and `Location`, and counts what it received."""

    def __init__(self, address: str, *, status: int = 404, location: str = "") -> None:
        self.requests: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                outer.requests.append(self.path)
                self.send_response(status)
                if location:
                    self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self._server = ThreadingHTTPServer((address, 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://{address}:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


@pytest.fixture
def sink() -> Iterator[_Server]:
    server = _Server("127.0.0.1")
    yield server
    server.close()


def test_a_redirect_into_a_refused_address_is_not_followed(sink: _Server, tmp_path: Path) -> None:
    redirector = _Server("127.0.0.2", status=302, location=f"{sink.url}/steal")
    try:
        with pytest.raises(EgressDenied, match="loopback"):
            hydrate(HTTPFileSource(f"{redirector.url}/model.gguf", bearer="team-token", policy=ONLY_127_0_0_2), tmp_path / "c")
        assert redirector.requests == ["/model.gguf"], "the control: the allowed host was asked"
        assert sink.requests == [], "the redirect target was never connected to"
    finally:
        redirector.close()


def test_boto3_connections_are_judged_whatever_the_endpoint_check_said(sink: _Server) -> None:
    client = boto3.client(
        "s3", region_name="us-east-1", endpoint_url=sink.url, aws_access_key_id="k", aws_secret_access_key="s",
        config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}),
    )
    guard_boto3(client, ONLY_127_0_0_2)
    with pytest.raises(EndpointConnectionError):
        client.list_objects_v2(Bucket="b")
    assert sink.requests == []


def test_a_name_that_does_not_resolve_is_unreachable_not_refused(tmp_path: Path) -> None:
    """No DNS is no decision of the policy: the status must not send the platform to open a door."""
    with pytest.raises(SourceUnavailable, match="could not be resolved") as caught:
        hydrate(HTTPFileSource("http://no-such-host.invalid/model.gguf", policy=EgressPolicy()), tmp_path / "c")
    assert not isinstance(caught.value, EgressDenied)
    with pytest.raises(EgressDenied, match="loopback"):
        hydrate(HTTPFileSource("http://127.0.0.1:9/model.gguf", policy=EgressPolicy()), tmp_path / "d")
