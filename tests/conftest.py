"""Shared test fixtures."""

from pathlib import Path

import pytest

from cpython_static.cache import Cache
from cpython_static.runner import Runner
from cpython_static.sources import Fetcher, load_lock


@pytest.fixture(scope="session")
def release_tarball(tmp_path_factory):
    """The pinned release tarball of a CPython version, through the real providers
    (cache, then upstream, then Debian source packages), shared via the user cache."""
    lock = load_lock()
    fetcher = Fetcher(Cache(), Runner(tmp_path_factory.mktemp("fetch-logs")))

    def get(version: str) -> Path:
        return fetcher.fetch(lock.get("cpython", version))

    return get


@pytest.fixture(scope="session")
def lock_source_named(release_tarball):
    """The tarball of the CPython release known under ``filename`` (upstream or Debian name)."""
    lock = load_lock()

    def get(filename: str) -> Path:
        for src in lock.sources.values():
            if src.kind == "cpython" and filename in src.filenames:
                return release_tarball(src.version)
        raise LookupError(f"{filename} is not a CPython release in the lock")

    return get
