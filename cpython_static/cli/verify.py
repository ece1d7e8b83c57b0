"""`cpython-static verify` and `bench`: prove a binary static and complete; measure it."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from cpython_static.cli.build import add_variant_options
from cpython_static.cli.output import Reporter, context
from cpython_static.core.cache import default_root
from cpython_static.core.errors import EXIT_FAILED, EXIT_OK, UsageError, WorkFailed
from cpython_static.verify import bench


def cmd_verify(args) -> int:
    from cpython_static.verify.checks import verify

    reporter = Reporter(quiet=args.quiet or args.json)
    binary = Path(args.binary).resolve()
    if not binary.is_file():
        raise UsageError(f"{args.binary}: no such file")
    if args.stdlib_tests:
        return _stdlib_tests(args, binary, reporter)
    ctx = context(args, "verify", reporter)
    runner, log_dir = ctx.runner, ctx.log_dir
    report = verify(
        binary,
        runner=runner,
        version=args.version,
        target=args.target,
        only=args.only or None,
        added_modules=args.with_module or (),
        variant=args.variant,
    )
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


def _stdlib_tests(args, binary: Path, reporter: Reporter) -> int:
    """CPython's own test suite of the binary's release, run by the binary
    (verify/stdlib_tests.py), judged against the series' table of expected failures; the
    files that need CPython's test-only C modules by the test variant, when given."""
    from cpython_static.build.patches import default_patches_dir
    from cpython_static.build.sources import Fetcher, load_lock
    from cpython_static.build.testsuite import lib_test
    from cpython_static.verify import stdlib_tests

    ctx = context(args, "verify", reporter)
    cache, runner, log_dir = ctx.cache, ctx.runner, ctx.log_dir
    shipped = stdlib_tests.interpreter(runner, binary, "binary", args.target)
    variant = None
    if args.test_modules_binary:
        path = Path(args.test_modules_binary).resolve()
        if not path.is_file():
            raise UsageError(f"--test-modules-binary {args.test_modules_binary}: no such file")
        variant = stdlib_tests.interpreter(runner, path, "test variant", args.target)
        if problem := stdlib_tests.variant_problem(shipped, variant):
            raise UsageError(f"--test-modules-binary {problem}")
    reporter.line(f"CPython {shipped.version}: Lib/test of the pinned source with the series' patches")
    tests_dir = lib_test(
        cache, Fetcher(cache, runner, mirror=args.mirror), load_lock(), runner, shipped.version, default_patches_dir()
    )
    report = stdlib_tests.run_stdlib_tests(
        runner,
        cache.scratch("stdlib-tests"),
        shipped,
        tests_dir,
        tests=args.test or [],
        variant=variant,
        jobs=args.jobs,
        progress=reporter.line,
    )
    if args.json:
        print(json.dumps({**report.to_json(), "logs": str(log_dir)}, indent=2))
    else:
        print("\n".join(report.lines()))
        print(f"{report.summary()}; logs in {log_dir}")
    return EXIT_OK if report.ok else EXIT_FAILED


def cmd_bench(args) -> int:
    reporter = Reporter(quiet=args.quiet or args.json)
    names = [n.strip() for n in (args.benchmarks or "").split(",") if n.strip()]
    # Every input is checked before anything is written (the cache and its logs included).
    plan = bench.prepare(
        args.binary,
        args.against,
        cache_root=Path(args.cache).expanduser() if getattr(args, "cache", None) else default_root(),
        chroot=args.chroot,
        names=names,
        out=args.out,
        processes=args.processes,
        values=args.values,
        startup_runs=args.startup_runs,
        side_env=bench.parse_side_env(args.env or []),
    )
    ctx = context(args, "bench", reporter)  # the one log rule: --log-dir, else <cache>/logs/<run id>
    result = bench.run(plan, ctx.runner, progress=reporter.line)
    print(json.dumps(result, indent=2) if args.json else bench.render(result))
    if result["errors"]:
        failed = ", ".join(
            f"{e['benchmark']} ({e['side']})" if "benchmark" in e else f"start-up `{e['startup']}` ({e['side']})"
            for e in result["errors"]
        )
        summary = result["summary"] or {"benchmarks": 0}
        raise WorkFailed(
            f"failed: {failed}; the geometric mean covers only the {summary['benchmarks']} benchmarks "
            f"measured on both sides; results in {result['results']}",
            step="bench",
        )
    return EXIT_OK


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text}: must be 1 or more")
    return value


def register(sub, common: argparse.ArgumentParser, fetching: argparse.ArgumentParser) -> None:
    v = sub.add_parser(
        "verify",
        parents=[common, fetching],
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
    v.add_argument(
        "--with-module",
        action="append",
        metavar="NAME",
        help="a built-in module `build --with` added (full dotted name, e.g. psutil._psutil_linux; "
        "repeatable; `build --json` lists them under added.modules): expected beside the series' "
        "table, and imported as a built-in by the added_modules check",
    )
    add_variant_options(
        v,
        lambda variant: (
            f"fail unless BINARY is the {variant.name} build ({variant.summary}): its module "
            "table, readline and dbm smoke checks, and an SBOM that declares it with a licence to match "
            "(default: the build the SBOM beside BINARY declares, else the default one)"
        ),
    )
    v.add_argument("--verbose", "-v", action="store_true", help="show details of passing checks too")
    v.add_argument(
        "--stdlib-tests",
        action="store_true",
        help="instead of the checks: run CPython's own test suite of BINARY's release (Lib/test of "
        "the pinned source with the series' patches, never shipped) with BINARY, every child "
        "interpreter seeing it too; fail on a failing test file not listed in stdlib_tests.toml "
        "for the series, and on a listed one that passed (stale). Tens of minutes for the whole suite",
    )
    v.add_argument(
        "--test",
        action="append",
        metavar="NAME",
        help="with --stdlib-tests: only this test file (repeatable, e.g. test_site)",
    )
    v.add_argument(
        "--test-modules-binary",
        metavar="FILE",
        help="with --stdlib-tests: the test variant of BINARY's release (`build VERSION --test-modules`, "
        "never shipped), which runs the test files stdlib_tests.toml lists as needing CPython's "
        "test-only C modules (_testcapi, _testinternalcapi, …), in a prefix of the same shape; "
        "everything else runs on BINARY. Without it those files are not run, and the output says so",
    )
    v.add_argument("--jobs", "-j", type=_positive, default=2, help="with --stdlib-tests: regrtest's -j (default 2)")
    v.set_defaults(func=cmd_verify)

    bn = sub.add_parser(
        "bench",
        parents=[common, fetching],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        help="our one file against a reference Python: pyperformance, memory, start-up, size",
        description=bench.__doc__,
    )
    bn.add_argument("binary", metavar="BINARY", help="our one-file interpreter")
    bn.add_argument(
        "--against", required=True, metavar="PYTHON", help="the reference interpreter (a path, or a command on PATH)"
    )
    bn.add_argument("--chroot", metavar="ROOT", help="run both interpreters inside ROOT; PYTHON is a path inside it")
    bn.add_argument(
        "--benchmarks",
        metavar="A,B,...",
        help="only these benchmarks of the subset (default: every one in verify/bench.toml)",
    )
    bn.add_argument(
        "--processes",
        type=_positive,
        default=bench.PROCESSES,
        metavar="N",
        help=f"pyperf worker processes a benchmark (default {bench.PROCESSES})",
    )
    bn.add_argument(
        "--values",
        type=_positive,
        default=bench.VALUES,
        metavar="N",
        help=f"pyperf values a worker (default {bench.VALUES})",
    )
    bn.add_argument(
        "--startup-runs",
        type=_positive,
        default=bench.STARTUP_RUNS,
        metavar="N",
        help=f"timed runs a start-up command and side (default {bench.STARTUP_RUNS})",
    )
    bn.add_argument("--out", metavar="DIR", help="work directory (default: <cache>/bench/<run id>)")
    bn.add_argument(
        "--env",
        action="append",
        metavar="SIDE:VAR=VALUE",
        help="set VAR for one side only (SIDE: ours or ref), in its benchmarks' workers and start-up runs "
        "too; e.g. ours:PYTHONMALLOC=pymalloc with BINARY as its own reference measures the allocator",
    )
    bn.set_defaults(func=cmd_bench)
