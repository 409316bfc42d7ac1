"""`laneway explain KIND[.field.path]`: what a kind's fields are, from the API's own schemas.

The schemas are the OpenAPI document the server publishes (`laneway.server.openapi`), built
here from the same models, so explain needs no running server and says exactly what `apply`
and the server accept. Rendering lives in `laneway.cli.schema_view`.
"""

from __future__ import annotations

import click

from laneway.cli.errors import EXIT_USAGE, Failure
from laneway.cli.kinds import one_kind
from laneway.cli.schema_view import UnknownField, explain_text

SUMMARIES = {
    "InferenceGateway": "The fleet's one front door (platform, cluster-scoped): address, listeners, TLS, gateway policy.",
    "InferenceClass": "A tested recipe for a node pool (platform, cluster-scoped): the devices a node has, "
    "optional provisioning, price.",
    "InferenceCluster": "A cluster in the fleet (platform, cluster-scoped): its source (Local, Existing kubeconfig, "
    "cloud), labels, node pools, taints.",
    "Secret": "API keys, kubeconfigs, tokens, in Kubernetes' v1 Secret shape; write-only through the API.",
    "ModelDeployment": "A model's engines, replicas, autoscaling, cache and placement constraints (ML team).",
    "ModelReplica": "One complete serving instance of a deployment, pinned to one cluster by the scheduler (laneway).",
    "ModelEndpoint": "One reachable backend URL (laneway, or the ML team for external providers).",
    "ModelService": "One URL over endpoints chosen by label, with weights, tiers, data boundary, SLO and owner (ML team).",
    "ModelCache": "Weights staged once per matching cluster (ML team).",
    "InferenceTicket": "The deployment ticket: the ten questions answered, checked, then composed (ML team).",
}
"""One line per kind for `explain KIND` (the design's resource table): the models' schemas carry
types and bounds, the prose lives in docs/reference/resources.md."""
REFERENCE = "docs/reference/resources.md"


@click.command()
@click.argument("target", metavar="KIND[.FIELD...]")
@click.option("--recursive", is_flag=True, help="Print every field below, nested, with its type.")
def explain(target: str, recursive: bool) -> None:
    """Describe a kind's fields, or one field's: its type, whether it is required, its
    allowed values, bounds and default, and the fields under it.

    \b
    laneway explain md
    laneway explain md.spec.autoscaling
    laneway explain ms.spec.endpoints --recursive
    """
    from laneway.cli.field_docs import field_docs
    from laneway.server.openapi import build_openapi  # the server's document, built from the same models

    kind_text, _, rest = target.partition(".")
    info = one_kind(kind_text)
    path = [p for p in rest.split(".") if p] if rest else []
    try:
        text = explain_text(
            build_openapi(), kind=info.kind, api_version=info.api_version, path=path, recursive=recursive,
            summary=SUMMARIES.get(info.kind, ""), see=f"{REFERENCE} ({info.kind})", docs=field_docs(),
        )
    except UnknownField as e:
        raise Failure(f"{e} (`laneway explain {kind_text}` lists them)", EXIT_USAGE) from None
    click.echo(text)
