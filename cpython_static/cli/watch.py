"""`cpython-static watch`: its options, and the run they ask for (series/watch.py)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from cpython_static.build.patches import default_patches_dir
from cpython_static.build.toolchain import DEFAULT_TARGET, TARGETS
from cpython_static.cli.output import Reporter, context
from cpython_static.series.mirror import DEFAULT_UPSTREAM
from cpython_static.series.watch import (
    DESCRIPTION,
    EXIT_CANNOT_RUN,
    EXIT_OK,
    WatchError,
    _emit,
    run_watch,
    write_systemd,
)

__all__ = ["DESCRIPTION", "add_arguments", "run"]


def add_arguments(p) -> None:
    p.add_argument(
        "--upstream",
        metavar="URL|PATH",
        help=f"CPython git repository to watch (default: the official one, {DEFAULT_UPSTREAM})",
    )
    p.add_argument(
        "--state",
        default="dist/watch/state.json",
        metavar="FILE",
        help="what has been processed, and how it went (default dist/watch/state.json)",
    )
    p.add_argument(
        "--results",
        metavar="DIR",
        help="status matrix, failure reports, rebase reports and logs (default: the state file's directory)",
    )
    p.add_argument(
        "--target",
        action="append",
        metavar="TARGET",
        help=f"target to build for (repeatable; default {DEFAULT_TARGET}); one of: {', '.join(sorted(TARGETS))}",
    )
    p.add_argument(
        "--include-prereleases", action="store_true", help="also alphas, betas and release candidates (like v3.14.0rc1)"
    )
    p.add_argument(
        "--max-tags", type=int, metavar="N", help="process at most N new tags this run (the rest wait for the next run)"
    )
    p.add_argument(
        "--tag",
        action="append",
        metavar="TAG",
        help="consider only this tag (repeatable; still only when new, unless --retry)",
    )
    p.add_argument(
        "--retry",
        action="store_true",
        help="process the selected tags again even if a result is recorded (with --tag, or for every failed one)",
    )
    p.add_argument(
        "--plan",
        action="store_true",
        help="list the (tag, target) pairs a run would process, and stop (no lock, "
        "no state change; --json gives CI a matrix)",
    )
    p.add_argument(
        "--merge",
        nargs="+",
        metavar="STATE",
        help="merge other runs' state files (say, one per CI matrix job) into --state "
        "and regenerate the matrix; upstream is not contacted",
    )
    p.add_argument(
        "--write-systemd",
        metavar="DIR",
        help="write a systemd service and timer running this watch nightly into DIR, and stop",
    )
    p.add_argument("--jobs", "-j", type=int, help="parallel make jobs for the builds (and regrtest's -j; default 2)")
    suite = p.add_mutually_exclusive_group()
    suite.add_argument(
        "--no-stdlib-tests",
        action="store_true",
        help="skip CPython's own test suite per tag (by default the whole suite of the tag runs with "
        "the file it built, as `verify --stdlib-tests` does: tens of minutes on 2 cores; the "
        "matrix's 'stdlib tests' column)",
    )
    suite.add_argument(
        "--stdlib-test",
        action="append",
        metavar="NAME",
        help="run only this test file of the suite per tag (repeatable; e.g. test_zipimport)",
    )


def run(args) -> int:
    reporter = Reporter(quiet=args.quiet)
    state_path = Path(args.state).resolve()
    results = Path(args.results).resolve() if args.results else state_path.parent
    try:
        targets = _targets(args)
        if args.write_systemd:
            written = write_systemd(Path(args.write_systemd), args, state_path, results)
            _emit(args, {"written": [str(p) for p in written]}, "\n".join(f"wrote {p}" for p in written))
            return EXIT_OK
        # --merge only rewrites files: no runner, no log directory.
        ctx = None if args.merge else context(args, "watch", reporter)
        return run_watch(args, reporter, state_path, results, targets, ctx, default_patches_dir())
    except WatchError as exc:
        print(f"cpython-static: error: {exc}", file=sys.stderr)
        if args.json:
            print(json.dumps({"error": str(exc), "processed": [], "skipped": []}, indent=2))
        return EXIT_CANNOT_RUN


def _targets(args) -> list[str]:
    targets = list(dict.fromkeys(args.target or [DEFAULT_TARGET]))
    for t in targets:
        if t not in TARGETS:
            raise WatchError(f"unknown target {t!r}; one of: {', '.join(sorted(TARGETS))}")
    if args.max_tags is not None and args.max_tags < 1:
        raise WatchError("--max-tags must be at least 1")
    return targets


def register(sub, common: argparse.ArgumentParser, fetching: argparse.ArgumentParser) -> None:
    w = sub.add_parser(
        "watch",
        parents=[common, fetching],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        help="rebase, build and verify every new CPython release tag (for cron)",
        description=DESCRIPTION,
    )
    add_arguments(w)
    w.set_defaults(func=run)
