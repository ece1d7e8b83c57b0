"""The ``cpython-static`` command line."""

from __future__ import annotations

import argparse
import signal
import sys

from cpython_static import __version__
from cpython_static.cli import build, pack, rebase, sources, upstream, verify, watch
from cpython_static.cli.build import DEFAULT_VERSION
from cpython_static.core.errors import Error

DESCRIPTION = f"""\
Build a fully static CPython (musl libc, every standard-library extension module
compiled in) from sha256-pinned sources, and prove it is static and complete.

  cpython-static build                 # CPython {DEFAULT_VERSION} for x86_64-linux-musl, verified
  cpython-static build v3.13.5         # another release from the lock
  cpython-static build ~/src/cpython   # a CPython source tree (copied, never modified)
  cpython-static verify dist/cpython-{DEFAULT_VERSION}-x86_64-linux-musl/python3.13
  cpython-static rebase v3.13.15       # carry patches/ onto a release: classify, regenerate, build
  cpython-static pack ./mytool -o dist/mytool   # an app + its deps (C extensions too) as one file
  cpython-static sources list          # what is pinned, from where

Everything is cached under $CPYTHON_STATIC_CACHE (default ~/.cache/cpython-static), keyed
by content: a second build reuses every library and interpreter already built.  Every
external command is logged; a failure names its step, log file and the log's last lines.
"""


def _terminate(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="cpython-static", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--version", action="version", version=f"cpython-static {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--json", action="store_true", help="print one JSON object on stdout (progress stays on stderr)"
    )
    common.add_argument("--quiet", "-q", action="store_true", help="no progress lines")
    common.add_argument("--log-dir", help="where step logs go (default: <cache>/logs/<run id>)")

    fetching = argparse.ArgumentParser(add_help=False)
    fetching.add_argument("--cache", help="cache directory (default: $CPYTHON_STATIC_CACHE or ~/.cache/cpython-static)")
    fetching.add_argument(
        "--mirror",
        help="directory or base URL holding pinned source files, tried before upstream "
        "(default: $CPYTHON_STATIC_MIRROR)",
    )

    # Each command registers its own parser (and the function that runs it).
    for command in (build, pack, verify, rebase, upstream, watch, sources):
        command.register(sub, common, fetching)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # Ctrl-C and `kill` (also when started in the background, where SIGINT is inherited
    # as ignored) unwind through every cleanup: no half-written output survives.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        return args.func(args)
    except Error as exc:  # UsageError -> 2, WorkFailed -> 1 (core/errors.py)
        print(f"cpython-static: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("cpython-static: interrupted; nothing half-written was kept", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
