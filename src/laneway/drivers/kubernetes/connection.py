"""One workload cluster's API, through the official `kubernetes` client.

`KubeConnection` wraps one `kubernetes.client.ApiClient` built from a kubeconfig (its own
Configuration, so several clusters are used side by side without touching the client's
global default). Its methods are blocking, as the client is: async callers run them with
`asyncio.to_thread`. Errors come out as `KubeApiError` (the API answered with a failure
status) or `ClusterUnavailable` (no answer, or no usable kubeconfig), never as the client's
own exception types.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import urllib3
import yaml
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from laneway.drivers.kubernetes.errors import ClusterUnavailable, KubeApiError
from laneway.drivers.kubernetes.kinds import ApiResource, resource_of
from laneway.drivers.kubernetes.naming import FIELD_MANAGER

DEFAULT_TIMEOUT = (5.0, 30.0)  # connect, read (seconds)


def connect(kubeconfig: str, *, context: str | None = None, where: str = "the kubeconfig") -> KubeConnection:
    """A connection from kubeconfig text. Raises ClusterUnavailable saying what is wrong with it."""
    try:
        document = yaml.safe_load(kubeconfig)
    except yaml.YAMLError as error:
        raise ClusterUnavailable(f"{where} is not valid YAML ({error.__class__.__name__}); store the cluster's kubeconfig file as it is") from None
    if not isinstance(document, dict) or not document.get("clusters"):
        raise ClusterUnavailable(f"{where} is not a kubeconfig (no 'clusters'); store the file `kubectl config view --raw --minify` prints")
    configuration = k8s_client.Configuration()
    try:
        k8s_config.load_kube_config_from_dict(
            config_dict=document, context=context, client_configuration=configuration, persist_config=False
        )
    except (ConfigException, KeyError, TypeError, ValueError) as error:
        raise ClusterUnavailable(f"{where} cannot be used: {error}") from None
    configuration.retries = 1
    return KubeConnection(k8s_client.ApiClient(configuration=configuration))


class KubeConnection:
    def __init__(self, api_client: k8s_client.ApiClient, *, timeout: tuple[float, float] = DEFAULT_TIMEOUT) -> None:
        self.api_client = api_client
        self.timeout = timeout

    @property
    def host(self) -> str:
        return str(self.api_client.configuration.host)

    def close(self) -> None:
        self.api_client.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        query: list[tuple[str, str]] | None = None,
        body: Any = None,
        content_type: str | None = None,
    ) -> dict[str, Any]:
        headers = {"Accept": "application/json", "Content-Type": content_type or "application/json"}
        try:
            serialized = self.api_client.param_serialize(
                method, path, query_params=query or [], header_params=headers, body=body, auth_settings=["BearerToken"]
            )
            response = self.api_client.call_api(*serialized, _request_timeout=self.timeout)
            data = response.read()
        except ApiException as error:
            raise _api_error(error.status or 0, error.body, error.reason or "") from None
        except (urllib3.exceptions.HTTPError, OSError) as error:
            raise ClusterUnavailable(f"the API server at {self.host} did not answer: {error.__class__.__name__}: {error}") from None
        if not 200 <= response.status <= 299:
            raise _api_error(response.status, data, response.reason or "")
        if not data:
            return {}
        try:
            parsed = json.loads(data)
        except ValueError:
            raise ClusterUnavailable(f"the API server at {self.host} answered {path} with something that is not JSON") from None
        return parsed if isinstance(parsed, dict) else {"value": parsed}

    # --- objects -------------------------------------------------------------------------

    def find(self, resource: ApiResource, name: str, *, namespace: str | None = None) -> dict[str, Any] | None:
        """The object, or None when it does not exist."""
        try:
            return self.request("GET", resource.path(namespace=namespace, name=name))
        except KubeApiError as error:
            if error.status == 404:
                return None
            raise

    def list(self, resource: ApiResource, *, namespace: str | None = None, selector: str | None = None) -> list[dict[str, Any]]:
        query = [("labelSelector", selector)] if selector else []
        items = self.request("GET", resource.path(namespace=namespace), query=query).get("items") or []
        return [i for i in items if isinstance(i, dict)]

    def apply(self, obj: Mapping[str, Any], *, force: bool = True) -> dict[str, Any]:
        """Server-side apply under field manager `laneway` (taking over fields when `force`)."""
        resource = resource_of(obj)
        meta = obj["metadata"]
        path = resource.path(namespace=meta.get("namespace"), name=meta["name"])
        query = [("fieldManager", FIELD_MANAGER)] + ([("force", "true")] if force else [])
        return self.request("PATCH", path, query=query, body=dict(obj), content_type="application/apply-patch+yaml")

    def delete(self, resource: ApiResource, name: str, *, namespace: str | None = None) -> bool:
        """Delete with background propagation; False when it was already gone."""
        body = {"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": "Background"}
        try:
            self.request("DELETE", resource.path(namespace=namespace, name=name), body=body)
        except KubeApiError as error:
            if error.status == 404:
                return False
            raise
        return True

    # --- discovery -----------------------------------------------------------------------

    def version(self) -> dict[str, Any]:
        return self.request("GET", "/version")

    def served_group_versions(self) -> set[str]:
        """Every group/version the API serves (`v1` for the core group)."""
        served = {"v1"}
        for group in self.request("GET", "/apis").get("groups") or []:
            for version in group.get("versions") or []:
                if version.get("groupVersion"):
                    served.add(str(version["groupVersion"]))
        return served


def _api_error(status: int, body: Any, reason: str) -> KubeApiError:
    """A KubeApiError from a Kubernetes `Status` body when there is one."""
    text = body.decode(errors="replace") if isinstance(body, (bytes, bytearray)) else (body or "")
    try:
        parsed = json.loads(text) if text else {}
    except ValueError:
        parsed = {}
    if isinstance(parsed, dict) and parsed.get("kind") == "Status":
        return KubeApiError(status, str(parsed.get("reason") or reason), str(parsed.get("message") or ""))
    return KubeApiError(status, reason or "Error", text[:300])
