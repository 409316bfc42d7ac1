"""Integers are integers and booleans are booleans: no field of any kind reads one out of a
string or a number of another type (issue 11, item 10: "3", true and "2.0" were accepted as
integers). The structural test walks every model reachable from every kind, so a field added
later as a plain `int` fails here rather than in production."""

from __future__ import annotations

import textwrap
import typing
from typing import Any

import pytest
from annotated_types import BaseMetadata
from pydantic import BaseModel
from pydantic.types import Strict

from laneway.api.errors import InvalidManifests
from laneway.api.kinds import ALL_KINDS
from laneway.api.manifest import load_text

SCALARS = (int, bool, float)


def _lax_scalars(annotation: Any, strict: bool = False) -> list[str]:
    """Plain int/bool/float types inside `annotation` that carry no Strict marker."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        base, *meta = typing.get_args(annotation)
        marked = strict or any(isinstance(m, Strict) and m.strict for m in meta)
        return _lax_scalars(base, marked)
    if origin is not None:
        return [found for arg in typing.get_args(annotation) for found in _lax_scalars(arg, False)]
    if annotation in SCALARS and not strict:
        return [annotation.__name__]
    return []


def _models(model: type[BaseModel], seen: set[type[BaseModel]]) -> None:
    if model in seen:
        return
    seen.add(model)
    for field in model.model_fields.values():
        for candidate in _types_in(field.annotation):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                _models(candidate, seen)


def _types_in(annotation: Any) -> list[Any]:
    args = typing.get_args(annotation)
    return [annotation, *(t for a in args for t in _types_in(a))]


def test_every_number_and_boolean_field_of_every_kind_is_strict() -> None:
    seen: set[type[BaseModel]] = set()
    for kind in ALL_KINDS:
        _models(kind, seen)
    lax = []
    for model in seen:
        for name, field in model.model_fields.items():
            marked = any(isinstance(m, Strict) and m.strict for m in field.metadata if isinstance(m, (Strict, BaseMetadata)))
            for found in _lax_scalars(field.annotation, marked):
                lax.append(f"{model.__name__}.{name}: {found}")
    assert len(seen) > 30, "the walk should reach the nested models of every kind"
    assert not lax, "fields that would read a number or boolean out of a string: " + ", ".join(sorted(lax))


DEPLOYMENT = textwrap.dedent(
    """
    apiVersion: laneway.dev/v1alpha1
    kind: ModelDeployment
    metadata: {name: m, namespace: ml-team}
    spec:
      replicas: REPLICAS
      template:
        spec:
          engines:
          - name: main
            members:
            - role: Standalone
              nodeSelector: {devices: [{name: gpu, count: 1, selectors: [{cel: 'device.driver == "x"'}]}]}
              template: {spec: {containers: [{name: engine, image: sim, port: 8000}]}}
    """
)


@pytest.mark.parametrize("value, shown", [('"3"', "'3'"), ("true", "true"), ('"2.0"', "'2.0'"), ("2.5", "2.5")])
def test_a_string_boolean_or_fraction_is_not_an_integer(value: str, shown: str) -> None:
    with pytest.raises(InvalidManifests) as info:
        load_text(DEPLOYMENT.replace("REPLICAS", value))
    found = {p.path: p.message for p in info.value.errors[0].problems}
    assert "spec.replicas" in found, found
    assert shown in found["spec.replicas"]


def test_an_integer_is_still_an_integer() -> None:
    (deployment,) = load_text(DEPLOYMENT.replace("REPLICAS", "3"))
    assert deployment.spec.replicas == 3  # type: ignore[attr-defined]


@pytest.mark.parametrize("value", ['"true"', "1", '"yes"'])
def test_a_boolean_is_a_boolean(value: str) -> None:
    text = f"""
apiVersion: laneway.dev/v1alpha1
kind: ModelService
metadata: {{name: s, namespace: ml-team}}
spec:
  breakGlass: {value}
  endpoints: [{{selector: {{matchLabels: {{a: b}}}}}}]
"""
    with pytest.raises(InvalidManifests) as info:
        load_text(text)
    assert any(p.path == "spec.breakGlass" and "expected true or false" in p.message for p in info.value.errors[0].problems)


def test_quoted_numbers_say_to_drop_the_quotes() -> None:
    with pytest.raises(InvalidManifests) as info:
        load_text(DEPLOYMENT.replace("REPLICAS", '"3"'))
    (problem,) = [p for p in info.value.errors[0].problems if p.path == "spec.replicas"]
    assert problem.message == "expected an integer, got '3' (write it without quotes)"


def test_a_whole_float_field_still_takes_an_integer() -> None:
    text = DEPLOYMENT.replace("REPLICAS", "1").replace(
        "  template:\n", "  autoscaling: {maxReplicas: 2, targetInFlight: 4}\n  template:\n", 1
    )
    (deployment,) = load_text(text)
    assert deployment.spec.autoscaling.target_in_flight == 4  # type: ignore[attr-defined]
