"""Every relative link in README.md and docs/ points at a file that exists.

A page renamed or moved leaves links that 404 on GitHub and in any docs site; this test
finds them before a reader does. Anchors (`#...`) are not checked, only the file part."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_FENCE = re.compile(r"^(```|~~~)")


def _pages() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def relative_targets(text: str) -> list[str]:
    """The relative link targets of a Markdown page, code blocks left out."""
    targets: list[str] = []
    in_fence = False
    for line in text.splitlines():
        if _FENCE.match(line.strip()):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        for target in _LINK.findall(re.sub(r"`[^`]*`", "", line)):
            if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target) or target.startswith("#"):
                continue
            targets.append(target)
    return targets


def test_relative_targets_finds_links_outside_code() -> None:
    page = "[a](x.md) [b](https://e.com) [c](#top) `[d](no.md)`\n```\n[e](nor.md)\n```\n[f](y.md#s)"
    assert relative_targets(page) == ["x.md", "y.md#s"]


@pytest.mark.parametrize("page", _pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page: Path) -> None:
    broken = [
        target
        for target in relative_targets(page.read_text(encoding="utf-8"))
        if not (page.parent / target.split("#", 1)[0]).exists()
    ]
    assert not broken, f"{page.relative_to(ROOT)} links to missing files: {broken}"
