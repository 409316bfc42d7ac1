"""`laneway cluster check NAME`: is an Existing (or provisioned) cluster fit to run replicas?
`laneway cluster join-token NAME` / `remove-machine NAME MACHINE`: machines of a Machines cluster.
`laneway cluster plan -f cluster.yaml`: what provisioning a cloud cluster would create and cost.

    laneway cluster check gpu-eu                                  # cluster from the running laneway
    laneway cluster check gpu-eu -f platform.yaml --kubeconfig ~/.kube/gpu-eu.yaml   # before applying

What it checks, and what each failure says to do, is in `laneway.drivers.kubernetes.checks`.
The cluster and its classes come from `-f` manifests, else from the API. The kubeconfig comes
from `--kubeconfig`, else from the cluster's Secret in the `-f` manifests, else from the local
laneway's store (Secrets are never returned by the API, so on another machine pass
`--kubeconfig`): the kubeconfig sources of `laneway.drivers.kubeconfig`, tried in that order.
A provisioned cluster (EKS, GKE) has no kubeconfig Secret: its provisioner mints one from the
credentials Secret (in the -f manifests, else the local store), with read-only calls. Exits 0 when every check passes (warnings allowed), 1 otherwise.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from laneway.api.kinds import InferenceClass, InferenceCluster, ModelDeployment, Secret
from laneway.api.manifest import load_paths
from laneway.cli.cluster_plan import cluster_plan_json, render_cluster_plans
from laneway.cli.context import connection_options, global_options, open_client
from laneway.cli.errors import EXIT_REFUSED, EXIT_USAGE, Failure
from laneway.drivers.kubeconfig import (
    FileKubeconfig,
    FirstOf,
    Kubeconfig,
    ManifestKubeconfigs,
    NoKubeconfig,
    StoreFileKubeconfigs,
)
from laneway.drivers.kubernetes.checks import Check, evaluate, failed, gather
from laneway.drivers.kubernetes.connection import connect
from laneway.drivers.kubernetes.errors import ClusterUnavailable
from laneway.drivers.provisioners.plan import PROVISIONED_SOURCES, PlanError, plan_cluster
from laneway.drivers.provisioners.source import PROVISIONED, provisioner_for
from laneway.paths import DataDir, data_dir
from laneway.store.base import Store

_MARK = {"ok": "ok  ", "warn": "warn", "fail": "FAIL"}


def _from_manifests(name: str, resources: Sequence[Any]) -> tuple[InferenceCluster, dict[str, InferenceClass]]:
    cluster = next((r for r in resources if isinstance(r, InferenceCluster) and r.name == name), None)
    if cluster is None:
        raise Failure(f"no InferenceCluster named {name!r} in the -f manifests", EXIT_USAGE)
    return cluster, {r.name: r for r in resources if isinstance(r, InferenceClass)}


def _from_api(ctx: click.Context, name: str) -> tuple[InferenceCluster, dict[str, InferenceClass]]:
    client = open_client(ctx)
    cluster = client.get(InferenceCluster, name)
    classes = {c.name: c for c in client.list(InferenceClass).items}
    return cluster, classes


def _kubeconfig(
    ctx: click.Context, cluster: InferenceCluster, resources: Sequence[Any], path: Path | None, store: str | None = None
) -> Kubeconfig:
    """The kubeconfig to check with: `--kubeconfig`, else the cluster's Secret in the `-f`
    manifests, else in the local laneway's store (see `laneway.drivers.kubeconfig`)."""
    if path is not None:
        try:
            return FileKubeconfig(path).kubeconfig(cluster)
        except NoKubeconfig as missing:
            raise Failure(f"--kubeconfig: {missing}", EXIT_USAGE) from None
    store_path: Path | str = store or DataDir(data_dir(global_options(ctx).data_dir)).store_path
    if cluster.spec.cluster.source in PROVISIONED:
        return _provisioned_kubeconfig(cluster, resources, store_path)
    if cluster.spec.cluster.source != "Existing" or cluster.spec.cluster.existing is None:
        raise Failure(
            f"cluster {cluster.name} has source {cluster.spec.cluster.source}; only Existing and provisioned "
            f"({', '.join(PROVISIONED)}) clusters are checked",
            EXIT_USAGE,
        )
    try:
        return FirstOf(ManifestKubeconfigs(resources), StoreFileKubeconfigs(store_path)).kubeconfig(cluster)
    except NoKubeconfig as missing:
        raise Failure(f"no kubeconfig for cluster {cluster.name}: {missing}; pass --kubeconfig FILE", EXIT_USAGE) from None


def _provisioned_kubeconfig(cluster: InferenceCluster, resources: Sequence[Any], store_path: Path | str) -> Kubeconfig:
    """A provisioned cluster's kubeconfig, from its provisioner (a short-lived token the
    provider mints, read-only calls only) with the credentials Secret in the `-f` manifests,
    else in the local laneway's store."""
    from laneway.store import describe_target, is_postgres, open_store
    from laneway.store.memory import MemoryStore

    given = [r for r in resources if isinstance(r, (Secret, InferenceClass))]
    if any(isinstance(r, Secret) for r in given):
        store: Store = MemoryStore()
        for r in given:
            store.create(r)
        where = "the -f manifests"
    elif is_postgres(store_path) or Path(store_path).exists():
        store, where = open_store(store_path), f"the store at {describe_target(store_path)}"
    else:
        raise Failure(f"no kubeconfig for cluster {cluster.name}: its credentials Secret is in no -f manifest and there is no local store; "
                      "pass -f with the Secret, or --kubeconfig FILE", EXIT_USAGE)
    provisioner = provisioner_for(cluster.spec.cluster.source, store)
    assert provisioner is not None
    try:
        return provisioner.kubeconfig(cluster)
    except NoKubeconfig as missing:
        raise Failure(f"no kubeconfig for cluster {cluster.name} (credentials from {where}): {missing}; pass --kubeconfig FILE", EXIT_USAGE) from None
    finally:
        asyncio.run(provisioner.close())
        store.close()


def render_checks(checks: Sequence[Check]) -> str:
    lines = []
    for c in checks:
        lines.append(f"{_MARK[c.status]}  {c.name}: {c.message}")
        if c.fix and c.status != "ok":
            lines.append(f"      fix: {c.fix}")
    return "\n".join(lines)


@click.group("cluster")
def cluster() -> None:
    """Inspect the clusters of the fleet, and let machines join or leave them."""


@cluster.command("check")
@click.argument("name")
@click.option("-f", "--filename", "paths", multiple=True, help="Read the cluster, its classes (and Secret) from manifests instead of the API.")
@click.option("--kubeconfig", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Kubeconfig file to use instead of the cluster's Secret.")
@click.option("--store", "store_target", default=None, metavar="TARGET", help="The store to read the cluster's kubeconfig Secret from: a SQLite path or postgresql://... (else the local laneway's file).")
@click.option("--inference-extension", is_flag=True, default=False, help="Also require the Gateway API Inference Extension (PrefillDecode serving).")
@connection_options
@click.pass_context
def check(
    ctx: click.Context, name: str, paths: tuple[str, ...], kubeconfig: Path | None, store_target: str | None, inference_extension: bool
) -> None:
    """Check an Existing or provisioned (EKS, GKE) cluster the way laneway will use it.

    API reachable, Kubernetes 1.34+, resource.k8s.io/v1, LeaderWorkerSet, the Gateway API (and
    the Inference Extension when asked or when a -f deployment uses PrefillDecode), the Gateway's
    address, each pool's nodes labelled laneway.dev/pool, and the class's devices published in
    ResourceSlices. Each failure says what to install or label.
    """
    resources = load_paths(paths) if paths else []
    target, classes = _from_manifests(name, resources) if paths else _from_api(ctx, name)
    found = _kubeconfig(ctx, target, resources, kubeconfig, store_target)
    text, where = found.text, found.where
    needs_inference = inference_extension or any(
        isinstance(r, ModelDeployment) and r.spec.template.spec.serving.mode == "PrefillDecode" for r in resources
    )
    try:
        conn = connect(text, where=where)
    except ClusterUnavailable as error:
        raise Failure(str(error), EXIT_USAGE) from None
    try:
        facts = gather(conn, target)
    finally:
        conn.close()
    checks = evaluate(facts, target, classes, needs_inference=needs_inference)
    click.echo(f"cluster {target.name} ({conn.host}, kubeconfig from {where})")
    click.echo(render_checks(checks))
    bad = failed(checks)
    if bad:
        raise Failure(f"{len(bad)} check(s) failed on cluster {target.name}; fix them and run the check again", EXIT_REFUSED)


@cluster.command("plan")
@click.argument("names", nargs=-1)
@click.option("-f", "--filename", "paths", multiple=True, required=True, help="Manifests with the clusters and the InferenceClasses their pools name.")
@click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table", show_default=True)
def plan(names: tuple[str, ...], paths: tuple[str, ...], output: str) -> None:
    """Show what provisioning cloud clusters would create and cost per hour, offline.

    For each EKS/GKE/AKS/Nebius/Vultr InferenceCluster in the manifests (or the NAMES given):
    its node pools, the machine each comes from (the class's provisioning block or the pool's
    instanceType), node counts and the hourly price from the class's pricing. Nothing is
    called and nothing is created. Exits 2 when a pool cannot be planned, saying how to fix it.
    """
    resources = load_paths(paths)
    clusters = [r for r in resources if isinstance(r, InferenceCluster)]
    if names:
        missing = sorted(set(names) - {c.name for c in clusters})
        if missing:
            raise Failure(f"no InferenceCluster named {', '.join(missing)} in the -f manifests", EXIT_USAGE)
        clusters = [c for c in clusters if c.name in names]
    else:
        clusters = [c for c in clusters if c.spec.cluster.source in PROVISIONED_SOURCES]
    if not clusters:
        raise Failure(f"no provisioned InferenceCluster (source {', '.join(PROVISIONED_SOURCES)}) in the -f manifests", EXIT_USAGE)
    classes = {r.name: r for r in resources if isinstance(r, InferenceClass)}
    try:
        plans = [plan_cluster(c, classes) for c in clusters]
    except PlanError as error:
        raise Failure(str(error), EXIT_USAGE) from None
    if output == "json":
        click.echo(json.dumps({"clusters": [cluster_plan_json(p) for p in plans]}, indent=2))
    else:
        click.echo(render_cluster_plans(plans))


@cluster.command("join-token")
@click.argument("name")
@click.option("--ttl", default="1h", show_default=True, help="How long the token may be used, e.g. 30m, 12h, 7d (once: the first join spends it).")
@connection_options
@click.pass_context
def join_token(ctx: click.Context, name: str, ttl: str) -> None:
    """Mint a one-use join token for the Machines cluster NAME (platform or admin token).

    Start `laneway agent --server URL --token TOKEN` on the machine: it exchanges the token for
    a credential of its own, limited to that machine. The token is shown this once; when the
    server has a TLS door for agents (`laneway up --agent-port`), the CA fingerprint to pin
    (`--ca-cert-hash`) is printed with it.
    """
    answer = open_client(ctx).join_token(name, ttl=ttl)
    click.echo(str(answer.get("token", "")))
    pin = f" --ca-cert-hash {answer['caCertHash']}" if answer.get("caCertHash") else ""
    click.echo(f"join token {answer.get('id', '?')} for cluster {name}, usable once until {answer.get('expires', '?')}; "
               f"start the agent with:\n  laneway agent --server URL --token TOKEN{pin}", err=True)


@cluster.command("remove-machine")
@click.argument("name")
@click.argument("machine")
@connection_options
@click.pass_context
def remove_machine(ctx: click.Context, name: str, machine: str) -> None:
    """Cut MACHINE off the Machines cluster NAME: its credential is revoked at once, it leaves
    the cluster's status, and its replicas go to other machines of its pool. Its agent stops
    its engines at its next heartbeat (or when it next reaches the control plane)."""
    answer = open_client(ctx).remove_machine(name, machine)
    click.echo(f"machine {machine} removed from cluster {name}; {answer.get('credentialsRevoked', 0)} credential(s) revoked")
