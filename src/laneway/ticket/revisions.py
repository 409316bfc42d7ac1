"""Rollout history: every change of a ModelDeployment's template is a numbered revision.

The history lives on the deployment itself, in two annotations the rollout controller
writes (`laneway.dev/revision`: the current number; `laneway.dev/revision-history`: the kept
revisions as JSON), so it travels with the object and needs no extra kind. Only the template
makes a revision: scaling, autoscaling bounds and retirement dates are not rollouts.

As in Kubernetes, restoring an old revision (`laneway rollout undo`) does not add a copy: the
restored template takes the next number and its old entry goes, so the history never holds
one template twice. At most `revisionHistoryLimit` revisions are kept besides the current one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from laneway.api.kinds.deployment import ModelDeployment, ReplicaTemplate
from laneway.api.labels import REVISION_ANNOTATION, REVISION_HISTORY_ANNOTATION

MAX_CHANGES_SHOWN = 4


class BadHistory(ValueError):
    """The history annotation is not what the rollout controller writes (edited by hand)."""


@dataclass(frozen=True)
class Revision:
    number: int
    template: dict[str, Any]
    change: str
    recorded_at: str

    @property
    def digest(self) -> str:
        return template_digest(self.template)

    def wire(self) -> dict[str, Any]:
        return {"revision": self.number, "change": self.change, "recordedAt": self.recorded_at, "template": self.template}


def template_doc(deployment: ModelDeployment) -> dict[str, Any]:
    return deployment.spec.template.model_dump(mode="json", by_alias=True, exclude_none=True)


def template_digest(template: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(template, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:16]


def read_history(deployment: ModelDeployment) -> list[Revision]:
    """The kept revisions, oldest first. Raises BadHistory when the annotation is unreadable."""
    text = deployment.metadata.annotations.get(REVISION_HISTORY_ANNOTATION)
    if not text:
        return []
    try:
        items = json.loads(text)
        return [Revision(int(i["revision"]), dict(i["template"]), str(i.get("change", "")), str(i.get("recordedAt", ""))) for i in items]
    except (ValueError, KeyError, TypeError) as e:
        raise BadHistory(
            f"annotation {REVISION_HISTORY_ANNOTATION} of ModelDeployment {deployment.key} is not a revision history ({e}); "
            "remove it and the rollout controller starts a new history"
        ) from None


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        out = {}
        for i, v in enumerate(value):
            out.update(_flatten(v, f"{prefix}[{i}]"))
        return out
    return {prefix: value}


def _short(value: Any) -> str:
    text = "unset" if value is None else (json.dumps(value) if not isinstance(value, str) else value)
    return text if len(text) <= 60 else text[:57] + "..."


def _one_change(key: str, before: Any, after: Any) -> str:
    """`key: old -> new`; two lists show only the stretch that differs (`args[4:]: [] -> ["-v"]`),
    so a flag added at the end of a long argument list is not cut off by the shortening."""
    if isinstance(before, list) and isinstance(after, list):
        head = 0
        while head < min(len(before), len(after)) and before[head] == after[head]:
            head += 1
        tail = 0
        while tail < min(len(before), len(after)) - head and before[-1 - tail] == after[-1 - tail]:
            tail += 1
        if head or tail:
            end = f"{-tail}" if tail else ""
            return f"{key}[{head}:{end}]: {_short(before[head:len(before) - tail])} -> {_short(after[head:len(after) - tail])}"
    return f"{key}: {_short(before)} -> {_short(after)}"


def describe_change(before: dict[str, Any] | None, after: dict[str, Any]) -> str:
    """What changed between two templates, as `field: old -> new` (pure)."""
    if before is None:
        return "initial template"
    old, new = _flatten(before), _flatten(after)
    keys = sorted(set(old) | set(new))
    changed = [k for k in keys if old.get(k) != new.get(k)]
    if not changed:
        return "no change"
    parts = [_one_change(k.replace("spec.engines[0].members[0].template.spec.containers[0].", "container."), old.get(k), new.get(k))
             for k in changed[:MAX_CHANGES_SHOWN]]
    if len(changed) > MAX_CHANGES_SHOWN:
        parts.append(f"and {len(changed) - MAX_CHANGES_SHOWN} more")
    return "; ".join(parts)


@dataclass(frozen=True)
class HistoryUpdate:
    """What the deployment's annotations should become; `changed` is False when they already are."""

    current: int
    history: tuple[Revision, ...]
    changed: bool

    def annotations(self) -> dict[str, str]:
        return {
            REVISION_ANNOTATION: str(self.current),
            REVISION_HISTORY_ANNOTATION: json.dumps([r.wire() for r in self.history], sort_keys=True, separators=(",", ":")),
        }


def record(deployment: ModelDeployment, *, now_text: str) -> HistoryUpdate:
    """The history once the deployment's current template is recorded (pure).

    Same template as the newest revision: nothing changes. A template seen before (an undo):
    it moves to the next number with its old entry removed. A new template: appended. Then the
    oldest are dropped so `revisionHistoryLimit` remain besides the current one.
    """
    history = read_history(deployment)
    template = template_doc(deployment)
    digest = template_digest(template)
    limit = deployment.spec.revision_history_limit
    if history and history[-1].digest == digest:
        trimmed = tuple(history[-(limit + 1):])
        current = history[-1].number
        stored = deployment.metadata.annotations.get(REVISION_ANNOTATION)
        return HistoryUpdate(current, trimmed, changed=len(trimmed) != len(history) or stored != str(current))
    previous = history[-1].template if history else None
    earlier = next((r for r in history if r.digest == digest), None)
    number = (history[-1].number + 1) if history else 1
    change = describe_change(previous, template)
    if earlier is not None:
        change = f"rollback to revision {earlier.number}: {change}"
    kept = [r for r in history if r.digest != digest]
    kept.append(Revision(number, template, change, now_text))
    return HistoryUpdate(number, tuple(kept[-(limit + 1):]), changed=True)


def with_first_revision(deployment: ModelDeployment, *, now_text: str) -> ModelDeployment:
    """A deployment about to be created, with its history already holding its template as
    revision 1 (pure); unchanged when it already holds that history, or an unreadable one.

    Why: the rollout controller records every template, so a deployment created without its
    history is written again right after its creation, and that write wakes every controller
    that reads deployments (a second plan pass, for 2,000 new deployments 2,000 writes and
    minutes of CPU). Whoever creates a deployment (the API server, the ticket controller) calls
    this, so the first record travels with the create; the controller still records whatever
    arrives without it, and every later template change."""
    try:
        update = record(deployment, now_text=now_text)
    except BadHistory:
        return deployment  # the rollout controller says why, as it does for any bad history
    if not update.changed:
        return deployment
    annotations = {**deployment.metadata.annotations, **update.annotations()}
    return deployment.model_copy(update={"metadata": deployment.metadata.model_copy(update={"annotations": annotations})})


def find_revision(history: Sequence[Revision], number: int | None) -> Revision:
    """The revision `laneway rollout undo` restores: `number`, or the one before the current.
    Raises LookupError naming the revisions that exist."""
    if not history:
        raise LookupError("no revision history yet: the rollout controller records one once the deployment is reconciled")
    if number is None:
        if len(history) < 2:
            raise LookupError(f"only revision {history[-1].number} exists: there is nothing earlier to roll back to")
        return history[-2]
    for r in history:
        if r.number == number:
            return r
    raise LookupError(f"revision {number} is not kept; kept revisions: {', '.join(str(r.number) for r in history)}")


def restored(deployment: ModelDeployment, revision: Revision) -> ModelDeployment:
    """The deployment with `revision`'s template (pure): what undo writes."""
    template = ReplicaTemplate.model_validate(revision.template)
    return deployment.model_copy(update={"spec": deployment.spec.model_copy(update={"template": template})})
