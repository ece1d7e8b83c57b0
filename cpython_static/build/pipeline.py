"""Build -> publish -> verify: the only way anything is built.

``cpython-static build``, ``rebase``, ``watch`` and ``upstream cpython`` all come
through here, so each of them proves the file a user would run: the published one-file
interpreter (its appended standard library and start-up hook included), or the
published tree, never the cache's intermediate install tree.

``build`` publishes into its ``--out`` directory; the others publish into the cache
(``<cache>/published/<interpreter key>/``), where the file is rewritten only when its
interpreter or archive changed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from cpython_static.build.cpython import BuiltPython, CPythonBuilder, Request
from cpython_static.build.publish import publish_onefile, publish_tree, stdlib_archive
from cpython_static.build.sources import Fetcher, Lock
from cpython_static.core.cache import Cache
from cpython_static.core.runner import Runner
from cpython_static.verify.checks import VerifyReport, verify


@dataclass
class Outcome:
    built: BuiltPython
    binary: Path  # what was verified: the one file, or the tree's bin/pythonX.Y
    onefile: Path | None
    tree: Path | None
    report: VerifyReport | None  # None: verification not asked for
    duration_s: float

    @property
    def ok(self) -> bool:
        return self.report is None or self.report.ok


def published_dir(out: Path, built: BuiltPython) -> Path:
    return out / f"cpython-{built.version}-{built.target}"


def cache_out(cache: Cache, built: BuiltPython) -> Path:
    """Where commands that do not publish for the user put the file they prove."""
    return cache.root / "published" / built.key[:16]


def publish(
    built: BuiltPython,
    out: Path,
    *,
    cache: Cache,
    fetcher: Fetcher,
    lock: Lock,
    runner: Runner,
    toolchain,
    layout: str = "onefile",
    strip: bool = True,
    progress=lambda msg: None,
) -> tuple[Path | None, Path | None]:
    """Publish ``built`` under ``out`` in ``layout``; returns (one file, tree)."""
    dest = published_dir(out, built)
    mm = ".".join(built.version.split(".")[:2])
    stripper = toolchain.strip if strip else None
    onefile = tree = None
    if layout in ("tree", "both"):
        tree = publish_tree(built, fetcher.fetch(lock.get("wheel", "tzdata")), dest, strip=stripper)
        progress(f"tree: {tree}")
    if layout in ("onefile", "both"):
        archive = stdlib_archive(cache, fetcher, lock, runner, built, progress=progress)
        onefile = publish_onefile(built.binary, archive, dest / f"python{mm}", strip=stripper)
        progress(f"one file: {onefile}")
    return onefile, tree


def build_publish_verify(
    builder: CPythonBuilder,
    request: Request,
    out: Path | None,
    *,
    layout: str = "onefile",
    strip: bool = True,
    check: bool = True,
    progress=lambda msg: None,
) -> Outcome:
    """Build ``request`` with ``builder``, publish it under ``out`` (None: the cache's
    published/ directory) and verify the published file."""
    started = time.monotonic()
    built = builder.build(request)
    out = out if out is not None else cache_out(builder.cache, built)
    onefile, tree = publish(
        built,
        out,
        cache=builder.cache,
        fetcher=builder.fetcher,
        lock=builder.lock,
        runner=builder.runner,
        toolchain=builder.toolchain,
        layout=layout,
        strip=strip,
        progress=progress,
    )
    mm = ".".join(built.version.split(".")[:2])
    binary = onefile or tree / "bin" / f"python{mm}"
    duration = time.monotonic() - started
    report = None
    if check:
        progress("verifying")
        report = verify(binary, runner=builder.runner, version=built.version, target=built.target)
    return Outcome(built, binary, onefile, tree, report, duration)
