"""Reproducible bytes: where the builder keeps its cache does not reach what ships.

A library built in two fresh caches in different directories gives the same static
archive, and names neither directory; the session's published one file names no
builder path at all (the cache root, its scratch directories, the libraries' prefixes).
Two whole cold builds (an hour of this machine) are measured by hand: README, Reproducible.
"""

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from cpython_static.build.libraries import LibraryBuilder, load_recipe
from cpython_static.build.sources import Fetcher, load_lock
from cpython_static.build.toolchain import make_toolchain
from cpython_static.core.cache import Cache
from cpython_static.core.runner import Runner

# libuuid compiled its clock files' path in under the cache (--localstatedir); zlib is
# the quickest library, built with every toolchain flag.
LIBRARIES = ("zlib", "libuuid")


def _seeded_cache(root: Path, shared: Cache, lock, names) -> Cache:
    """A fresh cache whose sources are the shared cache's files (content-addressed: the
    same sha256-pinned bytes a download would give), so nothing is fetched again."""
    cache = Cache(root)
    for name in names:
        src = lock.get("lib", load_recipe(name).source)
        pins = [(src.sha256, src.file)] + ([(src.debian.sha256, src.debian.file)] if src.debian else [])
        for sha256, filename in pins:
            have = shared.source_path(sha256, filename)
            if have.is_file():
                dest = cache.source_path(sha256, filename)
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(have, dest)
    return cache


@pytest.mark.parametrize("name", LIBRARIES)
def test_a_library_is_the_same_bytes_from_caches_in_different_places(cache, tmp_path, name):
    lock = load_lock()
    digests, roots = [], []
    for where in ("a", "somewhere/else/b"):
        root = tmp_path / where / "cache"
        runner = Runner(tmp_path / where / "logs")
        other = _seeded_cache(root, cache, lock, [name])
        toolchain = make_toolchain("gcc", "x86_64-linux-musl", other, runner, optimize="quick")
        built = LibraryBuilder(other, Fetcher(other, runner), lock, toolchain, runner, jobs=2).build_all([name])
        archives = sorted(built[-1].prefix.glob("lib/*.a"))
        assert archives, built[-1].prefix
        digests.append({a.name: hashlib.sha256(a.read_bytes()).hexdigest() for a in archives})
        roots.append((root, archives))
    assert digests[0] == digests[1]
    for root, archives in roots:
        for archive in archives:
            assert str(root).encode() not in archive.read_bytes(), f"{archive} names its cache {root}"


def test_the_published_file_names_no_builder_path(build_x86_64, cache):
    binary = Path(build_x86_64[0]["binary"])
    data = binary.read_bytes()
    for leak in (str(cache.root), os.path.expanduser("~/.cache")):
        assert leak.encode() not in data, f"{binary} contains {leak}"
    strings = subprocess.run(["strings", "-n", "8", binary], capture_output=True, text=True, check=True).stdout
    # The run-time paths the libraries consult are a Linux system's.
    assert "/var/lib/libuuid/clock.txt" in strings and "/usr/lib/ossl-modules" in strings
