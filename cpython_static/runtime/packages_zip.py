"""Writes a one-file archive = the standard-library archive + third-party packages.
Runs INSIDE a Python of the exact version being packaged, like stdlib_zip.py, whose
writer it uses (bytecode, the one sources member, fixed dates).

Standalone on purpose (standard library only, Python 3.11 syntax).

    packages_zip.py --base STDLIB.zip --out ZIP --tree DIR [--tree DIR ...]

Each ``--tree`` is laid out as site-packages is (``psutil/__init__.py``,
``psutil-7.2.2.dist-info/METADATA``) and lands at the archive's top, beside the standard
library: the archive is on sys.path as the executable itself, so the packages import
from it like the stdlib does (their sources go into the sources member, so tracebacks
show their lines).  A name the standard library already has is an error, never a
silent replacement.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # -I leaves the script's directory out

from stdlib_zip import SOURCES_MEMBER, TZDATA_MEMBER, Writer  # noqa: E402


def tree_members(tree: str):
    for root, dirs, files in os.walk(tree):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            path = os.path.join(root, name)
            yield os.path.relpath(path, tree).replace(os.sep, "/"), path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", required=True, help="the standard-library archive (stdlib_zip.py's)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--tree", action="append", default=[], help="a site-packages-like directory")
    args = ap.parse_args(argv)
    writer = Writer(args.out)
    added = 0
    try:
        with zipfile.ZipFile(args.base) as base:
            for info in base.infolist():
                if info.is_dir():
                    continue  # the writer makes the directory entries itself
                data = base.read(info)
                inner = {SOURCES_MEMBER: writer.sources, TZDATA_MEMBER: writer.tzdata}.get(info.filename)
                if inner is None:
                    writer.main.add(info.filename, data)
                    continue
                with zipfile.ZipFile(io.BytesIO(data)) as member:
                    for sub in member.infolist():
                        if not sub.is_dir():
                            inner.add(sub.filename, member.read(sub))
        for tree in args.tree:
            for name, path in tree_members(tree):
                with open(path, "rb") as f:
                    writer.add(name, f.read())
                added += 1
    finally:
        writer.close()
    print(f"{len(writer.names)} entries, {added} package files added ({writer.compiled} modules compiled)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
