"""Builds an sdist's C extensions into object files, for linking into an interpreter.
Runs INSIDE the interpreter the extensions are for (its headers, its sysconfig), with
setuptools (and Cython, for sdists shipping only ``.pyx``) from the ``--path`` directories
(run with ``-I``: nothing of the environment or a site-packages leaks in).

Standalone on purpose (standard library + setuptools only, Python 3.11 syntax).

    setup_driver.py --sdist DIR --build-lib DIR --build-temp DIR --plan FILE.json [--path DIR ...]

The sdist's own ``setup.py build`` runs (its custom commands, its configuration checks,
its Cython step), with one change: linking a shared object only records what would have
been linked (objects, libraries, library directories, extra arguments, language) in the
plan, because the objects go into a static interpreter instead.  The pure-Python part is
what ``build_py`` puts in ``--build-lib``.  The plan lists every extension the sdist
declares (``declared``) beside those that reached the link (``linked``): packages that
fall back to pure Python when their C part does not build (PyYAML without libyaml,
MarkupSafe) are caught by the caller from the difference, never silently.
"""

from __future__ import annotations

import argparse
import json
import os
import sys


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sdist", required=True)
    ap.add_argument("--build-lib", required=True)
    ap.add_argument("--build-temp", required=True)
    ap.add_argument("--plan", required=True)
    ap.add_argument("--path", action="append", default=[], help="a directory of build tools (unpacked wheels)")
    ap.add_argument(
        "--executable",
        help="what setup.py gets as sys.executable: a foreign interpreter's emulator wrapper "
        "(psutil's setup.py starts it), as no binfmt_misc may know the CPU",
    )
    args = ap.parse_args(argv)
    sys.path[:0] = [os.path.abspath(p) for p in args.path]
    if args.executable:
        sys.executable = args.executable
    sdist = os.path.abspath(args.sdist)
    os.chdir(sdist)
    sys.path.insert(0, sdist)  # setup.py imports its neighbours (PyYAML: packaging/)

    # First: importing setuptools installs its distutils as `distutils` (3.12+ has none).
    import setuptools  # noqa: F401, I001
    from distutils import ccompiler
    from distutils.core import run_setup

    linked: list[dict] = []

    def record(self, objects, output_filename, output_dir=None, libraries=None, library_dirs=None, **kw):
        # Where a shared object would be linked: what it would have been made of.
        name = os.path.basename(output_filename).split(".", 1)[0]
        linked.append(
            {
                "file": os.path.relpath(os.path.join(output_dir or "", output_filename), args.build_lib),
                "stem": name,
                "objects": sorted(os.path.abspath(o) for o in objects),
                "libraries": list(libraries or ()),
                "library_dirs": [os.path.abspath(d) for d in library_dirs or ()],
                "extra_link_args": list(kw.get("extra_postargs") or ()),
                "language": kw.get("target_lang") or "c",
            }
        )

    ccompiler.CCompiler.link_shared_object = record
    if not os.path.exists("setup.py"):
        # A setuptools project configured in pyproject.toml alone: setup() reads it.
        with open("setup.py", "w") as f:
            f.write("from setuptools import setup\nsetup()\n")
    dist = run_setup(
        "setup.py",
        script_args=["build", "--build-lib", args.build_lib, "--build-temp", args.build_temp],
        stop_after="run",
    )
    # build_ext puts every extension under ext_package when the setup() sets one
    # (xxhash: ext_package="xxhash", Extension("_xxhash") is xxhash._xxhash).
    prefix = f"{dist.ext_package}." if getattr(dist, "ext_package", None) else ""
    declared = [prefix + e.name for e in dist.ext_modules or ()]
    # What each declared extension is written in: a C++ one never reaches the link with
    # a C-only compiler, and says so by its sources.
    cxx = (".cpp", ".cc", ".cxx", ".c++")
    languages = {
        prefix + e.name: ("c++" if (e.language == "c++" or any(str(src).endswith(cxx) for src in e.sources)) else "c")
        for e in dist.ext_modules or ()
    }
    # The extension's full dotted name: build_ext names the output after it
    # (pkg/sub/_mod.<EXT_SUFFIX>), relative to the build directory.
    for entry in linked:
        entry["name"] = entry["file"].split(".", 1)[0].replace(os.sep, ".")
    with open(args.plan, "w") as f:
        json.dump(
            {
                "name": dist.get_name(),
                "version": dist.get_version(),
                "declared": declared,
                "languages": languages,
                "linked": linked,
                "python": sys.version.split()[0],
            },
            f,
            indent=2,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
