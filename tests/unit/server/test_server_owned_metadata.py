"""The metadata laneway owns, kept from non-admin writers (pure: objects in, object or problems out)."""

from __future__ import annotations

from laneway.api.kinds.cache import ModelCache
from laneway.server.owned_metadata import MAX_LABELS, metadata_limits, protect


def _cache(**metadata: object) -> ModelCache:
    return ModelCache.model_validate({
        "metadata": {"name": "c", "namespace": "ml-team", **metadata},
        "spec": {"source": "Local", "local": {"path": "/srv/m"}},
    })


STORED = _cache(
    finalizers=["laneway.dev/cache-files"],
    labels={"team": "a", "laneway.dev/ticket": "t"},
    annotations={"laneway.dev/retired": "gone", "note": "x"},
)


def test_dropped_owned_metadata_is_kept_and_the_writers_own_changes_apply() -> None:
    written = _cache(labels={"team": "b"}, annotations={"note": "y", "laneway.dev/job": "chat"}, finalizers=["example.com/mine"])
    kept, problems = protect(written, STORED)
    assert problems == []
    meta = kept.metadata
    assert meta.finalizers == ["laneway.dev/cache-files", "example.com/mine"]
    assert meta.labels == {"team": "b", "laneway.dev/ticket": "t"}
    assert meta.annotations == {"note": "y", "laneway.dev/job": "chat", "laneway.dev/retired": "gone"}


def test_changed_or_added_owned_metadata_is_refused_by_key() -> None:
    written = _cache(
        labels={"laneway.dev/ticket": "other", "laneway.dev/deployment": "x"},
        annotations={"laneway.dev/revision-history": "[]"},
        finalizers=["laneway.dev/cache-files", "laneway.dev/engines"],
    )
    _, problems = protect(written, STORED)
    paths = sorted(p.path for p in problems)
    assert paths == [
        "metadata.annotations['laneway.dev/revision-history']",
        "metadata.finalizers",
        "metadata.labels['laneway.dev/deployment']",
        "metadata.labels['laneway.dev/ticket']",
    ]
    assert all("laneway" in p.message for p in problems)


def test_on_create_nothing_laneway_owns_may_be_written() -> None:
    _, problems = protect(_cache(finalizers=["laneway.dev/cache-files"]), None)
    assert [p.path for p in problems] == ["metadata.finalizers"]
    ok, none = protect(_cache(labels={"laneway.dev/jurisdiction": "eu"}), None)
    assert none == [] and ok.metadata.labels == {"laneway.dev/jurisdiction": "eu"}


def test_limits_as_kubernetes_sets_them() -> None:
    assert metadata_limits(_cache(labels={f"k{i}": "v" for i in range(MAX_LABELS)})) == []
    assert [p.path for p in metadata_limits(_cache(labels={f"k{i}": "v" for i in range(MAX_LABELS + 1)}))] == ["metadata.labels"]
    big = metadata_limits(_cache(annotations={"a": "x" * (256 * 1024)}))
    assert [p.path for p in big] == ["metadata.annotations"]
    assert metadata_limits(_cache(annotations={"laneway.dev/revision-history": "x" * (300 * 1024)})) == []
    bad_key = metadata_limits(_cache(annotations={"not a key": "x"}))
    assert [p.path for p in bad_key] == ["metadata.annotations['not a key']"]
