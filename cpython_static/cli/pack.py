"""`cpython-static pack`: an app, its dependencies and their C extensions as one static
executable (build/pack.py)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from cpython_static.cli.build import DEFAULT_VERSION, add_toolchain_options, make_builder
from cpython_static.cli.output import Reporter
from cpython_static.core.errors import EXIT_FAILED, EXIT_OK

DESCRIPTION = f"""\
Pack an app into one static executable: the interpreter, the standard library, the app
and its dependencies, with their C extensions compiled in.  It runs anywhere Linux runs:
in an empty root, read-only, as a user with no passwd entry, with no writable directory
and nothing extracted at run time.

  cpython-static pack ./mytool -o dist/mytool          # a project directory (pyproject.toml)
  cpython-static pack 'httpie==3.*' --entry httpie.__main__:main -o dist/http
  cpython-static pack ./mytool -r requirements.lock -o dist/mytool   # pinned, with --hash lines
  ./dist/mytool --help                                 # argv is the app's

How: the interpreter is built (or taken from the cache) as `build` makes it (CPython
{DEFAULT_VERSION} unless --python says otherwise); its own pip resolves what you name
from the index your pip is configured with (pip.conf, PIP_* variables: index,
find-links, constraints, certificates).  Pure-Python distributions are installed from
their wheels; a dependency with C extensions is compiled from its sdist with the
interpreter's toolchain and headers and linked in as built-in modules under their full
names (psutil._psutil_linux, yaml._yaml, markupsafe._speedups, msgpack._cmsgpack).
Packages whose extensions need Rust or C++, or a build system other than setuptools,
are refused by name with what works instead.  Everything built is cached: packing again
after a change to the app rebuilds nothing of its dependencies.

The entry point: the app's console script when it declares exactly one; else --entry,
a console-script name, module:function, a module (run as -m), or a script file.

Python's own options: the packed file hands its whole command line to the app.  With
CPYTHON_STATIC_PYTHON=1 in the environment it is the plain interpreter instead
(`CPYTHON_STATIC_PYTHON=1 dist/mytool -c 'import mytool'`, `-X importtime`, `-m`).
The app runs isolated: PYTHON* variables, the user's site directory and the working
directory are not looked at, and no site-packages directory of the machine is used.

The same inputs give the same bytes.  The file is written beside -o, verified there
(`verify`'s checks, the added modules, the entry point) and only then renamed onto -o.
"""


def cmd_pack(args) -> int:
    from cpython_static.build.pack import Packer, app_name

    reporter = Reporter(quiet=args.quiet)
    default = Path("dist") / (app_name(args.app[0]) if args.app else "app")
    output = Path(args.output or default).resolve()
    builder, request, log_dir = make_builder(args, "pack", reporter, args.python)
    packed = Packer(builder, reporter.line, refresh=args.refresh).pack(
        request,
        list(args.app),
        output,
        requirements=[Path(r).resolve() for r in args.requirement or []],
        entry=args.entry,
        check=not args.no_verify,
    )
    result = {**packed.to_json(), "logs": str(log_dir)}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        if packed.report is not None:
            for check in packed.report.checks:
                if not check.ok:
                    reporter.line(f"check {check.name}: FAILED — {check.detail}")
        print(f"{'OK' if packed.ok else 'FAILED'}: {packed.output}")
        print(
            f"  runs {packed.entry.spec}; CPython {packed.built.version} {packed.built.target}, "
            f"{result['size_bytes'] / 1e6:.1f} MB, {packed.duration_s:.0f}s"
        )
        for d in result["distributions"]:
            extra = f": {', '.join(d['modules'])} built in" if d.get("modules") else ""
            print(f"  + {d['name']} {d['version']} ({d['kind']}){extra}")
        print(f"  Python's own options: {packed.to_json()['escape']} {packed.output} -c ...")
    return EXIT_OK if packed.ok else EXIT_FAILED


def register(sub, common: argparse.ArgumentParser, fetching: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "pack",
        parents=[common, fetching],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        help="pack an app and its dependencies into one static executable",
        description=DESCRIPTION,
    )
    p.add_argument(
        "app",
        nargs="*",
        metavar="APP",
        help="a project directory (with pyproject.toml or setup.py) or a requirement ('httpie==3.*'); "
        "more than one are packed together, the first is the app",
    )
    p.add_argument("-o", "--output", help="the executable to write (default: dist/<app>)")
    p.add_argument(
        "--entry",
        help="what the executable runs: a console-script name, module:function, a module, or a "
        "script.py (default: the app's console script when it declares exactly one)",
    )
    p.add_argument(
        "-r",
        "--requirement",
        action="append",
        metavar="FILE",
        help="a requirements file for pip (repeatable); with --hash lines it is a lock and pip "
        "refuses anything else; a PEP 751 pylock.toml is read as its exact versions and hashes",
    )
    p.add_argument(
        "--python",
        default=DEFAULT_VERSION,
        metavar="VERSION",
        help=f"the CPython release to pack on (default {DEFAULT_VERSION})",
    )
    p.add_argument(
        "--refresh",
        action="store_true",
        help="resolve again now (a resolution is reused for 24 hours while the arguments, requirement "
        "files, the app's pyproject.toml/setup.cfg/setup.py and the pip configuration are unchanged)",
    )
    add_toolchain_options(p)
    p.add_argument("--no-verify", action="store_true", help="skip the verification of the packed file")
    p.set_defaults(func=cmd_pack)
