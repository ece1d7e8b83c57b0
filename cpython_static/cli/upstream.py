"""`cpython-static upstream cpython|nixpkgs`: their options, and the runs they ask for
(upstream/cpython.py, upstream/nixpkgs.py)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from cpython_static.build.patches import default_patches_dir
from cpython_static.cli.output import Reporter, context
from cpython_static.core.errors import EXIT_FAILED, EXIT_OK
from cpython_static.upstream.cpython import DESCRIPTION as CPYTHON_DESCRIPTION
from cpython_static.upstream.cpython import TEMPLATES, BranchMaker, CPythonPRError, _Failed, render_text
from cpython_static.upstream.nixpkgs import DESCRIPTION as NIXPKGS_DESCRIPTION
from cpython_static.upstream.nixpkgs import load_spec, make_commit

__all__ = [
    "CPYTHON_DESCRIPTION",
    "NIXPKGS_DESCRIPTION",
    "add_cpython_arguments",
    "add_nixpkgs_arguments",
    "run_cpython",
    "run_nixpkgs",
]


def add_cpython_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repo", required=True, metavar="PATH", help="a clean clone of CPython's git repository")
    parser.add_argument(
        "--base",
        default="HEAD",
        metavar="BRANCH_OR_TAG",
        help="what the branch starts from (default: REPO's current HEAD)",
    )
    parser.add_argument(
        "--issue",
        type=int,
        metavar="N",
        help="the CPython GitHub issue every commit refers to (gh-N); default: each "
        "patch's Upstream-Issue header (a patch with neither is refused)",
    )
    parser.add_argument("--branch", metavar="NAME", help="branch to create (default static-build-BASE); must not exist")
    parser.add_argument(
        "--push",
        metavar="REMOTE",
        help="push the branch to this remote of REPO (a configured remote name); without it nothing leaves the machine",
    )
    parser.add_argument("--patches", help="patch series directory (default: the project's patches/)")
    parser.add_argument(
        "--no-build",
        action="store_true",
        help="skip the static build and verification of the branch (the PR body says so)",
    )
    parser.add_argument("--jobs", "-j", type=int, help="parallel make jobs for the evidence build")


def run_cpython(args) -> int:
    reporter = Reporter(quiet=args.quiet)
    ctx = context(args, "upstream-cpython", reporter)
    cache, runner, log_dir = ctx.cache, ctx.runner, ctx.log_dir
    patches_dir = Path(args.patches).resolve() if args.patches else default_patches_dir()
    if patches_dir is None:
        raise CPythonPRError("no patch series found: pass --patches DIR")
    if not TEMPLATES.is_dir():
        raise CPythonPRError(
            f"the templates are not at {TEMPLATES}: this installation of cpython-static "
            "is incomplete (its package data is missing); reinstall it"
        )
    reporter.line(f"logs in {log_dir}")
    maker = BranchMaker(cache, runner, patches_dir, mirror=args.mirror, jobs=args.jobs, progress=reporter.line)
    try:
        report = maker.make(
            Path(args.repo),
            base=args.base,
            issue=args.issue,
            branch=args.branch,
            push=args.push,
            build=not args.no_build,
        )
    except _Failed as exc:
        print(f"cpython-static: error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(render_text(report))
    return EXIT_OK if report["ok"] else EXIT_FAILED


def add_nixpkgs_arguments(parser) -> None:
    parser.add_argument("--nixpkgs", required=True, metavar="PATH", help="a nixpkgs git checkout")
    parser.add_argument(
        "--patches",
        metavar="DIR",
        help="patch series directory the commit takes nixpkgs' patches from (default: the project's patches/)",
    )
    parser.add_argument("--branch", metavar="NAME", help="the branch to create (default: python3-static-modules)")
    parser.add_argument(
        "--base", default="HEAD", metavar="REF", help="the commit to build on (default HEAD; e.g. origin/master)"
    )
    parser.add_argument(
        "--push",
        metavar="REMOTE",
        help="push the new branch to REMOTE (a remote name or URL); on failure the branch is removed again",
    )


def run_nixpkgs(args) -> int:
    reporter = Reporter(quiet=args.quiet or args.json)
    ctx = context(args, "upstream-nixpkgs", reporter)
    runner, log_dir = ctx.runner, ctx.log_dir
    reporter.line(f"logs in {log_dir}")
    spec = load_spec(patches_dir=Path(args.patches).resolve() if args.patches else None)
    outcome = make_commit(
        Path(args.nixpkgs),
        runner,
        branch=args.branch,
        base=args.base,
        push=args.push,
        spec=spec,
        progress=reporter.line,
    )
    result = {
        "ok": True,
        "changed": outcome.changed,
        "branch": outcome.branch,
        "commit": outcome.commit,
        "base": outcome.base,
        "file": outcome.file,
        "added": outcome.added,
        "patches": outcome.patches,
        "message": outcome.message,
        "parse_check": outcome.parse_check,
        "author": outcome.author,
        "pushed": outcome.pushed,
        "existing": outcome.existing,
        "logs": str(log_dir),
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(outcome.message)
        if outcome.commit:
            print(f"  commit {outcome.commit} on {outcome.base[:12]}: adds {', '.join(outcome.added)}")
            for patch in outcome.patches:
                print(f"  and the patch {patch} beside {outcome.file}")
            print(f"  nix-instantiate --parse: {outcome.parse_check}")
            if outcome.pushed:
                print(f"  pushed to {outcome.pushed}")
            print(f"  review: git -C {args.nixpkgs} show {outcome.branch}")
    return 0


def register(sub, common: argparse.ArgumentParser, fetching: argparse.ArgumentParser) -> None:
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
        description=CPYTHON_DESCRIPTION,
    )
    add_cpython_arguments(uc)
    uc.set_defaults(func=run_cpython)
    un = usub.add_parser(
        "nixpkgs",
        parents=[common],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        help="a ready commit in a nixpkgs checkout",
        description=NIXPKGS_DESCRIPTION,
    )
    add_nixpkgs_arguments(un)
    un.set_defaults(func=run_nixpkgs)
