"""CPython's test suite of a release, for ``verify --stdlib-tests``: ``Lib/test`` of the
pinned source (or, for the watcher's new tags, of the tag's checkout) with the series'
patches applied (0004 adds tests to test_ensurepip), one cache entry per source and patch
set.  Never shipped in the one file."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

from cpython_static.build import patches
from cpython_static.build.sources import Fetcher, Lock, extract
from cpython_static.core.cache import Cache, digest_of
from cpython_static.core.runner import Runner

FORMAT = 2  # 2: the package tests too
PACKAGES = "packages"  # beside test/: <package>/<its test directory>, as in Lib/
PACKAGE_TESTS = ("*/test", "*/tests", "*/idle_test")


def lib_test(
    cache: Cache, fetcher: Fetcher, lock: Lock, runner: Runner, version: str, patches_dir: Path | None
) -> Path:
    """The release's ``Lib/test`` directory (patched), from the cache or made now."""
    src = lock.get("cpython", version)
    return lib_test_of(
        cache, runner, version, patches_dir, f"sha256:{src.sha256}", lambda dest: extract(fetcher.fetch(src), dest)
    )


def lib_test_of(
    cache: Cache,
    runner: Runner,
    version: str,
    patches_dir: Path | None,
    source: str,
    unpack: Callable[[Path], AbstractContextManager[Path] | Path],
) -> Path:
    """``Lib/test`` of the tree ``unpack(dest)`` gives (a path, or a context manager giving
    one: a checkout that must be cleaned up), patched; ``source`` names that tree for the
    cache key (a tarball digest, a tag's commit)."""
    selected = patches.select(patches.load_series(patches_dir), version) if patches_dir else []
    # A tarball keys by its bare digest (as format 1 did).
    origin = source.removeprefix("sha256:") if source.startswith("sha256:") else {"tree": source}
    key = digest_of({"format": FORMAT, "source": origin, "patches": {p.name: p.path.read_text() for p in selected}})

    def produce(stage: Path, final: Path) -> dict:
        work = cache.scratch(f"work-stdlib-tests-{version}")
        try:
            got = unpack(work / "src")
            # A Path first: 3.11's Path is a (deprecated) context manager of its own.
            with nullcontext(got) if isinstance(got, Path) else got as tree:
                if selected:
                    patches.apply(selected, tree, runner)
                shutil.copytree(tree / "Lib" / "test", stage / "test", symlinks=True)
                # Tests that live inside their package (3.11's unittest/test, distutils/tests,
                # lib2to3/tests, ctypes/test; idlelib/idle_test), laid out as in Lib/.
                inside = sorted(
                    d.relative_to(tree / "Lib")
                    for pattern in PACKAGE_TESTS
                    for d in (tree / "Lib").glob(pattern)
                    if d.is_dir() and d.parent != tree / "Lib"
                )
                for rel in inside:
                    shutil.copytree(tree / "Lib" / rel, stage / PACKAGES / rel, symlinks=True)
            return {
                "version": version,
                "source": source,
                "patches": [p.name for p in selected],
                "package_tests": [str(r) for r in inside],
            }
        finally:
            shutil.rmtree(work, ignore_errors=True)

    return cache.build("stdlib-tests", key, produce).path / "test"
