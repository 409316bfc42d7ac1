"""Metadata laneway owns on objects a client may write, kept out of the client's hands.

Controllers record what they did on the objects themselves: the rollout history on a
ModelDeployment, the retirement notice on a ModelService, the finalizer that makes a
ModelCache's files go with it, the identity labels that tie composed objects together. A
write through the API from anyone but an admin (the team lane above all) cannot change them:

- **dropped** (a PUT from a manifest that never held them, a merge patch with
  `"metadata": {"annotations": null}`): the stored values are kept, so replacing an object
  from its manifest just works and cannot strip what laneway wrote;
- **changed or added** (a forged revision history, a made-up identity label, a finalizer
  laneway would never remove): refused with a 422 that names the key.

What laneway owns: every finalizer under `laneway.dev/`; the labels and annotations listed
below. Every other `laneway.dev/` key is the writer's to set (a ModelEndpoint's
`laneway.dev/jurisdiction`, a deployment's `laneway.dev/job`, a canary's
`laneway.dev/canary-for`), as the examples do; a team-written endpoint's jurisdiction is
then the team's claim, which the data boundary does not take (`laneway.gateway.provenance`).

Also here, the limits on what a client may write into metadata, as Kubernetes sets them:
annotations at most 256 KiB in all (keys and values), annotation keys qualified names, and
at most `MAX_LABELS` labels.
"""

from __future__ import annotations

from collections.abc import Mapping

from laneway.api.errors import FieldProblem
from laneway.api.labels import (
    BOUNDARY_LABELS_ANNOTATION,
    CLUSTER_LABEL,
    DEPLOYMENT_LABEL,
    REPLACES_ANNOTATION,
    REPLICA_INDEX_LABEL,
    REPLICA_LABEL,
    RETIRED_ANNOTATION,
    REVISION_ANNOTATION,
    REVISION_HISTORY_ANNOTATION,
    TICKET_LABEL,
    TOMBSTONE_UNTIL_ANNOTATION,
    WRITTEN_BY_ANNOTATION,
)
from laneway.api.labels import ROLE_LABEL as TICKET_ROLE_LABEL
from laneway.api.meta import LABEL_PREFIX, Resource, check_label_key

OWNED_LABELS: frozenset[str] = frozenset(
    {DEPLOYMENT_LABEL, REPLICA_LABEL, REPLICA_INDEX_LABEL, CLUSTER_LABEL, TICKET_LABEL, TICKET_ROLE_LABEL}
)
"""Identity labels laneway stamps on what it composes."""

OWNED_ANNOTATIONS: frozenset[str] = frozenset(
    {REVISION_ANNOTATION, REVISION_HISTORY_ANNOTATION, RETIRED_ANNOTATION, REPLACES_ANNOTATION, WRITTEN_BY_ANNOTATION,
     BOUNDARY_LABELS_ANNOTATION, TOMBSTONE_UNTIL_ANNOTATION}
)
"""Annotations laneway writes (rollout history, retirement and tombstones, replica succession, who wrote a
Secret or an endpoint and which of its labels are the platform's word). A part of laneway that records something of its own in an annotation adds
the key here."""

MAX_ANNOTATIONS_BYTES = 256 * 1024
MAX_LABELS = 100


def owns_finalizer(finalizer: str) -> bool:
    return finalizer.startswith(LABEL_PREFIX)


def _owned(values: Mapping[str, str], owned: frozenset[str]) -> dict[str, str]:
    return {k: v for k, v in values.items() if k in owned}


def _problem(field: str, key: str, what: str) -> FieldProblem:
    return FieldProblem(
        f"metadata.{field}[{key!r}]",
        f"{what}: {key!r} is written by laneway itself, not through the API; leave it out (what is stored is kept)",
    )


def _merged(field: str, written: Mapping[str, str], stored: Mapping[str, str], owned: frozenset[str],
            problems: list[FieldProblem]) -> dict[str, str]:
    """`written` with laneway's keys as stored; a changed or added one is a problem."""
    kept = _owned(stored, owned)
    for key, value in _owned(written, owned).items():
        if key not in kept:
            problems.append(_problem(field, key, "may not be added"))
        elif value != kept[key]:
            problems.append(_problem(field, key, "may not be changed"))
    return {**{k: v for k, v in written.items() if k not in owned}, **kept}


def protect(obj: Resource, existing: Resource | None) -> tuple[Resource, list[FieldProblem]]:
    """`obj` as a non-admin client wrote it, with laneway's metadata as `existing` holds it
    (None on create); the problems say which owned key the client tried to add or change."""
    problems: list[FieldProblem] = []
    meta = obj.metadata
    stored_labels = existing.metadata.labels if existing is not None else {}
    stored_annotations = existing.metadata.annotations if existing is not None else {}
    stored_finalizers = existing.metadata.finalizers if existing is not None else []
    labels = _merged("labels", meta.labels, stored_labels, OWNED_LABELS, problems)
    annotations = _merged("annotations", meta.annotations, stored_annotations, OWNED_ANNOTATIONS, problems)
    kept = [f for f in stored_finalizers if owns_finalizer(f)]
    for f in meta.finalizers:
        if owns_finalizer(f) and f not in kept:
            problems.append(FieldProblem(
                "metadata.finalizers",
                f"{f!r} may not be added: finalizers under {LABEL_PREFIX} are laneway's own; leave them out",
            ))
    finalizers = [*kept, *(f for f in meta.finalizers if not owns_finalizer(f) and f)]
    finalizers = list(dict.fromkeys(finalizers))
    if problems:
        return obj, problems
    updated = meta.model_copy(update={"labels": labels, "annotations": annotations, "finalizers": finalizers})
    return obj.model_copy(update={"metadata": updated}), []


def metadata_limits(obj: Resource) -> list[FieldProblem]:
    """What a client wrote beyond Kubernetes' limits on metadata (laneway's own annotations,
    which a client cannot write, do not count against the client's 256 KiB)."""
    problems: list[FieldProblem] = []
    meta = obj.metadata
    if len(meta.labels) > MAX_LABELS:
        problems.append(FieldProblem("metadata.labels", f"has {len(meta.labels)} labels; at most {MAX_LABELS} are allowed"))
    size = sum(len(k.encode()) + len(v.encode()) for k, v in meta.annotations.items() if k not in OWNED_ANNOTATIONS)
    if size > MAX_ANNOTATIONS_BYTES:
        problems.append(FieldProblem(
            "metadata.annotations",
            f"are {size:,} bytes in all; at most {MAX_ANNOTATIONS_BYTES:,} (256 KiB) are allowed: keep large data "
            "out of annotations",
        ))
    for key in meta.annotations:
        try:
            check_label_key(key)
        except ValueError as e:
            problems.append(FieldProblem(f"metadata.annotations[{key!r}]", str(e).replace("label key", "annotation key")))
    return problems
