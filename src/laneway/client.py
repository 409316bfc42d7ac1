"""The synchronous HTTP client of the laneway control-plane API.

It speaks the Kubernetes-style paths the API server serves
(`/apis/laneway.dev/v1alpha1/[namespaces/{ns}/]{plural}[/{name}[/status|/scale]]`, Secrets at
`/api/v1/namespaces/{ns}/secrets`) and hands back typed resources. Every refusal from the
server becomes one `ApiError` carrying the server's Status (reason, message, field causes);
a server that cannot be reached becomes `ServerUnreachable`. Neither is ever shown as a
traceback: the CLI prints `str(error)`.

What it deliberately does not do: cache, retry writes, or follow redirects. A write that
races with another writer fails with a `Conflict` ApiError and the caller decides (apply
retries with a fresh read).
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, overload
from urllib.parse import quote

import httpx
from pydantic import ValidationError

from laneway.api.kinds.deployment import ModelDeployment
from laneway.api.meta import LABEL_PREFIX, Resource, status_of
from laneway.api.registry import KindInfo, by_kind, lookup
from laneway.autoscale.replicas_owner import replicas_on_apply

DEFAULT_TIMEOUT = 30.0
TOKENS_PATH = "/apis/laneway.dev/v1alpha1/tokens"
CLUSTERS_PATH = "/apis/laneway.dev/v1alpha1/inferenceclusters"
MERGE_PATCH = "application/merge-patch+json"


@dataclass(frozen=True)
class TokenInfo:
    """A token as `laneway token list` shows it: id, grant and times, never the token."""

    id: str
    role: str
    namespaces: tuple[str, ...]
    description: str
    created: str
    last_used: str
    expires: str
    revoked: str
    state: str
    written_to: str = ""

    @classmethod
    def of(cls, body: Mapping[str, Any]) -> TokenInfo:
        def text(key: str) -> str:
            value = body.get(key)
            return value if isinstance(value, str) else ""

        namespaces = body.get("namespaces")
        return cls(
            id=text("id"), role=text("role"),
            namespaces=tuple(n for n in namespaces if isinstance(n, str)) if isinstance(namespaces, list) else (),
            description=text("description"), created=text("created"), last_used=text("lastUsed"),
            expires=text("expires"), revoked=text("revoked"), state=text("state"), written_to=text("writtenTo"),
        )

    def wire(self) -> dict[str, object]:
        return {
            "id": self.id, "role": self.role, "namespaces": list(self.namespaces), "description": self.description,
            "created": self.created, "lastUsed": self.last_used or None, "expires": self.expires or None,
            "revoked": self.revoked or None, "state": self.state,
        }


def _token_of(body: Any) -> str:
    token = (body or {}).get("token") if isinstance(body, dict) else None
    if not isinstance(token, str):
        raise UnreadableObject("the server made a token but did not return it")
    return token


@dataclass(frozen=True)
class Cause:
    """One field-level reason the server gave for refusing an object."""

    field: str
    message: str
    reason: str = ""

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


@dataclass
class ApiError(Exception):
    """The server refused a request; its Kubernetes Status, kept whole for callers to branch on."""

    code: int
    reason: str
    message: str
    causes: list[Cause] = field(default_factory=list)

    def __str__(self) -> str:
        """The message, then each cause it does not already say word for word (laneway's own
        422 lists every field problem in its message; another server's may not)."""
        lines = [f"{self.message} ({self.reason}, HTTP {self.code})" if self.reason else f"{self.message} (HTTP {self.code})"]
        lines += [f"  - {c}" for c in self.causes if str(c) not in self.message]
        return "\n".join(lines)

    @property
    def not_found(self) -> bool:
        return self.code == 404

    @property
    def conflict(self) -> bool:
        return self.code == 409 and self.reason == "Conflict"

    @property
    def already_exists(self) -> bool:
        return self.code == 409 and self.reason == "AlreadyExists"

    @classmethod
    def from_response(cls, response: httpx.Response) -> ApiError:
        """Read the server's Status; a body that is not one still yields a readable error."""
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and body.get("kind") == "Status":
            details = body.get("details") or {}
            causes = [
                Cause(field=str(c.get("field", "")), message=str(c.get("message", "")), reason=str(c.get("reason", "")))
                for c in details.get("causes") or []
                if isinstance(c, dict)
            ]
            return cls(
                code=int(body.get("code") or response.status_code),
                reason=str(body.get("reason") or ""),
                message=str(body.get("message") or response.reason_phrase),
                causes=causes,
            )
        text = response.text.strip()[:500] or response.reason_phrase
        return cls(code=response.status_code, reason=response.reason_phrase, message=text)


class ServerUnreachable(Exception):
    """No answer from the server at all (refused, timed out, DNS); says where we tried."""


class NotTheApi(Exception):
    """Something answered that is not laneway's control API: most often its gateway's port,
    whose errors are OpenAI-shaped rather than Kubernetes Status documents."""


def gateway_answered(response: httpx.Response) -> bool:
    """Whether an error response came from laneway's gateway (or another OpenAI-style server)
    rather than the control API, which answers every refusal with a Status (pure)."""
    if response.headers.get("x-laneway-error"):
        return True
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body, dict) and isinstance(body.get("error"), dict) and body.get("kind") != "Status"


class UnreadableObject(Exception):
    """The server sent a document this client's models do not accept (a version mismatch)."""


def _with_system_keys(desired: dict[str, str], live: dict[str, str]) -> dict[str, str]:
    """Keys laneway itself set (prefix `laneway.dev/`) survive an apply that does not mention them."""
    kept = {k: v for k, v in live.items() if k.startswith(LABEL_PREFIX) and k not in desired}
    return {**kept, **desired}


def merge_for_update(*, desired: Resource, live: Resource) -> Resource:
    """The object to PUT for an apply: the manifest's labels, annotations and spec over what the
    server owns (uid, resourceVersion, creation time, finalizers, owner references, status)."""
    meta = desired.metadata.model_copy(
        update={
            "labels": _with_system_keys(desired.metadata.labels, live.metadata.labels),
            "annotations": _with_system_keys(desired.metadata.annotations, live.metadata.annotations),
            "uid": live.metadata.uid,
            "resource_version": live.metadata.resource_version,
            "generation": live.metadata.generation,
            "creation_timestamp": live.metadata.creation_timestamp,
            "deletion_timestamp": live.metadata.deletion_timestamp,
            "finalizers": desired.metadata.finalizers or live.metadata.finalizers,
            "owner_references": desired.metadata.owner_references or live.metadata.owner_references,
        }
    )
    update: dict[str, Any] = {"metadata": meta}
    status = status_of(live)
    if status is not None:
        update["status"] = status
    return desired.model_copy(update=update)


def _desired_shape(obj: Resource) -> dict[str, Any]:
    doc = obj.wire()
    doc.pop("status", None)
    meta = doc.pop("metadata", {})
    doc["labels"] = meta.get("labels", {})
    doc["annotations"] = meta.get("annotations", {})
    return doc


def needs_update(*, desired: Resource, live: Resource) -> bool:
    """Whether applying `desired` would change what is stored. Secrets always do: their stored
    values are never read back, so they cannot be compared."""
    if desired.kind == "Secret":
        return True
    return _desired_shape(merge_for_update(desired=desired, live=live)) != _desired_shape(live)


R = TypeVar("R", bound=Resource)


@dataclass(frozen=True)
class ResourceList(Generic[R]):
    items: list[R]
    resource_version: str


@dataclass(frozen=True)
class WatchEvent:
    type: str
    object: Resource


def collection_path(info: KindInfo, namespace: str | None) -> str:
    """The URL path of a kind's collection; `namespace=None` means every namespace."""
    base = "/api/v1" if info.api_version == "v1" else f"/apis/{info.api_version}"
    if info.namespaced and namespace is not None:
        return f"{base}/namespaces/{quote(namespace, safe='')}/{info.plural}"
    return f"{base}/{info.plural}"


def object_path(info: KindInfo, namespace: str | None, name: str) -> str:
    return f"{collection_path(info, namespace if info.namespaced else None)}/{quote(name, safe='')}"


def parse_resource(document: Any) -> Resource:
    if not isinstance(document, dict) or not isinstance(document.get("kind"), str):
        raise UnreadableObject(f"the server sent something that is not an object: {str(document)[:200]}")
    try:
        return by_kind(document["kind"]).parse(document)
    except (ValidationError, LookupError) as e:
        raise UnreadableObject(
            f"the server sent a {document.get('kind')} this client cannot read ({str(e).splitlines()[0]}); "
            "are the CLI and the server the same laneway version? (laneway version)"
        ) from None


def parse_as(kind: type[R], document: Any) -> R:
    """`parse_resource`, checked to be of the kind that was asked for."""
    obj = parse_resource(document)
    if not isinstance(obj, kind):
        raise UnreadableObject(f"asked the server for a {kind.KIND}, it sent a {obj.kind}")
    return obj


def _kind_name(kind: type[Resource] | str) -> str:
    return kind if isinstance(kind, str) else kind.KIND


class Client:
    """Typed calls over the laneway API. One connection pool per client; close it (or use `with`)."""

    def __init__(self, server: str, token: str | None = None, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.server = server.rstrip("/")
        headers = {"Accept": "application/json", "User-Agent": "laneway-cli"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._http = httpx.Client(base_url=self.server, headers=headers, timeout=timeout)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # transport -------------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        content_type: str = "application/json",
    ) -> Any:
        """One call; the decoded JSON body, or ApiError / ServerUnreachable."""
        content = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": content_type} if content is not None else {}
        try:
            response = self._http.request(method, path, params=params, content=content, headers=headers)
        except httpx.TimeoutException:
            raise ServerUnreachable(f"the laneway API at {self.server} did not answer in time") from None
        except httpx.HTTPError as e:
            raise ServerUnreachable(
                f"cannot reach the laneway API at {self.server} ({e.__class__.__name__}: {e}); is `laneway up` running?"
            ) from None
        if response.status_code >= 400:
            if gateway_answered(response):
                raise NotTheApi(
                    f"{self.server} answered {method} {path} like laneway's OpenAI-compatible gateway (HTTP "
                    f"{response.status_code}), not its control API: this is the gateway's address"
                )
            raise ApiError.from_response(response)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise UnreadableObject(f"the server at {self.server} answered {path} with something that is not JSON") from None

    # reads -----------------------------------------------------------------------------------

    @overload
    def get(self, kind: type[R], name: str, *, namespace: str | None = None) -> R: ...
    @overload
    def get(self, kind: str, name: str, *, namespace: str | None = None) -> Resource: ...
    def get(self, kind: type[R] | str, name: str, *, namespace: str | None = None) -> R | Resource:
        """One object; by model class (typed) or by any spelling of its kind (`md`)."""
        document = self.request("GET", object_path(lookup(_kind_name(kind)), namespace, name))
        return parse_resource(document) if isinstance(kind, str) else parse_as(kind, document)

    @overload
    def list(
        self, kind: type[R], *, namespace: str | None = None, all_namespaces: bool = False, label_selector: str | None = None
    ) -> ResourceList[R]: ...
    @overload
    def list(
        self, kind: str, *, namespace: str | None = None, all_namespaces: bool = False, label_selector: str | None = None
    ) -> ResourceList[Resource]: ...
    def list(
        self,
        kind: type[R] | str,
        *,
        namespace: str | None = None,
        all_namespaces: bool = False,
        label_selector: str | None = None,
    ) -> ResourceList[R] | ResourceList[Resource]:
        """Objects of a kind; by model class (typed) or by any spelling of its kind."""
        info = lookup(_kind_name(kind))
        params = {"labelSelector": label_selector} if label_selector else None
        body = self.request("GET", collection_path(info, None if all_namespaces else namespace), params=params)
        documents = (body or {}).get("items") or []
        rv = str(((body or {}).get("metadata") or {}).get("resourceVersion") or "")
        if isinstance(kind, str):
            return ResourceList(items=[parse_resource(i) for i in documents], resource_version=rv)
        return ResourceList(items=[parse_as(kind, i) for i in documents], resource_version=rv)

    def watch(
        self,
        kind: str,
        *,
        namespace: str | None = None,
        all_namespaces: bool = False,
        label_selector: str | None = None,
        field_selector: str | None = None,
        resource_version: str | None = None,
        timeout: float | None = None,
    ) -> Iterator[WatchEvent]:
        """Follow a kind's changes as the server streams them (one JSON event per line);
        `field_selector="metadata.name=NAME"` follows one object."""
        info = lookup(kind)
        params = {"watch": "true"}
        if timeout is not None:
            params["timeoutSeconds"] = str(max(1, int(timeout)))  # the server ends the stream too
        if label_selector:
            params["labelSelector"] = label_selector
        if field_selector:
            params["fieldSelector"] = field_selector
        if resource_version:
            params["resourceVersion"] = resource_version
        path = collection_path(info, None if all_namespaces else namespace)
        try:
            with self._http.stream("GET", path, params=params, timeout=httpx.Timeout(timeout, connect=10.0)) as response:
                if response.status_code >= 400:
                    response.read()
                    raise ApiError.from_response(response)
                for line in response.iter_lines():
                    if not line.strip():
                        continue
                    event = json.loads(line)
                    if event.get("type") == "ERROR":
                        status = event.get("object") or {}
                        raise ApiError(int(status.get("code") or 500), str(status.get("reason") or ""), str(status.get("message") or "watch failed"))
                    if event.get("type") in ("BOOKMARK",):
                        continue
                    yield WatchEvent(type=str(event.get("type")), object=parse_resource(event.get("object")))
        except httpx.TimeoutException:
            return
        except httpx.HTTPError as e:
            raise ServerUnreachable(f"the watch on {self.server} ended: the server stopped answering ({e}); is `laneway up` still running?") from None

    # writes ----------------------------------------------------------------------------------

    def create(self, obj: Resource) -> Resource:
        info = by_kind(obj.kind)
        return parse_resource(self.request("POST", collection_path(info, obj.namespace or None), body=obj.wire()))

    def update(self, obj: Resource) -> Resource:
        """Replace the object; carries its resourceVersion, so a stale write is a Conflict."""
        info = by_kind(obj.kind)
        return parse_resource(self.request("PUT", object_path(info, obj.namespace or None, obj.name), body=obj.wire()))

    def patch(self, kind: str, name: str, patch: Mapping[str, Any], *, namespace: str | None = None) -> Resource:
        """A JSON merge patch (RFC 7386): `None` removes a key, mappings merge, lists replace."""
        info = lookup(kind)
        return parse_resource(
            self.request("PATCH", object_path(info, namespace, name), body=dict(patch), content_type=MERGE_PATCH)
        )

    def delete(self, kind: str, name: str, *, namespace: str | None = None) -> None:
        info = lookup(kind)
        self.request("DELETE", object_path(info, namespace, name))

    def scale(self, kind: str, name: str, replicas: int, *, namespace: str | None = None) -> int:
        """Set replicas through the scale subresource; returns the replicas the server now wants."""
        info = lookup(kind)
        body = self.request(
            "PATCH",
            object_path(info, namespace, name) + "/scale",
            body={"spec": {"replicas": replicas}},
            content_type=MERGE_PATCH,
        )
        spec = (body or {}).get("spec") or {}
        return int(spec.get("replicas", replicas))

    def apply(self, obj: Resource, *, attempts: int = 3, notes: builtins.list[str] | None = None) -> tuple[Resource, str]:
        """Create, or update keeping what the server owns; returns the object and what happened:
        `created`, `configured` or `unchanged` (nothing sent when the desired state is already stored).

        An autoscaled ModelDeployment keeps its live replica count when the manifest leaves
        `replicas` out, and one outside min/max is clamped (`autoscale.replicas_owner`); what
        was not taken as written is appended to `notes`."""
        original = obj
        for attempt in range(attempts):
            obj = self._owned_replicas(original, None, notes if attempt == 0 else None)
            try:
                return self.create(obj), "created"
            except ApiError as e:
                if not e.already_exists:
                    raise
            try:
                live = self.get(obj.kind, obj.name, namespace=obj.namespace or None)
            except ApiError as e:
                if e.not_found and attempt + 1 < attempts:
                    continue  # deleted between our create and get: create again
                raise
            obj = self._owned_replicas(original, live, None)
            if not needs_update(desired=obj, live=live):
                return live, "unchanged"
            try:
                return self.update(merge_for_update(desired=obj, live=live)), "configured"
            except ApiError as e:
                if not (e.conflict and attempt + 1 < attempts):
                    raise
        raise AssertionError("unreachable: the last attempt returns or raises")

    @staticmethod
    def _owned_replicas(obj: Resource, live: Resource | None, notes: builtins.list[str] | None) -> Resource:
        if not isinstance(obj, ModelDeployment) or not (live is None or isinstance(live, ModelDeployment)):
            return obj
        sent, note = replicas_on_apply(obj, live)
        if note is not None and notes is not None:
            notes.append(note)
        return sent

    # machines --------------------------------------------------------------------------------

    def join_token(self, cluster: str, *, ttl: str | None = None) -> dict[str, Any]:
        """Mint a one-use join token for the Machines cluster `cluster` (platform lane): the
        answer holds `token` (shown this once), `id` and `expires`."""
        body = self.request("POST", f"{CLUSTERS_PATH}/{quote(cluster, safe='')}/jointokens",
                            body={"ttl": ttl} if ttl is not None else None)
        return body if isinstance(body, dict) else {}

    def remove_machine(self, cluster: str, machine: str) -> dict[str, Any]:
        """Revoke a machine's credential and drop it from its cluster (platform lane)."""
        body = self.request("DELETE", f"{CLUSTERS_PATH}/{quote(cluster, safe='')}/machines/{quote(machine, safe='')}")
        return body if isinstance(body, dict) else {}

    # tokens ----------------------------------------------------------------------------------

    def create_token(
        self, *, role: str, namespaces: builtins.list[str], description: str = "", ttl: str | None = None
    ) -> str:
        """Mint a bearer token (expiring after `ttl`, e.g. '30d', when given); the server
        returns it once and stores only its hash."""
        body: dict[str, Any] = {"role": role, "namespaces": namespaces, "description": description}
        if ttl is not None:
            body["ttl"] = ttl
        return _token_of(self.request("POST", TOKENS_PATH, body=body))

    def list_tokens(self) -> builtins.list[TokenInfo]:
        """Every token this token may see (all, for an admin; itself, for anyone else)."""
        body = self.request("GET", TOKENS_PATH) or {}
        return [TokenInfo.of(item) for item in body.get("items") or [] if isinstance(item, dict)]

    def revoke_token(self, token_id: str) -> TokenInfo:
        """Revoke the token with this id; it stops working on its next request, everywhere."""
        return TokenInfo.of(self.request("DELETE", f"{TOKENS_PATH}/{quote(token_id, safe='')}") or {})

    def rotate_token(self, token_id: str, *, ttl: str | None = None) -> tuple[str, TokenInfo]:
        """A successor for the token with this id (`admin`: the data directory's admin token),
        the old one revoked; the new token (shown this once) and its record."""
        body = self.request(
            "POST", f"{TOKENS_PATH}/{quote(token_id, safe='')}/rotate", body={"ttl": ttl} if ttl is not None else None
        )
        return _token_of(body), TokenInfo.of(body or {})


