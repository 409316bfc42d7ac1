"""The Scale shape of a ModelDeployment, and reading a client's Scale back."""

from __future__ import annotations

import pytest

from laneway.api.manifest import parse_object
from laneway.server.scale import ScaleInvalid, replicas_from_scale, scale_of

DEPLOYMENT = {
    "apiVersion": "laneway.dev/v1alpha1",
    "kind": "ModelDeployment",
    "metadata": {"name": "llama", "namespace": "ml-team", "resourceVersion": "7"},
    "spec": {
        "replicas": 3,
        "template": {
            "spec": {
                "engines": [
                    {
                        "name": "main",
                        "members": [
                            {
                                "role": "Standalone",
                                "nodeSelector": {"devices": [{"name": "gpu"}]},
                                "template": {"spec": {"containers": [{"name": "engine", "image": "sim"}]}},
                            }
                        ],
                    }
                ]
            }
        },
    },
    "status": {"replicas": {"total": 2, "ready": 1}},
}


def test_scale_maps_spec_and_status_replicas() -> None:
    scale = scale_of(parse_object(DEPLOYMENT))
    assert scale["kind"] == "Scale" and scale["apiVersion"] == "autoscaling/v1"
    assert scale["spec"] == {"replicas": 3}
    assert scale["status"] == {"replicas": 2}
    assert scale["metadata"]["resourceVersion"] == "7"
    assert scale["metadata"]["namespace"] == "ml-team"


def test_replicas_and_precondition_are_read() -> None:
    assert replicas_from_scale({"spec": {"replicas": 0}}) == (0, None)
    assert replicas_from_scale({"kind": "Scale", "metadata": {"resourceVersion": "4"}, "spec": {"replicas": 5}}) == (5, "4")


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({}, "spec.replicas"),
        ({"spec": {"replicas": "two"}}, "spec.replicas"),
        ({"spec": {"replicas": True}}, "spec.replicas"),
        ({"spec": {"replicas": -1}}, "spec.replicas"),
        ({"kind": "Deployment", "spec": {"replicas": 1}}, "kind"),
        ({"metadata": {"resourceVersion": 4}, "spec": {"replicas": 1}}, "metadata.resourceVersion"),
    ],
)
def test_bad_scales_name_the_field(document: dict, field: str) -> None:
    with pytest.raises(ScaleInvalid) as caught:
        replicas_from_scale(document)
    assert field in [p.path for p in caught.value.problems]
