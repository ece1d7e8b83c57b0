"""`cpython-static verify` and `bench`: prove a binary static and complete; measure it."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from cpython_static.cli.output import Reporter, context
from cpython_static.core.errors import EXIT_FAILED, EXIT_OK, UsageError


def cmd_verify(args) -> int:
    from cpython_static.verify.checks import verify

    reporter = Reporter(quiet=args.quiet or args.json)
    binary = Path(args.binary).resolve()
    if not binary.is_file():
        raise UsageError(f"{args.binary}: no such file")
    ctx = context(args, "verify", reporter)
    runner, log_dir = ctx.runner, ctx.log_dir
    report = verify(binary, runner=runner, version=args.version, target=args.target, only=args.only or None)
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        for check in report.checks:
            mark = "ok  " if check.ok else "FAIL"
            print(
                f"{mark} {check.name:22s} {check.duration_s:6.2f}s  {check.detail if not check.ok or args.verbose else ''}".rstrip()
            )
        print(f"{'OK' if report.ok else 'FAILED'}: {binary} ({report.version}, {report.target}); logs in {log_dir}")
    return EXIT_OK if report.ok else EXIT_FAILED


def cmd_bench(args) -> int:
    from cpython_static.verify.bench import bench, render

    binary = Path(args.binary)
    if not binary.is_file():
        raise UsageError(f"{binary}: no such file")
    result = bench(binary.resolve(), against=args.against or None, runs=args.runs)
    print(json.dumps(result, indent=2) if args.json else render(result))
    return EXIT_OK


def register(sub, common: argparse.ArgumentParser, fetching: argparse.ArgumentParser) -> None:
    v = sub.add_parser(
        "verify",
        parents=[common],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        help="prove a binary is static and complete",
        description="Fail unless BINARY has no program interpreter and no DT_NEEDED entries, its "
        "built-in modules are exactly the expected set for its CPython version and "
        "target, and smoke checks pass (a TLS handshake against a local server, "
        "hashlib, sqlite3 FTS5/JSON, compression round-trips, a ctypes callback, "
        "decimal, readline, curses, uuid, dbm, zoneinfo, multiprocessing, asyncio "
        "subprocesses).  Foreign-architecture binaries run under qemu-user.",
    )
    v.add_argument("binary", help="the interpreter to check")
    v.add_argument("--version", dest="version", help="expected CPython version (default: ask the binary)")
    v.add_argument("--target", help="expected target (default: from the ELF header)")
    v.add_argument("--only", action="append", metavar="CHECK", help="run only this check (repeatable)")
    v.add_argument("--verbose", "-v", action="store_true", help="show details of passing checks too")
    v.set_defaults(func=cmd_verify)

    bn = sub.add_parser(
        "bench",
        parents=[common],
        help="measure size and start-up time against the host's python3",
        description="Print the binary's size and the median wall-clock time of `-c pass`, "
        "`-I -S -c pass` and a few imports, for BINARY and for the host's python3. "
        "The README's figures come from this command.",
    )
    bn.add_argument("binary", help="the interpreter to measure")
    bn.add_argument("--runs", type=int, default=30, help="timed runs per command (default 30)")
    bn.add_argument("--against", default="python3", help="the other interpreter (default python3 on PATH; '' for none)")
    bn.set_defaults(func=cmd_bench)
