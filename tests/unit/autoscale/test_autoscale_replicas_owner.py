"""`apply` of an autoscaled deployment: a manifest without `replicas` keeps the live count."""

from __future__ import annotations

import textwrap

from laneway.api.kinds.deployment import ModelDeployment
from laneway.api.manifest import load_text
from laneway.autoscale.replicas_owner import replicas_on_apply

MANIFEST = """
apiVersion: laneway.dev/v1alpha1
kind: ModelDeployment
metadata: {name: chat, namespace: ml}
spec:
  {replicas}
  autoscaling: {{minReplicas: 1, maxReplicas: 4}}
  template:
    spec:
      engines:
        - name: main
          members:
            - nodeSelector: {{devices: [{{name: cpu, selectors: [{{cel: "true"}}]}}]}}
              template: {{spec: {{containers: [{{name: engine, image: sim}}]}}}}
"""


def _manifest(replicas: str = "") -> ModelDeployment:
    (obj,) = load_text(textwrap.dedent(MANIFEST).replace("{replicas}", replicas).replace("{{", "{").replace("}}", "}"))
    assert isinstance(obj, ModelDeployment)
    return obj


def _live(count: int) -> ModelDeployment:
    live = _manifest()
    return live.model_copy(update={"spec": live.spec.model_copy(update={"replicas": count})})


def test_a_manifest_without_replicas_leaves_the_autoscaled_count_alone() -> None:
    sent, note = replicas_on_apply(_manifest(), _live(3))
    assert sent.spec.replicas == 3 and note is None


def test_replicas_outside_the_bounds_are_clamped_with_a_message() -> None:
    sent, note = replicas_on_apply(_manifest("replicas: 10"), _live(3))
    assert sent.spec.replicas == 4
    assert note is not None and "maxReplicas 4" in note and "10" in note
    sent, note = replicas_on_apply(_manifest("replicas: 2"), _live(3))
    assert sent.spec.replicas == 2 and note is None, "a count written inside the bounds is taken"


def test_without_autoscaling_replicas_mean_what_they_say() -> None:
    plain = _manifest()
    plain = plain.model_copy(update={"spec": plain.spec.model_copy(update={"autoscaling": None})})
    sent, note = replicas_on_apply(plain, _live(3))
    assert sent.spec.replicas == 1 and note is None
