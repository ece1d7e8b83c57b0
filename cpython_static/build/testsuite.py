"""CPython's test suite of a release, for ``verify --stdlib-tests``: ``Lib/test`` of the
pinned source with the series' patches applied (0004 adds tests to test_ensurepip), one
cache entry per source digest and patch set.  Never shipped in the one file."""

from __future__ import annotations

import shutil
from pathlib import Path

from cpython_static.build import patches
from cpython_static.build.sources import Fetcher, Lock, extract
from cpython_static.core.cache import Cache, digest_of
from cpython_static.core.runner import Runner

FORMAT = 1


def lib_test(
    cache: Cache, fetcher: Fetcher, lock: Lock, runner: Runner, version: str, patches_dir: Path | None
) -> Path:
    """The release's ``Lib/test`` directory (patched), from the cache or made now."""
    src = lock.get("cpython", version)
    selected = patches.select(patches.load_series(patches_dir), version) if patches_dir else []
    key = digest_of({"format": FORMAT, "source": src.sha256, "patches": {p.name: p.path.read_text() for p in selected}})

    def produce(stage: Path, final: Path) -> dict:
        work = cache.scratch(f"work-stdlib-tests-{version}")
        try:
            tree = extract(fetcher.fetch(src), work / "src")
            if selected:
                patches.apply(selected, tree, runner)
            shutil.copytree(tree / "Lib" / "test", stage / "test", symlinks=True)
            return {"version": version, "patches": [p.name for p in selected]}
        finally:
            shutil.rmtree(work, ignore_errors=True)

    return cache.build("stdlib-tests", key, produce).path / "test"
