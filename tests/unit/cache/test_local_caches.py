"""LocalCaches, the Local driver's CacheStager: a hydration thread per (cache, cluster) it owns,
progress while it runs, no delete under a writer, and nothing staged without a data directory."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from laneway.api.kinds.cache import ModelCache
from laneway.api.kinds.platform import InferenceCluster
from laneway.cache.hydrate import Progress
from laneway.cache.layout import CacheManifest, cache_path, write_manifest
from laneway.cache.sources import Source
from laneway.drivers.local.caches import CacheBusy, LocalCaches

CLUSTER = InferenceCluster.model_validate({"metadata": {"name": "edge"}, "spec": {"cluster": {"source": "Local", "local": {}}}})


def _cache(tmp_path: Path) -> ModelCache:
    weights = tmp_path / "weights"
    weights.mkdir(exist_ok=True)
    (weights / "w.bin").write_bytes(b"0123456789")
    return ModelCache.model_validate(
        {"metadata": {"name": "tiny", "namespace": "ml"}, "spec": {"source": "Local", "local": {"path": str(weights)}}}
    )


class GatedHydrator:
    """Writes nothing until released, then a manifest for the source, as a real hydration ends."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.calls = 0

    def __call__(self, source: Source, dest: Path, progress: Progress) -> object:
        self.calls += 1
        progress.add(4)
        assert self.release.wait(10)
        dest.mkdir(parents=True, exist_ok=True)
        write_manifest(dest, CacheManifest(source.fingerprint(), 10, 1, source.describe()))
        return None


def test_hydrates_in_its_own_thread_and_reports_progress_then_ready(tmp_path: Path) -> None:
    hydrator = GatedHydrator()
    stager = LocalCaches(tmp_path / "cache", hydrator=hydrator)
    cache = _cache(tmp_path)

    async def scenario() -> None:
        await stager.apply_cache(cache, CLUSTER)
        seen = await stager.observe_cache(cache, CLUSTER)
        assert (seen.state, seen.bytes) == ("Hydrating", 4)
        with pytest.raises(CacheBusy, match="still being written"):
            await stager.delete_cache(cache, CLUSTER)
        await stager.apply_cache(cache, CLUSTER)  # while it runs: no second thread
        assert hydrator.calls == 1
        hydrator.release.set()
        stager.wait(10)
        assert (await stager.observe_cache(cache, CLUSTER)).state == "Ready"
        await stager.apply_cache(cache, CLUSTER)  # a Ready copy is not fetched again
        assert hydrator.calls == 1
        await stager.delete_cache(cache, CLUSTER)
        assert not cache_path(tmp_path / "cache", cluster="edge", namespace="ml", name="tiny").exists()

    asyncio.run(scenario())


def test_a_failed_hydration_waits_before_it_starts_again(tmp_path: Path) -> None:
    now = [100.0]
    calls: list[int] = []

    def failing(source: Source, dest: Path, progress: Progress) -> object:
        calls.append(1)
        raise OSError("disk full")

    stager = LocalCaches(tmp_path / "cache", hydrator=failing, retry_after=30, clock=lambda: now[0])
    cache = _cache(tmp_path)

    async def scenario() -> None:
        await stager.apply_cache(cache, CLUSTER)
        stager.wait(10)
        seen = await stager.observe_cache(cache, CLUSTER)
        assert seen.state == "Failed" and "disk full" in (seen.message or "")
        await stager.apply_cache(cache, CLUSTER)
        assert len(calls) == 1, "not again within retry_after"
        now[0] += 31
        await stager.apply_cache(cache, CLUSTER)
        stager.wait(10)
        assert len(calls) == 2

    asyncio.run(scenario())


def test_without_a_data_directory_nothing_is_staged_and_it_says_why(tmp_path: Path) -> None:
    stager = LocalCaches(None)
    cache = _cache(tmp_path)

    async def scenario() -> None:
        await stager.apply_cache(cache, CLUSTER)
        seen = await stager.observe_cache(cache, CLUSTER)
        assert seen.state == "Pending" and "no data directory" in (seen.message or "")
        await stager.delete_cache(cache, CLUSTER)

    asyncio.run(scenario())


def test_a_source_that_cannot_be_built_fails_with_its_reason(tmp_path: Path) -> None:
    stager = LocalCaches(tmp_path / "cache")
    cache = ModelCache.model_validate(
        {"metadata": {"name": "hf", "namespace": "ml"},
         "spec": {"source": "HTTP", "http": {"url": "https://example.com/w.gguf", "authSecret": {"name": "tok", "key": "t"}}}}
    )

    async def scenario() -> None:
        await stager.apply_cache(cache, CLUSTER)  # no credential given for the authSecret
        seen = await stager.observe_cache(cache, CLUSTER)
        assert seen.state == "Failed" and "http.authSecret" in (seen.message or "")

    asyncio.run(scenario())


def test_the_same_failure_again_is_logged_now_and_then_while_the_status_says_it_every_time(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An offline machine retries every 30 s: eight identical failures make four WARNINGs
    (attempts 1, 2, 4 and 8, with the count), not eight; a new reason is a WARNING at once."""
    now = [100.0]
    reasons = ["network unreachable"]

    def failing(source: Source, dest: Path, progress: Progress) -> object:
        raise OSError(reasons[0])

    stager = LocalCaches(tmp_path / "cache", hydrator=failing, retry_after=30, clock=lambda: now[0])
    cache = _cache(tmp_path)

    async def attempt() -> str:
        await stager.apply_cache(cache, CLUSTER)
        stager.wait(10)
        seen = await stager.observe_cache(cache, CLUSTER)
        assert seen.state == "Failed"
        now[0] += 31
        return seen.message or ""

    async def scenario() -> None:
        for _ in range(8):
            assert "network unreachable" in await attempt()
        reasons[0] = "disk full"
        assert "disk full" in await attempt()

    with caplog.at_level("DEBUG", logger="laneway.drivers.local.caches"):
        asyncio.run(scenario())
    failures = [r for r in caplog.records if "failed:" in r.getMessage()]
    assert len(failures) == 9, "every attempt is logged, at some level"
    warnings = [r.getMessage() for r in failures if r.levelname == "WARNING"]
    assert len(warnings) == 5
    assert "failed 8 times in a row" in warnings[3] and warnings[4].endswith("OSError: disk full")


def test_a_success_after_failures_ends_the_streak(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    now = [100.0]
    broken = [True]
    hydrator = GatedHydrator()
    hydrator.release.set()

    def flaky(source: Source, dest: Path, progress: Progress) -> object:
        if broken[0]:
            raise OSError("network unreachable")
        return hydrator(source, dest, progress)

    stager = LocalCaches(tmp_path / "cache", hydrator=flaky, retry_after=30, clock=lambda: now[0])
    cache = _cache(tmp_path)

    async def scenario() -> None:
        for _ in range(3):
            await stager.apply_cache(cache, CLUSTER)
            stager.wait(10)
            now[0] += 31
        broken[0] = False
        await stager.apply_cache(cache, CLUSTER)
        stager.wait(10)
        assert (await stager.observe_cache(cache, CLUSTER)).state == "Ready"

    with caplog.at_level("INFO", logger="laneway.drivers.local.caches"):
        asyncio.run(scenario())
    assert any("after 3 failed attempt(s)" in r.getMessage() for r in caplog.records)
