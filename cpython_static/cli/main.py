"""The ``cpython-static`` command line."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path

from cpython_static import __version__
from cpython_static.build.patches import default_patches_dir
from cpython_static.cli import upstream as upstream_cli
from cpython_static.cli import watch as watch_cli
from cpython_static.cli.output import Reporter, context
from cpython_static.core.errors import EXIT_FAILED, EXIT_OK, Error, UsageError
from cpython_static.core.runner import Runner, StepFailed

DEFAULT_VERSION = "3.13.15"

DESCRIPTION = f"""\
Build a fully static CPython (musl libc, every standard-library extension module
compiled in) from sha256-pinned sources, and prove it is static and complete.

  cpython-static build                 # CPython {DEFAULT_VERSION} for x86_64-linux-musl, verified
  cpython-static build v3.13.5         # another release from the lock
  cpython-static build ~/src/cpython   # a CPython source tree (copied, never modified)
  cpython-static verify dist/cpython-{DEFAULT_VERSION}-x86_64-linux-musl/python3.13
  cpython-static rebase v3.13.15       # carry patches/ onto a release: classify, regenerate, build
  cpython-static sources list          # what is pinned, from where

Everything is cached under $CPYTHON_STATIC_CACHE (default ~/.cache/cpython-static), keyed
by content: a second build reuses every library and interpreter already built.  Every
external command is logged; a failure names its step, log file and the log's last lines.
"""


# -- build -------------------------------------------------------------------------------
def cmd_build(args) -> int:
    from cpython_static.build.cpython import CPythonBuilder, resolve_request
    from cpython_static.build.pipeline import build_publish_verify
    from cpython_static.build.sources import Fetcher, load_lock
    from cpython_static.build.toolchain import make_toolchain

    reporter = Reporter(quiet=args.quiet)
    out = Path(args.out).resolve()
    ctx = context(args, "build", reporter)
    cache, runner, log_dir = ctx.cache, ctx.runner, ctx.log_dir
    for leftover in cache.sweep():
        reporter.line(f"removed scratch directory of a process that died: {leftover}")
    lock = load_lock()
    request = resolve_request(args.what, lock)
    reporter.line(f"CPython {request.version} for {args.target}; logs in {log_dir}")
    toolchain = make_toolchain(args.toolchain, args.target, cache, runner)
    fetcher = Fetcher(cache, runner, mirror=args.mirror)
    patches_dir = Path(args.patches).resolve() if args.patches else default_patches_dir()
    builder = CPythonBuilder(
        cache,
        fetcher,
        lock,
        toolchain,
        runner,
        patches_dir,
        use_series=not args.no_patches,
        jobs=args.jobs,
        autoconf_program=args.autoconf,
        regenerate=not args.no_regen,
        progress=reporter.line,
    )
    outcome = build_publish_verify(
        builder,
        request,
        out,
        layout=args.layout,
        strip=not args.no_strip,
        check=not args.no_verify,
        progress=reporter.line,
    )
    built, binary, onefile, tree = outcome.built, outcome.binary, outcome.onefile, outcome.tree
    report, duration = outcome.report, outcome.duration_s
    for lib in built.libraries:
        reporter.line(f"library {lib.recipe.name}: {'cached' if lib.reused else 'built'} ({lib.prefix})")
    reporter.line(f"interpreter: {'cached' if built.reused else 'built'} ({built.prefix})")
    if report is not None:
        for check in report.checks:
            reporter.line(
                f"check {check.name}: {'ok' if check.ok else 'FAILED'}"
                + (f" — {check.detail}" if check.detail and not check.ok else "")
            )
    modules = _builtin_modules(binary, runner, report)
    result = {
        "ok": report.ok if report else True,
        "binary": str(binary),
        "layout": args.layout,
        "onefile": str(onefile) if onefile else None,
        "tree": str(tree) if tree else None,
        "version": built.version,
        "target": built.target,
        "modules": modules,
        "duration_s": round(duration, 1),
        "patches": built.patches,
        "libraries": {l.recipe.name: {"cached": l.reused, "key": l.key} for l in built.libraries},
        "interpreter_cached": built.reused,
        "size_bytes": binary.stat().st_size,
        "unstripped_size_bytes": built.binary.stat().st_size,
        "logs": str(log_dir),
        "verify": report.to_json() if report else None,
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{'OK' if result['ok'] else 'FAILED'}: {binary}")
        print(
            f"  CPython {built.version} {built.target}, {len(modules)} built-in modules, "
            f"{result['size_bytes'] / 1e6:.1f} MB, {duration:.0f}s"
        )
    return EXIT_OK if result["ok"] else EXIT_FAILED


def _builtin_modules(binary: Path, runner: Runner, report) -> list[str]:
    if report is not None and getattr(report, "modules", None):
        return sorted(report.modules)
    try:
        res = runner.run(
            "list built-in modules",
            [binary, "-I", "-c", "import sys, json; print(json.dumps(sorted(sys.builtin_module_names)))"],
            capture=True,
        )
        return json.loads(res.output)
    except (StepFailed, ValueError):
        return []


# -- bench -------------------------------------------------------------------------------
def cmd_bench(args) -> int:
    from cpython_static.verify.bench import bench, render

    binary = Path(args.binary)
    if not binary.is_file():
        raise UsageError(f"{binary}: no such file")
    result = bench(binary.resolve(), against=args.against or None, runs=args.runs)
    print(json.dumps(result, indent=2) if args.json else render(result))
    return EXIT_OK


# -- rebase ------------------------------------------------------------------------------
def cmd_rebase(args) -> int:
    from cpython_static.series.rebase import Rebaser

    if sum(bool(x) for x in (args.tag, args.cont, args.abort)) != 1:
        raise UsageError("give exactly one of: a TAG (like v3.13.15), --continue, --abort")
    reporter = Reporter(quiet=args.quiet)
    ctx = context(args, "rebase", reporter)
    cache, runner, log_dir = ctx.cache, ctx.runner, ctx.log_dir
    patches_dir = Path(args.patches).resolve() if args.patches else default_patches_dir()
    if patches_dir is None and not args.abort:
        raise UsageError("no patch series found: pass --patches DIR")
    from cpython_static.build.sources import Fetcher

    rebaser = Rebaser(
        cache,
        runner,
        upstream_source=args.upstream,
        patches_dir=patches_dir or Path("."),
        results_dir=Path(args.results).resolve(),
        fetcher=Fetcher(cache, runner, mirror=args.mirror),
        jobs=args.jobs,
        progress=reporter.line,
    )
    if args.abort:
        tag = rebaser.abort()
        print(json.dumps({"aborted": tag}) if args.json else f"aborted the rebase onto {tag}; patches/ untouched")
        return EXIT_OK
    reporter.line(f"logs in {log_dir}")
    report = (
        rebaser.resume()
        if args.cont
        else rebaser.start(
            args.tag,
            build=not args.no_build,
            allow_regen_drift=args.allow_regen_drift,
            check_superseded=args.check_superseded or [],
        )
    )
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"{'OK' if report['ok'] else 'FAILED'}: rebase onto {report['tag']}")
        for p in report["patches"]:
            print(f"  {p['name']}: {p['status']}" + (f" ({p['detail']})" if p["detail"] else ""))
        regen = report["regen"] or {}
        if regen:
            print(
                f"  configure: autoconf {regen['autoconf']} ({regen['origin']}), fidelity "
                f"{'byte-identical' if regen['fidelity'] else 'DIFFERS'}"
            )
        print(f"  build: {report['build']}  verify: {report['verify']}")
        if report["message"]:
            print(f"  {report['message']}")
        print(f"  report: {', '.join(report['results'])}")
    return EXIT_OK if report["ok"] else EXIT_FAILED


# -- upstream, watch: their options and runs are cli/upstream.py and cli/watch.py ---------
# -- verify ------------------------------------------------------------------------------
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


# -- sources -----------------------------------------------------------------------------
def cmd_sources(args) -> int:
    from cpython_static.build.sources import Fetcher, load_lock

    lock = load_lock()
    if args.action == "list":
        rows = [
            {
                "kind": s.kind,
                "name": s.name,
                "version": s.version,
                "license": s.license,
                "file": s.file,
                "sha256": s.sha256,
                "urls": list(s.urls),
                "debian": f"{s.debian.package}={s.debian.version} ({s.debian.suite})" if s.debian else None,
                "digest_from": s.digest_from or "measured",
            }
            for s in lock.sources.values()
        ]
        if args.json:
            print(json.dumps(rows, indent=2))
        else:
            for r in rows:
                print(
                    f"{r['kind']:8s} {r['name']:14s} {r['version']:14s} {r['license']:18s} {r['sha256'][:16]}…  {r['debian'] or ''}"
                    + ("" if r["digest_from"] == "measured" else "  [digest: public record, not measured here]")
                )
        return EXIT_OK
    reporter = Reporter(quiet=args.quiet or args.json)
    ctx = context(args, "sources", reporter)
    fetcher = Fetcher(ctx.cache, ctx.runner, mirror=args.mirror)
    wanted = [s for s in lock.sources.values() if not args.names or s.name in args.names]
    unknown = set(args.names or ()) - {s.name for s in lock.sources.values()}
    if unknown:
        raise UsageError(f"unknown source(s): {', '.join(sorted(unknown))}; see `cpython-static sources list`")
    fetched = {}
    for src in wanted:
        path = fetcher.fetch(src)
        reporter.line(f"{src.kind}:{src.name} {src.version}: {path}")
        fetched[src.id] = str(path)
    if args.json:
        print(json.dumps(fetched, indent=2))
    return EXIT_OK


def _terminate(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def build_parser() -> argparse.ArgumentParser:
    from cpython_static.build.toolchain import DEFAULT_TARGET, TARGETS, TOOLCHAINS

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

    b = sub.add_parser(
        "build",
        parents=[common, fetching],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        help="build a static interpreter (and verify it)",
        description="Build CPython statically: the C libraries from pinned sources with the "
        "chosen toolchain, then CPython with every extension module built in, "
        "then `verify` the result.\n\n"
        "Sources come from the cache, then --mirror, then upstream, then Debian "
        "source packages (apt-get source), each checked against its sha256 pin.\n"
        "The patch series in patches/ is applied when its version range covers the "
        "release, and configure is regenerated with the exact autoconf the release used.",
    )
    b.add_argument(
        "what",
        nargs="?",
        default=DEFAULT_VERSION,
        help=f"release (3.13.15 or v3.13.15) or CPython source directory (default {DEFAULT_VERSION})",
    )
    b.add_argument(
        "--target", default=DEFAULT_TARGET, help=f"one of: {', '.join(sorted(TARGETS))} (default {DEFAULT_TARGET})"
    )
    b.add_argument("--toolchain", default="zig", choices=sorted(TOOLCHAINS), help="C toolchain (default zig)")
    b.add_argument("--out", default="dist", help="output directory (default ./dist)")
    b.add_argument(
        "--layout",
        default="onefile",
        choices=["onefile", "tree", "both"],
        help="onefile (default): OUT/cpython-VERSION-TARGET/pythonX.Y, one executable "
        "carrying its standard library; tree: bin/pythonX.Y and lib/pythonX.Y/ in "
        "that directory, the conventional installation; both: the two side by side",
    )
    b.add_argument("--patches", help="patch series directory (default: the project's patches/)")
    b.add_argument(
        "--no-patches", action="store_true", help="apply no patch of the series at all (upstream's release as it is)"
    )
    b.add_argument(
        "--no-regen",
        action="store_true",
        help="never regenerate configure: leave out the patches whose configure change the "
        "version table reaches with configure cache variables (no autoconf needed)",
    )
    b.add_argument(
        "--autoconf",
        default=None,
        metavar="PROGRAM",
        help="the autoconf to regenerate configure with after the patch series; it must be "
        "the release the shipped configure names (default: the system's when it is "
        "exactly that release, else that release built from its pinned source)",
    )
    b.add_argument("--no-verify", action="store_true", help="skip the verification of the result")
    b.add_argument(
        "--no-strip",
        action="store_true",
        help="keep symbols and debug information in dist/ (the cache always keeps them)",
    )
    b.add_argument("--jobs", "-j", type=int, help="parallel make jobs (default: number of CPUs)")
    b.set_defaults(func=cmd_build)

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

    r = sub.add_parser(
        "rebase",
        parents=[common, fetching],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        help="carry the patch series onto a CPython release tag",
        description="Check TAG out from upstream CPython (a cached, shallow git mirror), apply "
        "patches/ in order and classify each patch:\n"
        "  clean, offset, fuzz (how much; or a three-way merge against its Base),\n"
        "  upstream (TAG has it), not-applicable (TAG outside Python-Versions),\n"
        "  conflict (stop: resolve in the worktree, then --continue; or --abort).\n"
        "First proves that the exact autoconf TAG's configure names (built from a "
        "pinned source when the system's differs) regenerates pristine TAG byte for "
        "byte; regenerates configure when a patch changed its inputs; builds the "
        "rebased tree statically and verifies it.  Only when every step succeeded are "
        "the refreshed patches written back to patches/ (all at once).  A JSON report "
        "(--json) and a Markdown table go to --results.",
    )
    r.add_argument("tag", nargs="?", help="release tag, like v3.13.15")
    r.add_argument(
        "--continue", dest="cont", action="store_true", help="go on after resolving a conflict in the worktree"
    )
    r.add_argument("--abort", action="store_true", help="drop the rebase in progress (patches/ untouched)")
    r.add_argument(
        "--upstream",
        metavar="URL|PATH",
        help="CPython git repository: a URL or a local path (default: the official "
        "repository, https://github.com/python/cpython.git)",
    )
    r.add_argument("--patches", help="patch series directory (default: the project's patches/)")
    r.add_argument("--no-build", action="store_true", help="skip the static build and its verification")
    r.add_argument(
        "--allow-regen-drift",
        action="store_true",
        help="go on even if regenerating pristine TAG does not reproduce its configure",
    )
    r.add_argument(
        "--check-superseded",
        action="append",
        metavar="PATCH",
        help="prove by building whether TAG still needs PATCH: revert it, build and verify "
        "(one extra build each; repeatable); a patch TAG does without is reported "
        "`superseded` and not written back",
    )
    r.add_argument("--results", default="dist/rebase", help="where reports go (default dist/rebase)")
    r.add_argument("--jobs", "-j", type=int, help="parallel make jobs for the build")
    r.set_defaults(func=cmd_rebase)

    u = sub.add_parser(
        "upstream",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        help="turn the patch series into a CPython branch or a nixpkgs commit",
        description="Prepare what upstream projects would merge, from patches/:\n"
        "  upstream cpython --repo PATH   a branch in a CPython clone: one commit per "
        "forwardable patch\n"
        "                                 (regenerated configure, NEWS entry, docs) and "
        "a PR title and body\n"
        "  upstream nixpkgs --nixpkgs PATH  a commit making pkgsStatic.python3 build "
        "its modules in\n"
        "Nothing leaves the machine unless --push is given.",
    )
    usub = u.add_subparsers(dest="project", metavar="PROJECT", required=True)
    uc = usub.add_parser(
        "cpython",
        parents=[common, fetching],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        help="a ready branch in a CPython clone",
        description=upstream_cli.CPYTHON_DESCRIPTION,
    )
    upstream_cli.add_cpython_arguments(uc)
    uc.set_defaults(func=upstream_cli.run_cpython)
    un = usub.add_parser(
        "nixpkgs",
        parents=[common],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        help="a ready commit in a nixpkgs checkout",
        description=upstream_cli.NIXPKGS_DESCRIPTION,
    )
    upstream_cli.add_nixpkgs_arguments(un)
    un.set_defaults(func=upstream_cli.run_nixpkgs)

    w = sub.add_parser(
        "watch",
        parents=[common, fetching],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        help="rebase, build and verify every new CPython release tag (for cron)",
        description=watch_cli.DESCRIPTION,
    )
    watch_cli.add_arguments(w)
    w.set_defaults(func=watch_cli.run)

    s = sub.add_parser(
        "sources",
        parents=[common, fetching],
        help="list or fetch the pinned sources",
        description="`list` prints the lock; `fetch [NAME…]` puts sources into the cache "
        "(all when no name is given), trying every provider.",
    )
    s.add_argument("action", choices=["list", "fetch"])
    s.add_argument("names", nargs="*", help="source names, e.g. openssl 3.13.15")
    s.set_defaults(func=cmd_sources)
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
