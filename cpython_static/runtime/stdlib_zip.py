"""Writes the one-file layout's standard-library archive.  Runs INSIDE a Python of the
exact version being packaged (the built interpreter, or the build machine's one of the
same release for a cross build), because bytecode is version-specific.

Standalone on purpose (standard library only, Python 3.11 syntax).

    stdlib_zip.py --stdlib LIBDIR --out ZIP [--module FILE.py ...] [--wheel WHEEL ...]
                  [--map BUILD-PATH=SHIPPED-PATH ...]

Every module is stored as bytecode (``name.pyc``, which zipimport imports), so nothing
is compiled at run time; "unchecked hash" .pyc, valid whatever the archive's timestamps,
never re-validated.  Every start-up reads the archive's whole central directory (in
zipimport, pure Python, before anything else can be imported), so it holds as few
members as it can: the sources of those modules and the zone files of a ``--wheel``
named tzdata each live in one member, a zip of their own (stored, so it is read in
place), which the start-up hook reads only when a source line is wanted (tracebacks,
``inspect``, ``linecache``) or a zone is loaded.  Modules given with ``--module`` (the
hook) and sources that do not compile keep their ``.py`` in the archive itself.
Entries are sorted and dated 2000-01-01, so the same input gives the same bytes.
The build-time configuration modules (sysconfig's data) name the directories the build
ran in; ``--map`` rewrites those paths to fixed names, so where the builder's cache was
does not change the archive.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import os
import sys
import zipfile
from importlib._bootstrap_external import _code_to_hash_pyc

# Directories left out wherever they are: test suites, and the Tk GUI (no Tk here).
EXCLUDED_DIRS = {
    "test",
    "tests",
    "idle_test",
    "idlelib",
    "tkinter",
    "turtledemo",
    "__pycache__",
    "site-packages",
    "lib-dynload",
}
EXCLUDED_TOP_FILES = {"turtle.py"}  # needs tkinter
DATE = (2000, 1, 1, 0, 0, 0)  # SOURCE_DATE_EPOCH of the whole build
# The members holding the sources and tzdata (the hook reads them: keep the names in
# step with _cpython_static.py).  Not identifiers: never importable by accident.
SOURCES_MEMBER = "cpython-static-sources.zip"
TZDATA_MEMBER = "cpython-static-tzdata.zip"


def _records_build_paths(name: str) -> bool:
    """sysconfig's build-time data (3.14 adds the JSON ones): where --map applies."""
    base = name.rsplit("/", 1)[-1]
    return base.startswith(("_sysconfigdata_", "_sysconfig_vars_")) or base == "build-details.json"


def _excluded_dir(name: str) -> bool:
    return name in EXCLUDED_DIRS or name.startswith("config-")


def stdlib_members(libdir: str):
    """(archive name, path on disk) of everything shipped from the stdlib directory."""
    for root, dirs, files in os.walk(libdir):
        dirs[:] = sorted(d for d in dirs if not _excluded_dir(d))
        rel_root = os.path.relpath(root, libdir)
        for name in sorted(files):
            if rel_root == "." and name in EXCLUDED_TOP_FILES:
                continue
            if name.endswith((".pyc", ".pyo")):
                continue
            rel = name if rel_root == "." else f"{rel_root}/{name}".replace(os.sep, "/")
            yield rel, os.path.join(root, name)


class _Zip:
    """A zip being written, with the directory entries zipimport needs to find packages
    and namespace packages."""

    def __init__(self, target):
        self.target = target
        self.zip = zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=9)
        self.names: set[str] = set()

    def _dirs_of(self, name: str) -> None:
        parts = name.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            d = "/".join(parts[:i]) + "/"
            if d not in self.names:
                info = zipfile.ZipInfo(d, DATE)
                info.external_attr = (0o40755 << 16) | 0x10
                self.zip.writestr(info, b"")
                self.names.add(d)

    def add(self, name: str, data: bytes, compress: int = zipfile.ZIP_DEFLATED) -> None:
        if name in self.names:
            raise SystemExit(f"stdlib_zip: {name} given twice")
        self._dirs_of(name)
        info = zipfile.ZipInfo(name, DATE)
        info.external_attr = 0o100644 << 16
        info.compress_type = compress
        self.zip.writestr(info, data)
        self.names.add(name)


class Writer:
    def __init__(self, out: str):
        self.main = _Zip(out)
        self.sources = _Zip(io.BytesIO())
        self.tzdata = _Zip(io.BytesIO())
        self.compiled = self.failed = 0

    @property
    def names(self) -> set[str]:
        return self.main.names

    def add(self, name: str, data: bytes, *, keep_source: bool = False) -> None:
        if name.endswith(".py"):
            # A --module file (the start-up hook) is interpreter machinery, as the frozen
            # importlib is: its code is named <name>, which tracebacks show as such and
            # coverage tools (trace, coverage.py) leave out of their reports instead of
            # opening a path inside the executable.
            filename = f"<{name[:-3]}>" if keep_source else name
            if self._add_bytecode(name, data, filename) and not keep_source:
                self.sources.add(name, data)
                return
        self.main.add(name, data)

    def add_tzdata(self, name: str, data: bytes) -> None:
        self.tzdata.add(name, data)

    def _add_bytecode(self, name: str, source: bytes, filename: str) -> bool:
        try:
            code = compile(source, filename, "exec", dont_inherit=True, optimize=0)
        except SyntaxError:
            self.failed += 1  # shipped as source only; importing it reports the error
            return False
        pyc = _code_to_hash_pyc(code, importlib.util.source_hash(source), checked=False)
        self.main.add(name + "c", bytes(pyc))
        self.compiled += 1
        return True

    def close(self) -> None:
        for member, inner in ((SOURCES_MEMBER, self.sources), (TZDATA_MEMBER, self.tzdata)):
            inner.zip.close()
            if inner.names:
                # Stored: the hook opens it in place, without inflating all of it.
                self.main.add(member, inner.target.getvalue(), compress=zipfile.ZIP_STORED)
        self.main.zip.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--stdlib", required=True, help="the installed lib/pythonX.Y directory")
    ap.add_argument("--out", required=True)
    ap.add_argument("--module", action="append", default=[], help="an extra top-level module file")
    ap.add_argument(
        "--wheel", action="append", default=[], help="a pure wheel whose packages are added (its .dist-info is not)"
    )
    ap.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="OLD=NEW",
        help="rewrite the path OLD to NEW in sysconfig's build-time data (first match first)",
    )
    args = ap.parse_args(argv)
    maps = [tuple(m.encode().split(b"=", 1)) for m in args.map]
    writer = Writer(args.out)
    try:
        for name, path in stdlib_members(args.stdlib):
            with open(path, "rb") as f:
                data = f.read()
            if _records_build_paths(name):
                for old, new in maps:
                    data = data.replace(old, new)
            writer.add(name, data)
        for path in args.module:
            with open(path, "rb") as f:
                writer.add(os.path.basename(path), f.read(), keep_source=True)
        for wheel in args.wheel:
            with zipfile.ZipFile(wheel) as whl:
                for info in sorted(whl.infolist(), key=lambda i: i.filename):
                    top = info.filename.split("/", 1)[0]
                    if info.is_dir() or top.endswith((".dist-info", ".data")):
                        continue
                    if top == "tzdata":
                        writer.add_tzdata(info.filename, whl.read(info))
                    else:
                        writer.add(info.filename, whl.read(info))
    finally:
        writer.close()
    print(
        f"{len(writer.names)} entries ({len(writer.sources.names)} in {SOURCES_MEMBER}, "
        f"{len(writer.tzdata.names)} in {TZDATA_MEMBER}), {writer.compiled} modules compiled, "
        f"{writer.failed} left as source (syntax errors), python {sys.version.split()[0]}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
