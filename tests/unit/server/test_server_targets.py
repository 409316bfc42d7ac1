"""URLs to targets: the right group, scope and subresource, and errors that name the right path."""

from __future__ import annotations

import pytest

from laneway.api.meta import GROUP_VERSION
from laneway.server.errors import ApiError
from laneway.server.targets import collection_path, resolve


def test_namespaced_object_with_subresource() -> None:
    target = resolve(GROUP_VERSION, plural="modeldeployments", namespace="ml-team", name="llama", subresource="scale")
    assert target.kind.kind == "ModelDeployment"
    assert (target.namespace, target.name, target.subresource) == ("ml-team", "llama", "scale")


def test_secrets_live_in_the_core_group() -> None:
    assert resolve("v1", plural="secrets", namespace="ml-team").kind.kind == "Secret"
    with pytest.raises(ApiError) as caught:
        resolve(GROUP_VERSION, plural="secrets", namespace="ml-team")
    assert caught.value.code == 404 and "/api/v1/namespaces/ml-team/secrets" in caught.value.message


def test_cluster_scoped_kind_refuses_a_namespace() -> None:
    with pytest.raises(ApiError) as caught:
        resolve(GROUP_VERSION, plural="inferenceclusters", namespace="ml-team")
    assert caught.value.code == 400 and "/apis/laneway.dev/v1alpha1/inferenceclusters" in caught.value.message


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"plural": "widgets"}, 404),
        ({"plural": "modeldeployments", "name": "llama"}, 404),  # namespaced object without a namespace
        ({"plural": "modelservices", "namespace": "a", "name": "b", "subresource": "scale"}, 404),
        ({"plural": "modeldeployments", "namespace": "a", "name": "b", "subresource": "logs"}, 404),
        ({"plural": "modeldeployments", "namespace": "Not_Valid"}, 400),
    ],
)
def test_bad_paths(kwargs: dict, code: int) -> None:
    with pytest.raises(ApiError) as caught:
        resolve(GROUP_VERSION, **kwargs)
    assert caught.value.code == code


def test_collection_paths() -> None:
    md = resolve(GROUP_VERSION, plural="modeldeployments").kind
    assert collection_path(md, "ns") == "/apis/laneway.dev/v1alpha1/namespaces/ns/modeldeployments"
    assert collection_path(md) == "/apis/laneway.dev/v1alpha1/modeldeployments"
