"""The fake API server's state: served resources, stored objects, and the rules a real API
server applies to writes, as plain synchronous Python (the HTTP layer is in `server.py`).

Faithful where laneway's driver relies on it:
- one resourceVersion counter per server; a write carrying a stale resourceVersion gets 409
  Conflict, a create of an existing name 409 AlreadyExists, a read of a missing object 404;
- `generation` starts at 1 and moves only when `spec` changes; writes to the main resource
  keep `status` and writes to `/status` change only `status`;
- server-side apply (`application/apply-patch+yaml`) needs a `fieldManager`, creates the
  object when absent, records the manager in `managedFields`, and refuses (409) to take over
  a spec another manager wrote unless `force=true`;
- every write is validated (422 Invalid): built-in kinds against the official schemas of
  the server's Kubernetes version (`kubernetes-validate`, strict), custom resources against
  the installed CRD's `openAPIV3Schema` with unknown fields refused;
- a Job's `spec.template`, a ResourceClaimTemplate's `spec` and a Service's `spec.clusterIP`
  cannot change once created (422, "field is immutable"); a Service gets a cluster IP when
  it names none;
- a forced apply over an object another manager also wrote keeps the top-level `spec` fields
  the apply does not mention (they stay that manager's, as with server-side apply's field
  ownership): taking over LeaderWorkerSet's headless Service keeps it headless;
- the controllers of `controllers.py`: LeaderWorkerSet's headless Service, and a Gateway
  implementation writing HTTPRoute (and InferencePool) `status.parents`;
- custom resources are not served (404) until their CRD is created, and deleting a CRD
  deletes its objects; a namespaced object needs its Namespace to exist (404), and deleting
  a Namespace deletes what is in it.

Deliberately not modelled: field-level ownership merges below `spec`'s top level, watches,
admission webhooks, CEL validation rules, garbage collection by ownerReferences, and the
other controllers (tests play them by writing statuses).
"""

from __future__ import annotations

import copy
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import jsonschema
import kubernetes_validate
import kubernetes_validate.utils

from laneway.api.selectors import SelectorSyntaxError, matches_all, parse_selector
from laneway.drivers.kubernetes.validation import crd_schema, strict_schema
from laneway.testing.fake_kube import controllers


class ApiFailure(Exception):
    """A failure the API answers with a `Status` document."""

    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message

    def status(self) -> dict[str, Any]:
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }


@dataclass(frozen=True)
class Served:
    """One resource the server serves."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    subresources: frozenset[str] = frozenset({"status"})
    schema: Any = None  # a CRD's openAPIV3Schema (strict form); None for built-ins

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


def _b(group: str, version: str, kind: str, plural: str, namespaced: bool = True, status: bool = True) -> Served:
    return Served(group, version, kind, plural, namespaced, frozenset({"status"}) if status else frozenset())


BUILTINS: tuple[Served, ...] = (
    _b("", "v1", "Namespace", "namespaces", namespaced=False),
    _b("", "v1", "Node", "nodes", namespaced=False),
    _b("", "v1", "Pod", "pods"),
    _b("", "v1", "Service", "services"),
    _b("", "v1", "ConfigMap", "configmaps", status=False),
    _b("", "v1", "ServiceAccount", "serviceaccounts", status=False),
    _b("", "v1", "Secret", "secrets", status=False),
    _b("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims"),
    _b("apps", "v1", "Deployment", "deployments"),
    _b("batch", "v1", "Job", "jobs"),
    _b("rbac.authorization.k8s.io", "v1", "Role", "roles", status=False),
    _b("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", status=False),
    _b("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", namespaced=False, status=False),
    _b("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", namespaced=False, status=False),
    _b("storage.k8s.io", "v1", "StorageClass", "storageclasses", namespaced=False, status=False),
    _b("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", namespaced=False),
)
DRA: tuple[Served, ...] = (
    _b("resource.k8s.io", "v1", "ResourceClaimTemplate", "resourceclaimtemplates", status=False),
    _b("resource.k8s.io", "v1", "ResourceClaim", "resourceclaims"),
    _b("resource.k8s.io", "v1", "ResourceSlice", "resourceslices", namespaced=False, status=False),
    _b("resource.k8s.io", "v1", "DeviceClass", "deviceclasses", namespaced=False, status=False),
)

Key = tuple[str, str, str, str]  # (group, plural, namespace, name)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class ClusterState:
    """Everything one fake cluster holds. Thread-safe: one lock around every operation."""

    version: str = "1.34"
    dra: bool = True
    served: dict[tuple[str, str, str], Served] = field(default_factory=dict)  # (group, version, plural)
    objects: dict[Key, dict[str, Any]] = field(default_factory=dict)
    revision: int = 0
    writes: list[tuple[str, str, str]] = field(default_factory=list)  # (verb, kind, name), for tests
    lock: threading.RLock = field(default_factory=threading.RLock)

    def __post_init__(self) -> None:
        for s in BUILTINS + (DRA if self.dra else ()):
            self.served[(s.group, s.version, s.plural)] = s

    # --- discovery -----------------------------------------------------------------------

    def group_versions(self) -> dict[str, list[Served]]:
        out: dict[str, list[Served]] = {}
        for s in self.served.values():
            out.setdefault(s.group_version, []).append(s)
        return out

    def resolve(self, group: str, version: str, plural: str) -> Served:
        served = self.served.get((group, version, plural))
        if served is None:
            gv = f"{group}/{version}" if group else version
            raise ApiFailure(404, "NotFound", f"the server could not find the requested resource ({plural}.{gv})")
        return served

    # --- reads ---------------------------------------------------------------------------

    def get(self, served: Served, namespace: str, name: str) -> dict[str, Any]:
        with self.lock:
            obj = self.objects.get((served.group, served.plural, namespace, name))
            if obj is None:
                what = f"{served.plural}.{served.group}" if served.group else served.plural
                raise ApiFailure(404, "NotFound", f'{what} "{name}" not found')
            return copy.deepcopy(obj)

    def list(self, served: Served, namespace: str | None, selector: str | None) -> dict[str, Any]:
        try:
            requirements = parse_selector(selector) if selector else []
        except SelectorSyntaxError as error:
            raise ApiFailure(400, "BadRequest", f"unable to parse requirement: {error}") from None
        with self.lock:
            items = [
                copy.deepcopy(o)
                for (g, p, ns, _), o in sorted(self.objects.items())
                if g == served.group and p == served.plural and (namespace is None or ns == namespace)
                and matches_all(requirements, (o.get("metadata") or {}).get("labels") or {})
            ]
            return {
                "apiVersion": served.group_version,
                "kind": f"{served.kind}List",
                "metadata": {"resourceVersion": str(self.revision)},
                "items": items,
            }

    # --- writes --------------------------------------------------------------------------

    def _check_namespace(self, served: Served, namespace: str) -> None:
        if served.namespaced and ("", "namespaces", "", namespace) not in self.objects:
            raise ApiFailure(404, "NotFound", f'namespaces "{namespace}" not found')

    def _validate(self, served: Served, obj: dict[str, Any]) -> None:
        name = (obj.get("metadata") or {}).get("name")
        if served.schema is not None:
            body = {k: v for k, v in obj.items() if k != "metadata"}
            errors = sorted(jsonschema.Draft7Validator(served.schema).iter_errors(body), key=lambda e: list(e.absolute_path))
            if errors:
                causes = "; ".join(f"{'.'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message}" for e in errors[:5])
                raise ApiFailure(422, "Invalid", f'{served.kind}.{served.group} "{name}" is invalid: {causes}')
            return
        if served.kind == "CustomResourceDefinition":
            return
        doc = {k: v for k, v in obj.items() if k != "status"}
        try:
            kubernetes_validate.validate(doc, self.version, strict=True)
        except kubernetes_validate.ValidationError as error:
            where = ".".join(str(p) for p in error.absolute_path) or "<root>"
            raise ApiFailure(422, "Invalid", f'{served.kind} "{name}" is invalid: {where}: {error.message}') from None
        except kubernetes_validate.utils.SchemaNotFoundError:
            pass

    def _stamp_new(self, served: Served, obj: dict[str, Any], namespace: str, manager: str, operation: str) -> dict[str, Any]:
        self.revision += 1
        meta = obj.setdefault("metadata", {})
        if served.namespaced:
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        meta["uid"] = str(uuid.uuid4())
        meta["resourceVersion"] = str(self.revision)
        meta["creationTimestamp"] = _now()
        meta["generation"] = 1
        meta["managedFields"] = [{"manager": manager, "operation": operation, "apiVersion": served.group_version}]
        obj["apiVersion"] = served.group_version
        obj["kind"] = served.kind
        return obj

    def create(self, served: Served, namespace: str, body: dict[str, Any], *, manager: str = "unknown") -> dict[str, Any]:
        with self.lock:
            name = (body.get("metadata") or {}).get("name")
            if not name:
                raise ApiFailure(422, "Invalid", f"{served.kind}: metadata.name: Required value: name is required")
            self._check_namespace(served, namespace)
            key = (served.group, served.plural, namespace if served.namespaced else "", name)
            if key in self.objects:
                raise ApiFailure(409, "AlreadyExists", f'{served.plural} "{name}" already exists')
            obj = copy.deepcopy(body)
            self._validate(served, obj)
            self._stamp_new(served, obj, namespace, manager, "Update")
            self._assign_cluster_ip(served, obj)
            self.objects[key] = obj
            self.writes.append(("create", served.kind, name))
            self._after_write(served, obj, "create")
            return copy.deepcopy(obj)

    def replace(self, served: Served, namespace: str, name: str, body: dict[str, Any], *, status_only: bool, manager: str = "unknown") -> dict[str, Any]:
        with self.lock:
            key = (served.group, served.plural, namespace if served.namespaced else "", name)
            current = self.objects.get(key)
            if current is None:
                raise ApiFailure(404, "NotFound", f'{served.plural} "{name}" not found')
            wanted_rv = (body.get("metadata") or {}).get("resourceVersion")
            if wanted_rv and wanted_rv != current["metadata"]["resourceVersion"]:
                raise ApiFailure(
                    409, "Conflict",
                    f'Operation cannot be fulfilled on {served.plural} "{name}": the object has been modified; '
                    "please apply your changes to the latest version and try again",
                )
            if status_only:
                new = copy.deepcopy(current)
                new["status"] = copy.deepcopy(body.get("status") or {})
            else:
                new = copy.deepcopy(body)
                new.setdefault("metadata", {})
                for k in ("uid", "creationTimestamp", "namespace"):
                    if k in current["metadata"]:
                        new["metadata"][k] = current["metadata"][k]
                new["metadata"]["managedFields"] = current["metadata"].get("managedFields", [])
                if "status" in served.subresources:
                    new["status"] = copy.deepcopy(current.get("status") or {}) or None
                    if new["status"] is None:
                        new.pop("status")
                self._validate(served, new)
            return self._commit(served, key, current, new, "status" if status_only else "update")

    def apply(self, served: Served, namespace: str, name: str, body: dict[str, Any], *, manager: str | None, force: bool) -> dict[str, Any]:
        if not manager:
            raise ApiFailure(422, "Invalid", "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch")
        if (body.get("metadata") or {}).get("name") not in (None, name):
            raise ApiFailure(400, "BadRequest", "the name of the object does not match the name on the URL")
        with self.lock:
            key = (served.group, served.plural, namespace if served.namespaced else "", name)
            current = self.objects.get(key)
            if current is None:
                self._check_namespace(served, namespace)
                obj = copy.deepcopy(body)
                obj.setdefault("metadata", {})["name"] = name
                self._validate(served, obj)
                self._stamp_new(served, obj, namespace, manager, "Apply")
                self._assign_cluster_ip(served, obj)
                self.objects[key] = obj
                self.writes.append(("apply", served.kind, name))
                self._after_write(served, obj, "apply")
                return copy.deepcopy(obj)
            others = [m["manager"] for m in current["metadata"].get("managedFields", []) if m["manager"] != manager]
            if others and not force and body.get("spec") != current.get("spec"):
                raise ApiFailure(
                    409, "Conflict",
                    f'Apply failed with 1 conflict: conflict with "{others[0]}": .spec; '
                    "use force to take over the fields",
                )
            new = copy.deepcopy(body)
            new.setdefault("metadata", {})["name"] = name
            for k in ("uid", "creationTimestamp", "namespace"):
                if k in current["metadata"]:
                    new["metadata"][k] = current["metadata"][k]
            if others and isinstance(current.get("spec"), dict):
                # Fields this apply does not mention stay with the manager that wrote them.
                new["spec"] = {**copy.deepcopy(current["spec"]), **(new.get("spec") or {})}
            elif served.kind == "Service" and (current.get("spec") or {}).get("clusterIP"):
                new.setdefault("spec", {}).setdefault("clusterIP", current["spec"]["clusterIP"])  # allocated, kept
            managers = [m for m in current["metadata"].get("managedFields", []) if m["manager"] != manager or m["operation"] != "Apply"]
            if force:
                managers = [m for m in managers if m["operation"] != "Update"]
            managers.append({"manager": manager, "operation": "Apply", "apiVersion": served.group_version})
            new["metadata"]["managedFields"] = managers
            if "status" in served.subresources and current.get("status"):
                new["status"] = copy.deepcopy(current["status"])
            self._validate(served, new)
            return self._commit(served, key, current, new, "apply")

    @staticmethod
    def _assign_cluster_ip(served: Served, obj: dict[str, Any]) -> None:
        if served.kind == "Service" and served.group == "":
            spec = obj.setdefault("spec", {})
            if not spec.get("clusterIP"):
                spec["clusterIP"] = f"10.96.{(int(obj['metadata']['resourceVersion']) // 250) % 250}.{int(obj['metadata']['resourceVersion']) % 250 + 1}"

    def _commit(self, served: Served, key: Key, current: dict[str, Any], new: dict[str, Any], verb: str) -> dict[str, Any]:
        if served.kind == "Job" and (new.get("spec") or {}).get("template") != (current.get("spec") or {}).get("template"):
            raise ApiFailure(
                422, "Invalid",
                f'Job.batch "{key[3]}" is invalid: spec.template: Invalid value: field is immutable',
            )
        if served.kind == "ResourceClaimTemplate" and new.get("spec") != current.get("spec"):
            raise ApiFailure(
                422, "Invalid",
                f'ResourceClaimTemplate.resource.k8s.io "{key[3]}" is invalid: spec: Invalid value: field is immutable',
            )
        if served.kind == "Service" and served.group == "" and verb != "status":
            was = (current.get("spec") or {}).get("clusterIP")
            now = (new.get("spec") or {}).get("clusterIP")
            if was and not now:
                new.setdefault("spec", {})["clusterIP"] = was  # an update that omits it keeps the allocated one
            elif was and now != was:
                raise ApiFailure(
                    422, "Invalid",
                    f'Service "{key[3]}" is invalid: spec.clusterIP: Invalid value: "{now}": field is immutable',
                )
        generation = current["metadata"].get("generation", 1)
        if new.get("spec") != current.get("spec"):
            generation += 1
        unchanged = {k: v for k, v in new.items() if k != "metadata"} == {k: v for k, v in current.items() if k != "metadata"} and (
            new["metadata"].get("labels"), new["metadata"].get("annotations")
        ) == (current["metadata"].get("labels"), current["metadata"].get("annotations"))
        if unchanged:
            return copy.deepcopy(current)  # a no-op write does not bump resourceVersion, as in Kubernetes
        self.revision += 1
        new["metadata"]["resourceVersion"] = str(self.revision)
        new["metadata"]["generation"] = generation
        new["apiVersion"] = served.group_version
        new["kind"] = served.kind
        self.objects[key] = new
        self.writes.append((verb, served.kind, key[3]))
        self._after_write(served, new, verb)
        return copy.deepcopy(new)

    def delete(self, served: Served, namespace: str, name: str) -> dict[str, Any]:
        with self.lock:
            key = (served.group, served.plural, namespace if served.namespaced else "", name)
            obj = self.objects.pop(key, None)
            if obj is None:
                raise ApiFailure(404, "NotFound", f'{served.plural} "{name}" not found')
            self.revision += 1
            self.writes.append(("delete", served.kind, name))
            if served.kind == "Namespace":
                for k in [k for k in self.objects if k[2] == name]:
                    del self.objects[k]
            if served.kind == "CustomResourceDefinition":
                self._remove_crd(obj)
            controllers.after_delete(self, served, obj)
            return obj

    # --- CRDs ----------------------------------------------------------------------------

    def _after_write(self, served: Served, obj: dict[str, Any], verb: str) -> None:
        if served.kind == "CustomResourceDefinition":
            self._install_crd(obj)
        controllers.after_write(self, served, obj, verb)

    def _install_crd(self, crd: dict[str, Any]) -> None:
        spec = crd["spec"]
        names = spec["names"]
        for v in spec["versions"]:
            if not v.get("served", True):
                continue
            schema = crd_schema(crd, v["name"]) or {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
            root = strict_schema(schema)
            root.setdefault("properties", {})["metadata"] = {"type": "object"}
            self.served[(spec["group"], v["name"], names["plural"])] = Served(
                spec["group"], v["name"], names["kind"], names["plural"], spec.get("scope", "Namespaced") == "Namespaced",
                frozenset(v.get("subresources") or {}), root,
            )
        crd["status"] = {
            "conditions": [{"type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": ""}],
            "acceptedNames": names,
        }

    def _remove_crd(self, crd: dict[str, Any]) -> None:
        spec = crd["spec"]
        for v in spec["versions"]:
            self.served.pop((spec["group"], v["name"], spec["names"]["plural"]), None)
        for k in [k for k in self.objects if k[0] == spec["group"] and k[1] == spec["names"]["plural"]]:
            del self.objects[k]
