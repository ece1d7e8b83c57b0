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
    import shutil

    from cpython_static.build.patches import default_patches_dir
    from cpython_static.build.sources import Fetcher, load_lock
    from cpython_static.build.testsuite import lib_test
    from cpython_static.verify import stdlib_tests
    from cpython_static.verify.checks import resolve_emulator
    from cpython_static.verify.elf import read_elf
    from cpython_static.verify.modules import load_module_tables
    from cpython_static.versions import get_variant

    ctx = context(args, "verify", reporter)
    cache, runner, log_dir = ctx.cache, ctx.runner, ctx.log_dir

    def interpreter(path: Path, what: str) -> tuple[list[str], str, list[str]]:
        """(emulator prefix, version, built-in modules) of the file at ``path``."""
        elf = read_elf(path)
        emulator = resolve_emulator(args.target or f"{elf.machine}-linux-musl", None, runner.base_env.get("PATH", ""))
        asked = runner.run(
            f"stdlib tests: the {what}'s version",
            [
                *emulator,
                str(path),
                "-I",
                "-c",
                "import sys; print('%d.%d.%d' % sys.version_info[:3]); print(' '.join(sys.builtin_module_names))",
            ],
            capture=True,
        )
        version, modules = (asked.output.strip().splitlines() + ["", ""])[:2]
        return emulator, version.strip(), modules.split()

    emulator, version, _ = interpreter(binary, "binary")
    mm = ".".join(version.split(".")[:2])
    build_hint = (
        f"cpython-static build {version} {get_variant(stdlib_tests.VARIANT_BUILD).flag} --optimize quick "
        f"(it publishes OUT/cpython-{version}-<target>-{stdlib_tests.VARIANT_BUILD}/python{mm})"
    )
    variant = v_emulator = None
    if args.test_modules_binary:
        variant = Path(args.test_modules_binary).resolve()
        if not variant.is_file():
            raise UsageError(f"--test-modules-binary {args.test_modules_binary}: no such file")
        v_emulator, v_version, v_modules = interpreter(variant, "test variant")
        shipped, wanted = load_module_tables().get(mm), load_module_tables(variant=stdlib_tests.VARIANT_BUILD).get(mm)
        adds = wanted.builtin - shipped.builtin if shipped and wanted and wanted.derived else frozenset()
        missing = sorted(adds - set(v_modules))
        if v_version != version:
            raise UsageError(f"--test-modules-binary {variant} is CPython {v_version}, BINARY is {version}")
        if not adds or missing:
            raise UsageError(
                f"--test-modules-binary {variant} is not the test variant of CPython {version}"
                + (f": it lacks {', '.join(missing)}" if missing else f": modules.toml has no test variant for {mm}")
                + f"; build it with {build_hint}"
            )
    lock = load_lock()
    reporter.line(f"CPython {version}: Lib/test of the pinned source with the series' patches")
    tests_dir = lib_test(
        cache, Fetcher(cache, runner, mirror=args.mirror), lock, runner, version, default_patches_dir()
    )
    table = stdlib_tests.load_table().get(mm, {})
    planned = stdlib_tests.plan(
        args.test or [], stdlib_tests.load_test_module_files().get(mm, {}), have_variant=variant is not None
    )
    runs = []  # (role, binary, tests asked or None for the whole suite but some, result, log)
    work = cache.scratch("stdlib-tests")
    try:
        for role, path, prefix_emulator, tests in (
            (stdlib_tests.SHIPPED, binary, emulator, planned.shipped),
            (stdlib_tests.VARIANT, variant, v_emulator, planned.variant),
        ):
            if path is None or tests == []:
                continue
            # The same kind of prefix for each: <work>/<role>/bin/pythonX.Y, lib/pythonX.Y/test.
            prefix = work / role.replace(" ", "-")
            (prefix / "tmp").mkdir(parents=True)
            python = stdlib_tests.prepare_prefix(path, tests_dir, prefix, mm)
            whole = tests is None
            reporter.line(
                f"{role}: running "
                + ("the whole suite but the files listed as needing test modules" if whole else ", ".join(tests))
                + f" with -j{args.jobs}"
                + (" (the full suite takes tens of minutes)" if whole else "")
            )
            result, log = stdlib_tests.run_suite(
                runner,
                [*prefix_emulator, str(python)],
                tests=tests or [],
                exclude=planned.excluded if whole else [],
                jobs=args.jobs,
                workdir=prefix,
                step=f"stdlib tests (regrtest, {role})",
            )
            runs.append((role, path, tests, result, log))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result = stdlib_tests.merge([r[3] for r in runs])
    verdict = stdlib_tests.judge(result, table)
    ran_by = {t: role for role, _, _, r, _ in runs for t in r.ran}
    not_run = {
        "tests": [n.test for n in planned.not_run],
        "why": "they import CPython's test-only C modules, which the shipped file leaves out "
        "(--disable-test-modules); stdlib_tests.toml [test_modules] says which and why",
        "how": f"build the test variant with {build_hint} and pass it with --test-modules-binary",
    }
    out = {
        **verdict.to_json(),
        "version": version,
        "binary": str(binary),
        "log": str(runs[0][4]) if runs else None,
        "logs": str(log_dir),
        "runs": [
            {
                "role": role,
                "binary": str(path),
                "tests": tests if tests is not None else "all",
                "excluded": planned.excluded if tests is None else [],
                "ran": len(r.ran),
                "failed": sorted(r.failed),
                "log": str(log),
            }
            for role, path, tests, r, log in runs
        ],
        "not_run": not_run if planned.not_run else None,
    }
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        for role, path, tests, r, log in runs:
            what = f"the whole suite but {len(planned.excluded)} files" if tests is None else ", ".join(tests)
            print(f"{role:13s} {path}: {what}; {len(r.ran)} ran, {len(r.failed)} failed; log {log}")
        for e in verdict.expected:
            print(f"expected {e.test:28s} {e.kind:9s} ({ran_by.get(e.test, 'shipped')}) {e.why}")
        for t in verdict.unexpected:
            print(f"FAIL     {t:28s} not in stdlib_tests.toml [{mm}]: a new failure ({ran_by.get(t, 'shipped')})")
        for t in verdict.stale:
            print(f"STALE    {t:28s} listed in stdlib_tests.toml [{mm}] but passed ({ran_by.get(t, 'shipped')})")
        if planned.not_run:
            names = ", ".join(f"{n.test} ({', '.join(n.modules)})" for n in planned.not_run)
            n = len(planned.not_run)
            print(f"NOT RUN  {n} test file{'s' if n != 1 else ''}, because {not_run['why']}: {names}")
            print(f"         to run them, {not_run['how']}")
        kinds = ", ".join(f"{k} {n}" for k, n in verdict.counts().items()) or "none"
        print(
            f"{'OK' if verdict.ok else 'FAILED'}: {len(result.ran)} test files, {len(result.failed)} failed "
            f"({len(verdict.expected)} expected: {kinds}; {len(verdict.unexpected)} unexpected, "
            f"{len(verdict.stale)} stale), {len(result.skipped)} skipped"
            + (f", {len(planned.not_run)} not run (no --test-modules-binary)" if planned.not_run else "")
            + f"; logs in {log_dir}"
        )
    return EXIT_OK if verdict.ok else EXIT_FAILED


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
