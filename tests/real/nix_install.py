"""A static CPython configured exactly with the flags a nixpkgs derivation evaluates to,
built and `make install`ed the way nixpkgs' stdenv would (configure, make, make install
into $out), cached in the content-addressed cache so that the real tier builds it once.

stdenv's part is played by our toolchain: its compiler and archiver, and the library
prefixes nixpkgs' cc-wrapper would add.  That wrapper adds -L for every build input
(NIX_LDFLAGS) when it links, which is why the derivation's `LDFLAGS=-static` configure
argument loses nothing; here a small wrapper of the same kind does it (on CC itself
the flags would change what `$CC --print-multiarch` answers configure).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from cpython_static.build.libraries import LibraryBuilder
from cpython_static.build.sources import Fetcher, extract, load_lock
from cpython_static.build.toolchain import get_target, make_toolchain
from cpython_static.core.arch import host_arch
from cpython_static.core.cache import Cache, digest_of
from cpython_static.core.runner import Runner
from cpython_static.versions import get_series

FORMAT = 1  # bump to rebuild the trees after a change here
# A store path's shape: nixpkgs' postInstall and sysconfig see $out as this.
STORE_OUT = "/nix/store/00000000000000000000000000000000-python3-static"


@dataclass
class Libraries:
    toolchain: object
    prefixes: dict[str, Path]
    keys: dict[str, str]


def libraries(cache: Cache, runner: Runner, version: str) -> Libraries:
    """This machine's default toolchain (quick) and the series' static libraries."""
    series = get_series(version)
    target = get_target(f"{host_arch()}-linux-musl")
    toolchain = make_toolchain(None, target.name, cache, runner, optimize="quick", libc_needs=series.libc_needs)
    built = LibraryBuilder(cache, Fetcher(cache, runner), load_lock(), toolchain, runner).build_all(
        list(series.libraries)
    )
    return Libraries(toolchain, {l.recipe.name: l.prefix for l in built}, {l.recipe.name: l.key for l in built})


def _cc_wrapper(path: Path, cc: str, prefixes) -> Path:
    """nixpkgs' cc-wrapper in small: the library directories, when linking only."""
    ldflags = " ".join(f"-L{p}/lib" for p in prefixes)
    path.write_text(
        "#!/bin/sh\n"
        'for a in "$@"; do case "$a" in -c|-E|-S|-M|-MM|--print-*|-print-*|--version|-v) '
        f'exec {cc} "$@";; esac; done\n'
        f'exec {cc} "$@" {ldflags}\n'
    )
    path.chmod(0o755)
    return path


def install_tree(cache: Cache, runner: Runner, version: str, flags: list[str], libs: Libraries) -> Path:
    """The cache entry holding `out/` (make install's $out) and `build/Tools` (what
    postInstall reads from the build directory) for ``flags``; built when missing."""
    lock = load_lock()
    source = lock.get("cpython", version)
    key = digest_of(
        {
            "format": FORMAT,
            "version": version,
            "sha256": source.sha256,
            "flags": flags,
            "toolchain": libs.toolchain.identity(),
            "libs": libs.keys,
        }
    )

    def produce(stage: Path, final: Path) -> dict:
        work = cache.scratch(f"nix-install-{version}")
        try:
            src = extract(Fetcher(cache, runner).fetch(source), work / "src")
            env = libs.toolchain.env(list(libs.prefixes.values()))
            env.pop("LDFLAGS", None)
            env["CC"] = str(_cc_wrapper(work / "cc", env["CC"], libs.prefixes.values()))
            runner.run(f"nix {version}: configure", ["./configure", f"--prefix={STORE_OUT}", *flags], cwd=src, env=env)
            runner.run(f"nix {version}: make", ["make", f"-j{os.cpu_count() or 1}"], cwd=src, env=env)
            destdir = work / "destdir"
            runner.run(f"nix {version}: make install", ["make", "install", f"DESTDIR={destdir}"], cwd=src, env=env)
            os.rename(destdir / STORE_OUT.lstrip("/"), stage / "out")
            shutil.copytree(src / "Tools", stage / "build" / "Tools", symlinks=True)
            for f in ("config.log", "Makefile"):
                shutil.copy2(src / f, stage / f)
            return {"version": version, "flags": flags}
        finally:
            shutil.rmtree(work, ignore_errors=True)

    entry = cache.build("nix-install", key, produce)
    return entry.path
