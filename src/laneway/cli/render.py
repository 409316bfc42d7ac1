"""`laneway render`: the Kubernetes objects a replica gets on its cluster, for review or GitOps.

    laneway render mr/qwen-7b-0 -n ml-team            # one replica, from the running laneway
    laneway render md/qwen-7b -n ml-team --to-dir out # every replica of a deployment, as files
    laneway render -f platform.yaml -f models/        # offline: plan as `laneway plan`, then render

Every object carries the annotation `laneway.dev/target-cluster` naming the cluster it is for,
and is validated against the official schemas before it is printed (nothing invalid is
printed). A replica that references a ModelCache also gets the cache's claim and hydration
Job on its cluster (once per cluster), when the ModelCache is in the input (or, online, in the
API); a credential Secret the Job reads is never printed: create it yourself. `--to-dir` writes `<dir>/<cluster>/<namespace>/<kind>-<name>.yaml` (cluster-scoped
objects under `_cluster/`), the layout Argo CD and Flux read per cluster.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import click
import yaml

from laneway.api.kinds import InferenceCluster, ModelCache, ModelDeployment, ModelReplica
from laneway.api.labels import DEPLOYMENT_LABEL
from laneway.api.manifest import load_paths
from laneway.api.registry import lookup
from laneway.cache.gate import cache_selects
from laneway.cli.context import DEFAULT_NAMESPACE, connection_options, namespace_option, open_client
from laneway.cli.errors import EXIT_USAGE, Failure
from laneway.cli.plan import assume_ready, run_plan
from laneway.client import ApiError
from laneway.drivers.kubernetes.cache_render import render_cache_objects
from laneway.drivers.kubernetes.errors import InvalidRendered, RenderError
from laneway.drivers.kubernetes.naming import TARGET_CLUSTER_ANNOTATION
from laneway.drivers.kubernetes.render import RenderOptions
from laneway.drivers.kubernetes.render import render as render_replica
from laneway.drivers.kubernetes.validation import validate_objects
from laneway.placement.compose import compose_replica

Rendered = list[tuple[str, list[dict[str, Any]]]]  # (cluster, objects), one entry per replica
_OPTIONS = RenderOptions(target_cluster_annotation=True)


def render_offline(resources: Sequence[Any]) -> Rendered:
    """Plan the manifests' deployments as `laneway plan` does and render every placed replica."""
    clusters = {r.name: assume_ready(r) for r in resources if isinstance(r, InferenceCluster)}
    deployments = {r.key: r for r in resources if isinstance(r, ModelDeployment)}
    caches = {(r.namespace or DEFAULT_NAMESPACE, r.name): r for r in resources if isinstance(r, ModelCache)}
    out: Rendered = []
    for placement in run_plan(resources):
        deployment = deployments.get(placement.deployment) or _by_name(deployments.values(), placement.deployment.name)
        for placed in placement.replicas:
            replica = compose_replica(deployment, placed)
            cluster = clusters[placed.cluster]
            ref = replica.spec.model_cache_ref
            cache = caches.get((replica.namespace, ref.name)) if ref is not None else None
            out.append((placed.cluster, _render_one(replica, cluster, cache)))
    return out


def _by_name(deployments: Iterable[ModelDeployment], name: str) -> ModelDeployment:
    for d in deployments:
        if d.name == name:
            return d.model_copy(update={"metadata": d.metadata.model_copy(update={"namespace": d.namespace or DEFAULT_NAMESPACE})})
    raise Failure(f"deployment {name!r} was planned but is not in the input", EXIT_USAGE)


def _render_one(replica: ModelReplica, cluster: InferenceCluster, cache: ModelCache | None = None) -> list[dict[str, Any]]:
    if cluster.spec.cluster.source != "Existing":
        raise Failure(
            f"replica {replica.key} is placed on cluster {cluster.name}, whose source is {cluster.spec.cluster.source}; "
            "only Existing (Kubernetes) clusters have manifests to render",
            EXIT_USAGE,
        )
    try:
        objects = render_replica(replica, cluster, _OPTIONS)
        if cache is not None and cache_selects(cache, cluster):  # the claim the pods mount, and the Job that fills it, first
            staged = render_cache_objects(cache.model_copy(update={"metadata": cache.metadata.model_copy(update={"namespace": replica.namespace})}), cluster)
            for obj in staged:
                obj["metadata"].setdefault("annotations", {})[TARGET_CLUSTER_ANNOTATION] = cluster.name
            objects[1:1] = staged
        validate_objects(objects)
    except (RenderError, InvalidRendered) as error:
        raise Failure(str(error), EXIT_USAGE) from None
    return objects


def _render_online(ctx: click.Context, target: str, namespace: str) -> Rendered:
    kind_text, _, name = target.partition("/")
    if not name:
        raise Failure(f"render takes mr/NAME or md/NAME (got {target!r})", EXIT_USAGE)
    kind = lookup(kind_text).kind
    client = open_client(ctx)
    if kind == "ModelReplica":
        replicas = [client.get(ModelReplica, name, namespace=namespace)]
    elif kind == "ModelDeployment":
        client.get(ModelDeployment, name, namespace=namespace)  # a clear 404 when it does not exist
        replicas = list(client.list(ModelReplica, namespace=namespace, label_selector=f"{DEPLOYMENT_LABEL}={name}").items)
        if not replicas:
            raise Failure(f"deployment {namespace}/{name} has no replicas yet: nothing is placed, so nothing to render")
    else:
        raise Failure(f"render takes a ModelReplica (mr/NAME) or a ModelDeployment (md/NAME); {target!r} is a {kind}", EXIT_USAGE)
    out: Rendered = []
    clusters: dict[str, InferenceCluster] = {}
    for replica in replicas:
        cname = replica.spec.cluster_name
        if cname not in clusters:
            clusters[cname] = client.get(InferenceCluster, cname)
        out.append((cname, _render_one(replica, clusters[cname], _cache_of(client, replica))))
    return out


def _cache_of(client: Any, replica: ModelReplica) -> ModelCache | None:
    ref = replica.spec.model_cache_ref
    if ref is None:
        return None
    try:
        cache = client.get("ModelCache", ref.name, namespace=replica.namespace)
    except ApiError as error:
        if error.not_found:
            return None  # not created yet: the replica's objects alone
        raise
    return cache if isinstance(cache, ModelCache) else None


class _PlainDumper(yaml.SafeDumper):
    """A YAML dumper that never writes anchors and aliases (`&id001`): GitOps tools and people
    read each object on its own."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _dump(obj: Any) -> str:
    return yaml.dump(obj, Dumper=_PlainDumper, sort_keys=False)


def write_tree(rendered: Rendered, root: Path) -> list[Path]:
    """Write one file per object under `root/<cluster>/<namespace>/`; returns the paths written."""
    written: list[Path] = []
    for cluster, objects in rendered:
        for obj in objects:
            meta = obj["metadata"]
            folder = root / cluster / (meta.get("namespace") or "_cluster")
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{obj['kind'].lower()}-{meta['name']}.yaml"
            if path in written:
                continue  # a Namespace shared by several replicas of one cluster
            path.write_text(_dump(obj))
            written.append(path)
    return written


def stream(rendered: Rendered) -> str:
    """One YAML stream; a Namespace shared by several replicas of a cluster appears once."""
    seen: set[tuple[str, str, str]] = set()
    docs = []
    for cluster, objects in rendered:
        for obj in objects:
            ident = (cluster, obj["kind"], obj["metadata"].get("namespace", "") + "/" + obj["metadata"]["name"])
            if ident in seen:
                continue
            seen.add(ident)
            docs.append(obj)
    return yaml.dump_all(docs, Dumper=_PlainDumper, sort_keys=False)


@click.command("render")
@click.argument("target", required=False, metavar="mr/NAME|md/NAME")
@click.option("-f", "--filename", "paths", multiple=True, help="Render offline from manifests (file, directory or -; repeatable).")
@click.option("--to-dir", type=click.Path(file_okay=False, path_type=Path), default=None, help="Write one file per object under DIR/<cluster>/<namespace>/.")
@namespace_option
@connection_options
@click.pass_context
def render_command(ctx: click.Context, target: str | None, paths: tuple[str, ...], to_dir: Path | None, namespace: str | None) -> None:
    """Print the Kubernetes objects of a replica (mr/NAME) or of a deployment's replicas (md/NAME).

    With -f, nothing is contacted: the manifests' deployments are planned as `laneway plan`
    does and each placed replica is rendered for its cluster. Every object is annotated with
    laneway.dev/target-cluster.
    """
    if paths and target:
        raise Failure("give either mr/NAME (or md/NAME) or -f manifests, not both", EXIT_USAGE)
    if not paths and not target:
        raise Failure("nothing to render: give mr/NAME, md/NAME or -f manifests", EXIT_USAGE)
    rendered = render_offline(load_paths(paths)) if paths else _render_online(ctx, target or "", namespace or DEFAULT_NAMESPACE)
    if to_dir is not None:
        for path in write_tree(rendered, to_dir):
            click.echo(str(path))
        return
    click.echo(stream(rendered), nl=False)


render = render_command
