"""The ticket `laneway ticket new` writes: every row present, a question under each.

A blank row is written as `none: TODO ...` so the file loads as it stands and `ticket check`
lists every row still to answer; answering means replacing it with the row's fields. With
`--from`, the rows an existing ModelDeployment (and a ModelService in the same input) already
answer are filled from them, the rest are left as questions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml

from laneway.api.kinds.deployment import ModelDeployment
from laneway.api.kinds.serving import ModelService
from laneway.api.kinds.ticket import TICKET_ROWS
from laneway.api.labels import JOB_ANNOTATION, MODEL_ANNOTATION
from laneway.api.meta import GROUP_VERSION, LABEL_PREFIX, Resource
from laneway.ticket.checks import PLACEHOLDER, QUESTIONS

TODO = PLACEHOLDER

EXAMPLES: dict[str, str] = {
    "model": "{name: Qwen/Qwen3-Coder-30B-A3B-Instruct, job: \"review pull requests for the tools team\"}",
    "engine": "{image: vllm/vllm-openai:v0.23.0, args: [...]}",
    "hardware": "{devices: [{name: gpu, count: 1, selectors: [{cel: '...'}]}]}  or  {className: h100-80gb}",
    "fleetBoundary": "{matchLabels: {laneway.dev/cloud: on-prem}}",
    "sovereignty": "{matchLabels: {laneway.dev/jurisdiction: eu}}",
    "scaling": "{replicas: 2, peakConcurrency: 40, latencyBudget: {p95: 4s, p95TimeToFirstToken: 800ms}}",
    "endpoint": "{service: pr-review, modelNames: [coder], owner: {team: internal-tools, contact: \"#tools-oncall\"}}",
    "overflow": "{tier: Overflow, url: https://..., model: ..., auth: {secretRef: {name: ..., key: ...}}, labels: {...}}",
    "cache": "{source: HuggingFace, huggingFace: {repo: ..., revision: ...}}",
    "lifecycle": "{revisionHistoryLimit: 5, rollback: {onBudgetBreach: true}, retireAfter: 2027-06-30}",
}


def _rows_from(deployment: ModelDeployment | None, service: ModelService | None) -> dict[str, dict[str, Any]]:
    """The rows an existing deployment and service already answer, in ticket shape."""
    rows: dict[str, dict[str, Any]] = {}
    if deployment is not None:
        ann = deployment.metadata.annotations
        tspec = deployment.spec.template.spec
        member = tspec.engines[0].members[0]
        container = member.container
        if ann.get(MODEL_ANNOTATION) or ann.get(JOB_ANNOTATION):
            rows["model"] = {k: v for k, v in (("name", ann.get(MODEL_ANNOTATION)), ("job", ann.get(JOB_ANNOTATION))) if v}
        engine: dict[str, Any] = {"image": container.image}
        if container.command:
            engine["command"] = list(container.command)
        if container.args:
            engine["args"] = list(container.args)
        if container.port:
            engine["port"] = container.port
        rows["engine"] = engine
        if member.node_selector is not None:
            rows["hardware"] = {"devices": [d.model_dump(by_alias=True, exclude_none=True) for d in member.node_selector.devices]}
        selector = tspec.cluster_selector.model_dump(by_alias=True, exclude_defaults=True)
        sovereign = {k: v for k, v in tspec.cluster_selector.match_labels.items() if k == LABEL_PREFIX + "jurisdiction"}
        fleet = {k: v for k, v in tspec.cluster_selector.match_labels.items() if k not in sovereign}
        if fleet or tspec.cluster_selector.match_expressions:
            rows["fleetBoundary"] = {**({"matchLabels": fleet} if fleet else {}), **(
                {"matchExpressions": selector["matchExpressions"]} if "matchExpressions" in selector else {})}
        if sovereign:
            rows["sovereignty"] = {"matchLabels": sovereign}
        scaling: dict[str, Any] = {}
        if deployment.spec.autoscaling is not None:
            scaling = {"minReplicas": deployment.spec.autoscaling.min_replicas, "maxReplicas": deployment.spec.autoscaling.max_replicas}
        else:
            scaling = {"replicas": deployment.spec.replicas}
        rows["scaling"] = scaling
        life: dict[str, Any] = {"revisionHistoryLimit": deployment.spec.revision_history_limit}
        if deployment.spec.retire_after:
            life["retireAfter"] = deployment.spec.retire_after
        rows["lifecycle"] = life
    if service is not None:
        endpoint: dict[str, Any] = {"service": service.name}
        if service.spec.model_names:
            endpoint["modelNames"] = list(service.spec.model_names)
        if service.spec.owner is not None:
            endpoint["owner"] = service.spec.owner.model_dump(by_alias=True, exclude_none=True)
        rows["endpoint"] = endpoint
        if service.spec.slo is not None and "scaling" in rows:
            budget = {k: v for k, v in (("p95", service.spec.slo.p95_latency), ("p95TimeToFirstToken", service.spec.slo.p95_time_to_first_token)) if v}
            if budget:
                rows["scaling"]["latencyBudget"] = budget
        if service.spec.data_boundary is not None and "sovereignty" not in rows:
            rows["sovereignty"] = service.spec.data_boundary.model_dump(by_alias=True, exclude_defaults=True)
    return rows


def new_ticket(name: str, *, namespace: str | None = None, source: Sequence[Resource] = ()) -> str:
    """The YAML of a new ticket: rows filled from `source` where it answers them, the others
    `none: TODO` with their question and an example above them."""
    deployment = next((r for r in source if isinstance(r, ModelDeployment)), None)
    service = next((r for r in source if isinstance(r, ModelService)), None)
    filled = _rows_from(deployment, service)
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    head = yaml.safe_dump({"apiVersion": GROUP_VERSION, "kind": "InferenceTicket", "metadata": meta}, sort_keys=False)
    lines = [
        "# An inference deployment ticket: answer every row, then run `laneway ticket check` on it.",
        "# A row left deliberately empty is answered `none: <why>`; `none: TODO` means not answered yet.",
        head.rstrip(),
        "spec:",
    ]
    for key in TICKET_ROWS:
        lines.append(f"  # {QUESTIONS[key]}")
        lines.append(f"  #   e.g. {key}: {EXAMPLES[key]}")
        if key in filled:
            body = yaml.safe_dump({key: filled[key]}, sort_keys=False, default_flow_style=False, width=120)
            lines += ["  " + line for line in body.rstrip().splitlines()]
        else:
            lines.append(f"  {key}: {{none: \"{TODO}: {QUESTIONS[key]}\"}}")
    return "\n".join(lines) + "\n"

