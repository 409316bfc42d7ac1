"""What a watcher sees: its namespace, its token's namespaces, and selector transitions."""

from __future__ import annotations

from laneway.api.manifest import parse_object
from laneway.api.selectors import parse_selector
from laneway.server.watchfilter import WatchFilter


def endpoint(name: str, namespace: str = "ml-team", **labels: str):
    return parse_object(
        {
            "apiVersion": "laneway.dev/v1alpha1",
            "kind": "ModelEndpoint",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {"url": "http://10.0.0.1:8000"},
        }
    )


def test_selector_transitions_become_added_and_deleted() -> None:
    filt = WatchFilter(selector=parse_selector("tier=gold"))
    assert [s.type for s in filt.seed([endpoint("a", tier="gold"), endpoint("b", tier="silver")])] == ["ADDED"]
    shown = filt.admit("MODIFIED", endpoint("b", tier="gold"))
    assert shown is not None and shown.type == "ADDED"
    shown = filt.admit("MODIFIED", endpoint("a", tier="silver"))
    assert shown is not None and shown.type == "DELETED"
    assert filt.admit("MODIFIED", endpoint("a", tier="bronze")) is None
    shown = filt.admit("DELETED", endpoint("b", tier="gold"))
    assert shown is not None and shown.type == "DELETED"


def test_resumed_watch_reports_matching_modifications_as_modified() -> None:
    filt = WatchFilter(selector=parse_selector("tier=gold"))
    shown = filt.admit("MODIFIED", endpoint("a", tier="gold"))
    assert shown is not None and shown.type == "MODIFIED"


def test_namespace_and_visibility() -> None:
    filt = WatchFilter(readable=lambda ns: ns == "ml-team")
    assert filt.admit("ADDED", endpoint("a", "other")) is None
    assert filt.admit("ADDED", endpoint("a", "ml-team")) is not None
    only = WatchFilter(namespace="research")
    assert only.admit("ADDED", endpoint("a", "ml-team")) is None


def test_field_selector() -> None:
    filt = WatchFilter(field_selector=parse_selector("metadata.name=b"))
    assert filt.admit("ADDED", endpoint("a")) is None
    assert filt.admit("ADDED", endpoint("b")) is not None
