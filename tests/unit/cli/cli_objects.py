"""Small valid objects for the CLI's unit tests, built from manifests as a user writes them."""

from __future__ import annotations

from typing import Any

import yaml

from laneway.api.manifest import parse_object
from laneway.api.meta import Resource

DEPLOYMENT = """
apiVersion: laneway.dev/v1alpha1
kind: ModelDeployment
metadata:
  name: llama
  namespace: ml-team
  labels: {app: llama}
spec:
  replicas: 2
  template:
    spec:
      clusterSelector:
        matchLabels: {laneway.dev/region: eu-west}
      engines:
      - name: main
        members:
        - nodeSelector:
            devices:
            - name: cpu
              count: 1
              selectors:
              - cel: device.driver == "cpu.laneway.dev"
          template:
            spec:
              containers:
              - name: engine
                image: laneway/sim:latest
"""


def obj(text: str, **overrides: Any) -> Resource:
    doc = yaml.safe_load(text)
    for path, value in overrides.items():
        node = doc
        *parents, leaf = path.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return parse_object(doc)


def deployment(**overrides: Any) -> Resource:
    return obj(DEPLOYMENT, **overrides)
