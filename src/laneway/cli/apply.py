"""`laneway apply -f`: make the stored objects match manifests.

Every manifest is read and validated locally first (laneway.api.manifest.load_paths); if any
is invalid, nothing is sent, so a bad file never leaves a fleet half-applied. Valid objects
are then applied in dependency order (Secrets and platform kinds before the models that use
them), each created, or updated keeping what the server owns, or left alone when unchanged.
A refusal from the server for one object is reported and the rest still go (exit 1).
"""

from __future__ import annotations

from collections.abc import Sequence

import click

from laneway.api.manifest import load_paths
from laneway.api.meta import Resource
from laneway.api.registry import by_kind
from laneway.cli.context import DEFAULT_NAMESPACE, connection_options, namespace_given, namespace_option, open_client
from laneway.cli.errors import EXIT_USAGE, Failure
from laneway.cli.kinds import ref
from laneway.client import ApiError

APPLY_ORDER = (
    "Secret",
    "InferenceClass",
    "InferenceGateway",
    "InferenceCluster",
    "ModelCache",
    "ModelEndpoint",
    "ModelDeployment",
    "ModelReplica",
    "ModelService",
    "InferenceTicket",
)


def in_apply_order(objects: Sequence[Resource]) -> list[Resource]:
    """Stable: objects of one kind keep the order they were written in."""
    rank = {k: i for i, k in enumerate(APPLY_ORDER)}
    return sorted(objects, key=lambda o: rank.get(o.kind, len(rank)))


def with_namespace(obj: Resource, namespace: str | None, *, default: str = DEFAULT_NAMESPACE) -> Resource:
    """Fill the namespace of a namespaced object from -n (else `default`); refuse a mismatch
    with an explicit -n."""
    info = by_kind(obj.kind)
    if not info.namespaced:
        return obj
    if obj.metadata.namespace and namespace and obj.metadata.namespace != namespace:
        raise Failure(
            f"{ref(info, obj.name)} is in namespace {obj.metadata.namespace!r} but -n says {namespace!r}; "
            "drop -n or change the manifest",
            EXIT_USAGE,
        )
    if obj.metadata.namespace:
        return obj
    meta = obj.metadata.model_copy(update={"namespace": namespace or default})
    return obj.model_copy(update={"metadata": meta})


@click.command()
@click.option("-f", "--filename", "paths", multiple=True, required=True, metavar="PATH", help="A file, a directory (recursively, *.yaml/*.yml/*.json) or '-' for stdin; repeatable.")
@namespace_option
@connection_options
@click.pass_context
def apply(ctx: click.Context, paths: tuple[str, ...], namespace: str | None) -> None:
    """Create or update the objects in manifests; prints `kind/name created|configured|unchanged`.

    Modelplane manifests (apiVersion modelplane.ai/v1alpha1) apply unchanged.
    """
    explicit = namespace if namespace_given(ctx) else None
    default = namespace or DEFAULT_NAMESPACE
    objects = in_apply_order([with_namespace(o, explicit, default=default) for o in load_paths(paths)])
    if not objects:
        raise Failure(f"no objects found in {', '.join(paths)}", EXIT_USAGE)
    client = open_client(ctx)
    failed: list[str] = []
    for obj in objects:
        name = ref(by_kind(obj.kind), obj.name)
        notes: list[str] = []
        try:
            _, outcome = client.apply(obj, notes=notes)
        except ApiError as e:
            failed.append(f"{name}: {e}")
            click.echo(f"{name} refused", err=True)
            continue
        click.echo(f"{name} {outcome}")
        for note in notes:
            click.echo(f"{name}: {note}", err=True)
    if failed:
        raise Failure(f"{len(failed)} of {len(objects)} objects were refused:\n" + "\n".join(failed))
