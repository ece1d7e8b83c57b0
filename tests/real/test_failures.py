"""Real failure paths: a library whose build breaks, and Ctrl-C in the middle of one.

Both use a variant of the zlib recipe (a different cache key, so nothing cached is
touched) and check the cache has no new entry and no leftover scratch directory."""

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from cpython_static.core.cache import Cache

DRIVER = textwrap.dedent("""
    import signal, sys, time
    from pathlib import Path
    # A child started from a background job inherits SIGINT as ignored; a user's Ctrl-C
    # is what this simulates, so take the default behaviour back.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    from cpython_static.build import libraries
    from cpython_static.core.cache import Cache
    from cpython_static.core.runner import Runner
    from cpython_static.build.sources import Fetcher, load_lock
    from cpython_static.build.toolchain import make_toolchain

    recipes = Path(sys.argv[1])
    libraries._recipes_dir = lambda: recipes
    cache = Cache()
    runner = Runner(Path(sys.argv[2]))
    tc = make_toolchain(None, "x86_64-linux-musl", cache, runner)  # the default (gcc here)
    b = libraries.LibraryBuilder(cache, Fetcher(cache, runner), load_lock(), tc, runner)
    b.build_all(["zlib"])
""")


def _variant(tmp_path, configure_extra: str) -> Path:
    from cpython_static.build.libraries import _recipes_dir

    recipes = tmp_path / "recipes"
    recipes.mkdir()
    text = _recipes_dir().joinpath("zlib.toml").read_text()
    text = text.replace('configure = ["--static"]', f'configure = ["--static"{configure_extra}]')
    (recipes / "zlib.toml").write_text(text + f"\n# variant for a failure test {time.time()}\n")
    return recipes


def _state(cache: Cache):
    libs = sorted(p.name for p in (cache.root / "libs").iterdir()) if (cache.root / "libs").is_dir() else []
    tmp = sorted(p.name for p in cache.tmp.iterdir()) if cache.tmp.is_dir() else []
    return libs, tmp


def test_broken_library_names_step_log_and_tail(tmp_path):
    cache = Cache()
    recipes = _variant(tmp_path, ', "--no-such-option"')
    before = _state(cache)
    res = subprocess.run(
        [sys.executable, "-c", DRIVER, str(recipes), str(tmp_path / "logs")],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert res.returncode != 0
    assert "step 'zlib:configure' failed" in res.stderr
    assert "log: " + str(tmp_path / "logs") in res.stderr
    assert "unknown option" in res.stderr.lower() or "no-such-option" in res.stderr
    assert _state(cache) == before


def test_ctrl_c_leaves_nothing_half_written(tmp_path):
    cache = Cache()
    # A configure that takes a while, so the interrupt lands inside a step.
    recipes = _variant(tmp_path, "")
    (recipes / "zlib.toml").write_text(
        (recipes / "zlib.toml")
        .read_text()
        .replace('build = "autotools"', 'build = "autotools"\nconfigure_script = "./slow-configure"')
    )
    before = _state(cache)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            DRIVER.replace(
                "b.build_all",
                "import cpython_static.build.sources as s\n"
                "orig = s.extract\n"
                "def ex(a, d):\n"
                "    r = orig(a, d); (r / 'slow-configure').write_text('#!/bin/sh\\nsleep 60\\n'); (r / 'slow-configure').chmod(0o755); return r\n"
                "libraries.extract = ex\n"
                "b.build_all",
            ),
            str(recipes),
            str(tmp_path / "logs"),
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        logs = list((tmp_path / "logs").glob("*configure*")) if (tmp_path / "logs").is_dir() else []
        if logs:
            break
        time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("the build never reached configure")
    time.sleep(1)
    during = _state(cache)
    assert len(during[1]) > len(before[1])  # it really was working in tmp/
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=60)
    assert proc.returncode != 0
    assert _state(cache) == before
    assert "# interrupted" in logs[0].read_text()
