"""moto's AWS server (EKS, EC2, IAM, STS) on loopback, for the EKS provisioner's tests.

moto keeps its backends in this process, shared by every server it starts, so each start
resets them: a test begins with an empty account. `managed_policies` loads AWS's managed IAM
policies (which the EKS roles attach); without them IAM refuses the attachment, a real
provider error to test against.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager

import httpx


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def moto_aws(*, managed_policies: bool = True) -> Iterator[str]:
    """Start moto's server on 127.0.0.1 and yield its URL; stopped on exit."""
    from moto.server import ThreadedMotoServer  # the dev extra

    previous = os.environ.get("MOTO_IAM_LOAD_MANAGED_POLICIES")
    os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true" if managed_policies else "false"
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=_free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    try:
        httpx.post(f"{url}/moto-api/reset", timeout=30).raise_for_status()
        yield url
    finally:
        server.stop()
        if previous is None:
            os.environ.pop("MOTO_IAM_LOAD_MANAGED_POLICIES", None)
        else:
            os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = previous
