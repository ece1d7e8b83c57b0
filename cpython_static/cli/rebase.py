"""`cpython-static rebase`: carry the series onto a release tag (series/rebase.py)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from cpython_static.build.patches import default_patches_dir
from cpython_static.cli.output import Reporter, context
from cpython_static.core.errors import EXIT_FAILED, EXIT_OK, UsageError


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


def register(sub, common: argparse.ArgumentParser, fetching: argparse.ArgumentParser) -> None:
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
