"""The published layouts: one self-contained file (default) or a conventional tree.

One file = the interpreter (stripped) with a zip archive of its standard library
appended.  Why a zip appended to the executable:

* CPython reads zip archives on sys.path with zipimport, which is frozen into the
  interpreter (usable before any module is imported) and handles archives with bytes in
  front of them; ``zipfile`` and ``importlib.resources`` do too.  Nothing is extracted
  at run time and no writable directory is needed, so the file runs read-only, in an
  empty root, as any uid.
* Only the path configuration has to know, and the public PyConfig API is enough:
  launcher/main.c puts the executable itself on sys.path when a zip ends it.  No CPython
  patch, identical on every supported version.
* ELF loaders ignore bytes past the program headers; ``strip`` would drop them, so the
  archive is appended after stripping.

Bytecode and sources both go in (see stdlib_zip.py); the archive is cached per
interpreter, pinned tzdata and hook module.
"""

from __future__ import annotations

import os
import shutil
import zipfile
from importlib import resources
from pathlib import Path

from cpython_static.build.sources import Fetcher, Lock
from cpython_static.core.cache import MAPPED_ROOT, Cache, digest_of
from cpython_static.core.fsutil import swap_dir
from cpython_static.core.runner import Runner

FORMAT = 1  # bump to rebuild every archive after a change in this module
RUNTIME = resources.files("cpython_static.runtime")  # what runs inside the interpreter
HOOK = RUNTIME.joinpath("stdlib", "_cpython_static.py")
ZIP_SCRIPT = RUNTIME.joinpath("stdlib_zip.py")
LAYOUTS = ("onefile", "tree", "both")


def _major_minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def stdlib_archive(
    cache: Cache, fetcher: Fetcher, lock: Lock, runner: Runner, built, progress=lambda msg: None
) -> Path:
    """The standard-library zip for ``built`` (a cpython.BuiltPython), from the cache or
    written now by a Python of the same release that can run here."""
    tzdata = lock.get("wheel", "tzdata")
    key = digest_of(
        {
            "format": FORMAT,
            "cpython": built.key,
            "tzdata": tzdata.sha256,
            "hook": HOOK.read_text(),
            "script": ZIP_SCRIPT.read_text(),
        }
    )
    entry = cache.lookup("stdlib", key)
    if entry is None:
        progress("writing the standard-library archive")
        wheel = fetcher.fetch(tzdata)
        runs_here = built.build_python or built  # bytecode is per release, not per CPU

        def produce(stage: Path, final: Path) -> dict:
            with resources.as_file(ZIP_SCRIPT) as script, resources.as_file(HOOK) as hook:
                res = runner.run(
                    "stdlib archive",
                    [
                        str(runs_here.binary),
                        "-I",
                        str(script),
                        "--stdlib",
                        str(built.prefix / "lib" / f"python{_major_minor(built.version)}"),
                        "--out",
                        str(stage / "stdlib.zip"),
                        "--module",
                        str(hook),
                        "--wheel",
                        str(wheel),
                        *(f"--map={old}={new}" for old, new in _path_maps(cache, built)),
                    ],
                    capture=True,
                )
            return {"cpython": built.key, "tzdata": tzdata.version, "summary": res.output.strip()}

        entry = cache.build("stdlib", key, produce)
    return entry.path / "stdlib.zip"


def _path_maps(cache: Cache, built) -> list[tuple[str, str]]:
    """Where the build ran -> fixed names, for sysconfig's data in the archive: the
    build's scratch directory (a random name), then the cache root (the libraries'
    prefixes, the toolchain's wrappers)."""
    from cpython_static.build.relink import sysconfig_vars

    maps = []
    builddir = sysconfig_vars(built).get("abs_builddir")
    if builddir and Path(builddir).is_relative_to(cache.root):
        maps.append((str(Path(builddir).parent), f"{MAPPED_ROOT}/build"))
    maps.append((str(cache.root), MAPPED_ROOT))
    return maps


PACKAGES_SCRIPT = RUNTIME.joinpath("packages_zip.py")


def archive_with_packages(
    cache: Cache, runner: Runner, built, archive: Path, trees: list[tuple[str, Path]], progress=lambda msg: None
) -> Path:
    """The standard-library ``archive`` of ``built`` plus the packages of ``trees``
    ((cache key, site-packages-like directory) pairs, the build --with extensions'),
    written by the same release's Python; cached per archive and trees."""
    key = digest_of(
        {
            "format": FORMAT,
            "stdlib": archive.parent.name,  # the stdlib archive's own cache key
            "trees": [k for k, _ in trees],
            "script": PACKAGES_SCRIPT.read_text(),
            "writer": ZIP_SCRIPT.read_text(),
        }
    )
    entry = cache.lookup("stdlib-with", key)
    if entry is None:
        progress("adding the packages to the archive")
        runs_here = built.build_python or built

        def produce(stage: Path, final: Path) -> dict:
            with resources.as_file(RUNTIME) as runtime:
                args = [str(runs_here.binary), "-I", str(runtime / "packages_zip.py"), "--base", str(archive)]
                args += ["--out", str(stage / "stdlib.zip")]
                for _, tree in trees:
                    args += ["--tree", str(tree)]
                res = runner.run("stdlib archive + packages", args, capture=True)
            return {"stdlib": archive.parent.name, "trees": [k for k, _ in trees], "summary": res.output.strip()}

        entry = cache.build("stdlib-with", key, produce)
    return entry.path / "stdlib.zip"


def publish_onefile(launcher: Path, archive: Path, dest: Path, strip=None) -> Path:
    """``dest`` = ``launcher`` (stripped by ``strip(path)`` when given) + ``archive``."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.partial-{os.getpid()}")
    try:
        shutil.copyfile(launcher, tmp)
        if strip:
            strip(tmp)
        with open(tmp, "ab") as out, open(archive, "rb") as zipped:
            shutil.copyfileobj(zipped, out)
        os.chmod(tmp, 0o755)
        swap_dir(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return dest


# Left out of a published tree (the cache keeps them): libpython's static archive,
# installed twice (lib/ and config-X.Y/), ~68 MB each, is for embedding and useless
# without the build's libraries beside it.
TREE_IGNORE = ("libpython*.a",)


def publish_tree(built, wheel: Path, dest: Path, strip=None) -> Path:
    """The installed tree (bin/pythonX.Y, lib/pythonX.Y/…) with the start-up hook in the
    standard library and tzdata installed in site-packages, replacing ``dest`` at once."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.partial-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        shutil.copytree(built.prefix, tmp, symlinks=True, ignore=shutil.ignore_patterns(*TREE_IGNORE))
        lib = tmp / "lib" / f"python{_major_minor(built.version)}"
        with resources.as_file(HOOK) as hook:
            shutil.copyfile(hook, lib / hook.name)
        with zipfile.ZipFile(wheel) as whl:  # a pure wheel: unpacking it is installing it
            whl.extractall(lib / "site-packages")
        if strip:
            strip(tmp / "bin" / f"python{_major_minor(built.version)}")
        swap_dir(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest
