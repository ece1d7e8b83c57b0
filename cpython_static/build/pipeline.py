"""Build -> publish -> verify: the only way anything is built.

``cpython-static build``, ``rebase``, ``watch`` and ``upstream cpython`` all come
through here, so each of them proves the file a user would run: the published one-file
interpreter (its appended standard library and start-up hook included), or the
published tree, never the cache's intermediate install tree.

``build`` publishes into its ``--out`` directory; the others publish into the cache
(``<cache>/published/<interpreter key>/``), where the file is rewritten only when its
interpreter or archive changed.

``build --with PKG`` goes through here too: the sdists are fetched and classified first
(before any long build), then the interpreter is built (or taken from the cache) as
without them, their extensions compiled against it (build/extensions.py) and linked into
a new interpreter (build/relink.py); the one file is that interpreter + the stdlib
archive with the packages' pure-Python part added, verified to have exactly the series'
modules plus the added ones.  Without ``--with`` nothing of this runs: every cache key
is the same as before.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from cpython_static.build import sbom
from cpython_static.build.cpython import BuiltPython, CPythonBuilder, Request
from cpython_static.build.extensions import BuiltExtension, ExtensionBuilder
from cpython_static.build.publish import archive_with_packages, publish_onefile, publish_tree, stdlib_archive
from cpython_static.build.relink import Relinked, Relinker
from cpython_static.build.sources import Fetcher, Lock
from cpython_static.core.cache import Cache
from cpython_static.core.errors import UsageError
from cpython_static.core.runner import Runner
from cpython_static.verify.checks import VerifyReport, resolve_emulator, verify
from cpython_static.versions import DEFAULT_VARIANT, get_variant


@dataclass
class Added:
    """What ``--with`` added: the extensions and the interpreter they are linked into."""

    extensions: list[BuiltExtension]
    interpreter: Relinked

    @property
    def modules(self) -> list[str]:
        return self.interpreter.modules

    def to_json(self) -> dict:
        return {
            "modules": self.modules,
            "sdists": [e.to_json() for e in self.extensions],
            "interpreter": {"key": self.interpreter.key, "cached": self.interpreter.reused},
        }


@dataclass
class Outcome:
    built: BuiltPython
    binary: Path  # what was verified: the one file, or the tree's bin/pythonX.Y
    onefile: Path | None
    tree: Path | None
    report: VerifyReport | None  # None: verification not asked for
    duration_s: float
    added: Added | None = None  # build --with

    @property
    def ok(self) -> bool:
        return self.report is None or self.report.ok


def published_dir(out: Path, built: BuiltPython) -> Path:
    # A variant beside the default build in the same --out, not over it.
    suffix = f"-{built.variant}" if built.variant != DEFAULT_VARIANT else ""
    return out / f"cpython-{built.version}-{built.target}{suffix}"


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
    added: Added | None = None,
) -> tuple[Path | None, Path | None]:
    """Publish ``built`` (with what ``added`` adds) under ``out`` in ``layout``;
    returns (one file, tree)."""
    dest = published_dir(out, built)
    mm = ".".join(built.version.split(".")[:2])
    stripper = toolchain.strip if strip else None
    onefile = tree = None
    if layout in ("tree", "both"):
        tree = publish_tree(built, fetcher.fetch(lock.get("wheel", "tzdata")), dest, strip=stripper)
        progress(f"tree: {tree}")
    if layout in ("onefile", "both"):
        archive = stdlib_archive(cache, fetcher, lock, runner, built, progress=progress)
        interpreter = built.binary
        if added is not None:
            trees = [(e.key, e.pure) for e in added.extensions]
            archive = archive_with_packages(cache, runner, built, archive, trees, progress=progress)
            interpreter = added.interpreter.binary
        onefile = publish_onefile(interpreter, archive, dest / f"python{mm}", strip=stripper)
        progress(f"one file: {onefile}")
    distributions = (
        [{**e.sdist.to_json(), "modules": [m.name for m in e.modules], "license": e.license} for e in added.extensions]
        if added is not None
        else []
    )
    for binary in (onefile, tree / "bin" / f"python{mm}" if tree else None):
        if binary is not None:  # beside the file: what it is made of (verify's sbom check)
            libs = [l for e in added.extensions for l in e.libraries] if added is not None else []
            doc = sbom.document(built, lock, distributions=distributions, libraries=libs)
            sbom.write(binary, doc)
            sdists = {e.sdist.name: e.sdist.path for e in added.extensions} if added is not None else {}
            texts = sbom.gather_licenses(cache, fetcher, lock, built, libraries=libs, sdists=sdists)
            sbom.write_licenses(binary, sbom.licenses_text(doc, texts))
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
    extensions: list[str] | tuple[str, ...] = (),
) -> Outcome:
    """Build ``request`` with ``builder`` (with the C extensions of the packages
    ``extensions`` names compiled in), publish it under ``out`` (None: the cache's
    published/ directory) and verify the published file."""
    started = time.monotonic()
    ext_builder = sdists = None
    if extensions and not get_variant(builder.variant).ships:
        raise UsageError(f"the {builder.variant} build is never to ship: --with is for a file that does")
    if extensions:
        if layout != "onefile":
            raise UsageError("--with makes the one-file layout (the packages live in its archive); drop --layout")
        ext_builder = ExtensionBuilder(
            builder.cache,
            builder.fetcher,
            builder.lock,
            builder.toolchain,
            builder.runner,
            jobs=builder.jobs,
            progress=progress,
            # A foreign interpreter runs the sdists' setup.py under qemu-user.
            emulator=resolve_emulator(builder.toolchain.target.name, None, builder.runner.base_env.get("PATH", "")),
        )
        sdists = ext_builder.prepare(list(extensions))  # fetched and classified before any long build
    built = builder.build(request)
    added = None
    if sdists:
        exts = [ext_builder.build(s, built) for s in sdists]
        added = Added(exts, Relinker(builder, progress).relink(request, built, exts))
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
        added=added,
    )
    mm = ".".join(built.version.split(".")[:2])
    binary = onefile or tree / "bin" / f"python{mm}"
    duration = time.monotonic() - started
    report = None
    if check:
        progress("verifying")
        report = verify(
            binary,
            runner=builder.runner,
            version=built.version,
            target=built.target,
            added_modules=added.modules if added else (),
            variant=built.variant,
        )
    return Outcome(built, binary, onefile, tree, report, duration, added)
