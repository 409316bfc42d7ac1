"""Valid documents of each kind, small enough to read, for the API tests."""

from __future__ import annotations

from typing import Any

GV = "laneway.dev/v1alpha1"
APIS = f"/apis/{GV}"


def cluster(name: str = "local", **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": GV,
        "kind": "InferenceCluster",
        "metadata": {"name": name, "labels": dict(labels)},
        "spec": {"cluster": {"source": "Local", "local": {}}},
    }


def deployment(name: str = "llama", namespace: str = "ml-team", replicas: int = 1, **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": GV,
        "kind": "ModelDeployment",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
        "spec": {
            "replicas": replicas,
            "template": {
                "spec": {
                    "engines": [
                        {
                            "name": "main",
                            "members": [
                                {
                                    "role": "Standalone",
                                    "nodeSelector": {"devices": [{"name": "gpu"}]},
                                    "template": {"spec": {"containers": [{"name": "engine", "image": "sim"}]}},
                                }
                            ],
                        }
                    ]
                }
            },
        },
    }


def replica(name: str = "llama-0", namespace: str = "ml-team") -> dict[str, Any]:
    doc = deployment(name, namespace)
    return {
        "apiVersion": GV,
        "kind": "ModelReplica",
        "metadata": doc["metadata"],
        "spec": {"clusterName": "local", **doc["spec"]["template"]["spec"]},
    }


def endpoint(name: str = "ext", namespace: str = "ml-team", url: str = "https://api.example.com/v1") -> dict[str, Any]:
    return {"apiVersion": GV, "kind": "ModelEndpoint", "metadata": {"name": name, "namespace": namespace}, "spec": {"url": url}}


def secret(name: str = "key", namespace: str = "ml-team", **values: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "stringData": values or {"token": "s3cret-value"},
    }


def collection(plural: str, namespace: str | None = None) -> str:
    if plural == "secrets":
        return f"/api/v1/namespaces/{namespace}/secrets" if namespace else "/api/v1/secrets"
    return f"{APIS}/namespaces/{namespace}/{plural}" if namespace else f"{APIS}/{plural}"
