"""deploy/: laneway's own manifests are valid Kubernetes, offline, against the official schemas
(strict, every supported version), and say what production needs: several control-plane
replicas, gateways behind a Service, the DSN from a Secret, probes, resources, disruption budgets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from laneway import __version__
from laneway.drivers.kubernetes.errors import InvalidRendered
from laneway.drivers.kubernetes.validation import validate_objects

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"


def _objects() -> list[dict[str, Any]]:
    return [doc for path in sorted(DEPLOY.glob("*.yaml")) for doc in yaml.safe_load_all(path.read_text()) if doc]


def _one(kind: str, name: str) -> dict[str, Any]:
    found = [o for o in _objects() if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name} in deploy/"
    return found[0]


def test_every_object_is_valid_against_the_official_schemas() -> None:
    objects = _objects()
    assert {o["kind"] for o in objects} >= {"Namespace", "Secret", "Deployment", "Service", "PodDisruptionBudget"}
    validate_objects(objects)


def test_the_validation_would_catch_a_typo() -> None:
    broken = _one("Deployment", "laneway-gateway")
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["pathh"] = "/readyz"
    with pytest.raises(InvalidRendered, match="pathh"):
        validate_objects([broken])


def _container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


@pytest.mark.parametrize(("name", "command"), [("laneway-control-plane", "up"), ("laneway-gateway", "gateway")])
def test_deployments_run_laneway_on_postgres_from_a_secret(name: str, command: str) -> None:
    deployment = _one("Deployment", name)
    assert deployment["spec"]["replicas"] >= 2
    container = _container(deployment)
    assert container["image"] == f"ghcr.io/laneway/laneway:{__version__}"
    args = container["args"]
    assert args[0] == command
    assert args[args.index("--store") + 1] == "$(LANEWAY_STORE)"  # never a DSN written in the manifest
    env = {e["name"]: e for e in container["env"]}
    assert env["LANEWAY_STORE"]["valueFrom"]["secretKeyRef"] == {"name": "laneway-postgres", "key": "dsn"}
    assert "value" not in env["LANEWAY_STORE"]
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["path"] in ("/healthz", "/readyz")
    assert container["resources"]["requests"]["cpu"] and container["resources"]["requests"]["memory"]
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    pdb = _one("PodDisruptionBudget", name)
    assert pdb["spec"]["selector"] == deployment["spec"]["selector"]


def test_the_gateway_has_a_service_and_its_workers_share_the_limits() -> None:
    service = _one("Service", "laneway-gateway")
    deployment = _one("Deployment", "laneway-gateway")
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    args = _container(deployment)["args"]
    workers = int(args[args.index("--workers") + 1])
    share = float(args[args.index("--limit-share") + 1])
    assert share == pytest.approx(1 / (workers * deployment["spec"]["replicas"]))


def test_the_control_plane_keeps_a_quorum_of_api_pods_through_disruptions() -> None:
    deployment = _one("Deployment", "laneway-control-plane")
    pdb = _one("PodDisruptionBudget", "laneway-control-plane")
    assert 1 <= pdb["spec"]["minAvailable"] < deployment["spec"]["replicas"]
    assert _one("Service", "laneway-api")["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]


def test_every_control_plane_pod_uses_the_one_admin_token_of_a_secret() -> None:
    """Pods start on empty data dirs: each would mint an admin token of its own without it."""
    deployment = _one("Deployment", "laneway-control-plane")
    container = _container(deployment)
    path = Path(container["args"][container["args"].index("--admin-token-file") + 1])
    mount = next(m for m in container["volumeMounts"] if path.parent == Path(m["mountPath"]))
    volume = next(v for v in deployment["spec"]["template"]["spec"]["volumes"] if v["name"] == mount["name"])
    assert volume["secret"]["secretName"] == "laneway-admin-token" and mount["readOnly"] is True
    assert path.name in _one("Secret", "laneway-admin-token")["stringData"]
