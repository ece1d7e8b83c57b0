"""Real tier: real static builds, shared through the cache (one build per version and
target per test run; a warm cache makes them quick)."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cpython_static.core.cache import Cache

VERSION = "3.13.15"
# PGO and LTO are long to build (a second build, CPython's --pgo test run, whole-program
# links): one representative build has them, the shipped default for this machine
# (3.13.15 x86_64, what most of the real tier runs), asked for with --optimize full;
# every other build of the run is quick ($CPYTHON_STATIC_OPTIMIZE=quick, the documented
# switch).
FULL = ("--optimize", "full")


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/real/" in str(item.fspath):
            item.add_marker(pytest.mark.real)


def run_cli(*args, timeout=5400):
    started = time.monotonic()
    res = subprocess.run(
        [sys.executable, "-m", "cpython_static", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "CPYTHON_STATIC_OPTIMIZE": "quick"},
    )
    res.duration = time.monotonic() - started
    return res


@pytest.fixture(scope="session")
def cache() -> Cache:
    return Cache()


@pytest.fixture(scope="session")
def dist(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("dist")


@pytest.fixture(scope="session")
def build_x86_64(dist):
    """`cpython-static build 3.13.15 --optimize full --json`, once per session: PGO + LTO."""
    res = run_cli("build", VERSION, *FULL, "--json", "--out", str(dist))
    sys.stderr.write(res.stderr[-4000:])
    assert res.returncode == 0, f"build failed:\n{res.stderr[-6000:]}"
    return json.loads(res.stdout), res


@pytest.fixture(scope="session")
def build_x86_64_testmodules(dist):
    """`cpython-static build 3.13.15 --test-modules --json`, once per session: the test
    variant, quick like every build but the representative one (so it shares their
    libraries through the cache: one more CPython build, nothing else)."""
    res = run_cli("build", VERSION, "--test-modules", "--json", "--out", str(dist))
    sys.stderr.write(res.stderr[-4000:])
    assert res.returncode == 0, f"test-variant build failed:\n{res.stderr[-6000:]}"
    return json.loads(res.stdout), res


@pytest.fixture(scope="session")
def build_aarch64(dist):
    """`cpython-static build 3.13.15 --target aarch64-linux-musl --json`, once per session:
    a cross build from this machine, verified under qemu-user by `build` itself."""
    res = run_cli("build", VERSION, "--target", "aarch64-linux-musl", "--json", "--out", str(dist))
    sys.stderr.write(res.stderr[-4000:])
    assert res.returncode == 0, f"aarch64 build failed:\n{res.stderr[-6000:]}"
    return json.loads(res.stdout), res
