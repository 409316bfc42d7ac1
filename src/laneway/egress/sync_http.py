"""Blocking HTTP clients for team-written URLs, with every connection judged by the policy.

- `client(policy)`: an httpx client (HTTP and Hugging Face downloads) whose transport opens
  each TCP connection through `resolve.connect`: one lookup, judged addresses only, and TLS
  still verified against the host name (SNI and certificate checks are httpcore's, on top of
  the judged socket). It ignores the environment (`trust_env=False`): no proxy variables and
  no `~/.netrc` credentials of the host are used for a team's URL. Redirects are followed
  and each hop's connection is judged the same way; httpx drops `Authorization` when a
  redirect leaves the origin.
- `guard_boto3(client, policy)`: installs the same judgement into a boto3 client's urllib3
  pools (botocore offers no public hook for the connection; this sets the pool classes that
  its HTTP session creates connections with).
"""

from __future__ import annotations

import socket
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

from laneway.egress.policy import EgressPolicy, EgressRefused
from laneway.egress.resolve import connect


class GuardedBackend(httpcore.SyncBackend):
    """httpcore's blocking network backend, connecting only to addresses the policy allows."""

    def __init__(self, policy: EgressPolicy) -> None:
        self.policy = policy

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            sock = connect(
                self.policy, host, port, timeout=timeout,
                source_address=None if local_address is None else (local_address, 0),
                socket_options=list(socket_options or ()),
            )
        except EgressRefused:
            raise
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(str(exc)) from exc
        except OSError as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(None)
        from httpcore._backends.sync import SyncStream

        return SyncStream(sock)


class GuardedTransport(httpx.HTTPTransport):
    def __init__(self, policy: EgressPolicy) -> None:
        super().__init__(trust_env=False)
        ssl_context = self._pool._ssl_context
        self._pool = httpcore.ConnectionPool(ssl_context=ssl_context, network_backend=GuardedBackend(policy))


def client(policy: EgressPolicy, *, timeout: httpx.Timeout, follow_redirects: bool = True) -> httpx.Client:
    return httpx.Client(transport=GuardedTransport(policy), timeout=timeout, follow_redirects=follow_redirects, trust_env=False)


def guard_boto3(s3_client: Any, policy: EgressPolicy) -> Any:
    """Make every connection of a boto3 client go through the policy; returns the client."""
    from botocore.awsrequest import (
        AWSHTTPConnection,
        AWSHTTPConnectionPool,
        AWSHTTPSConnection,
        AWSHTTPSConnectionPool,
    )
    from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

    def new_conn(conn: Any) -> socket.socket:
        try:
            return connect(policy, conn.host, conn.port, timeout=conn.timeout, source_address=conn.source_address,
                           socket_options=conn.socket_options)
        except EgressRefused as exc:
            raise NewConnectionError(conn, str(exc)) from exc
        except TimeoutError as exc:
            raise ConnectTimeoutError(conn, f"Connection to {conn.host} timed out") from exc
        except OSError as exc:
            raise NewConnectionError(conn, f"Failed to establish a new connection: {exc}") from exc

    class Conn(AWSHTTPConnection):
        def _new_conn(self) -> socket.socket:
            return new_conn(self)

    class TLSConn(AWSHTTPSConnection):
        def _new_conn(self) -> socket.socket:
            return new_conn(self)

    class Pool(AWSHTTPConnectionPool):
        ConnectionCls = Conn

    class TLSPool(AWSHTTPSConnectionPool):
        ConnectionCls = TLSConn

    session = s3_client._endpoint.http_session
    pools = {"http": Pool, "https": TLSPool}
    session._pool_classes_by_scheme = pools
    session._manager.pool_classes_by_scheme = pools
    session._manager.clear()
    return s3_client
