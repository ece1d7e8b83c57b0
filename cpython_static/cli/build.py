"""`cpython-static build`: build, publish and verify one interpreter (build/pipeline.py)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from cpython_static.build.patches import default_patches_dir
from cpython_static.cli.output import Reporter, context
from cpython_static.core.errors import EXIT_FAILED, EXIT_OK, UsageError
from cpython_static.core.runner import Runner, StepFailed
from cpython_static.versions import DEFAULT_VARIANT

DEFAULT_VERSION = "3.13.15"


def make_builder(args, command: str, reporter: Reporter, what: str):
    """The CPythonBuilder (and its run's log directory) the build options ask for:
    `build` and `pack` share them."""
    from cpython_static.build.cpython import CPythonBuilder, resolve_request
    from cpython_static.build.sources import Fetcher, load_lock
    from cpython_static.build.toolchain import make_toolchain
    from cpython_static.versions import get_series, get_variant

    variant = getattr(args, "variant", None) or DEFAULT_VARIANT
    if command == "pack" and not get_variant(variant).ships:
        raise UsageError(f"the {variant} build is never to ship ({get_variant(variant).summary}): pack refuses it")
    lock = load_lock()
    request = resolve_request(what, lock)
    get_series(request.version, variant)  # the series a variant is for, before anything is written
    ctx = context(args, command, reporter)
    cache, runner, log_dir = ctx.cache, ctx.runner, ctx.log_dir
    for leftover in cache.sweep():
        reporter.line(f"removed scratch directory of a process that died: {leftover}")
    reporter.line(
        f"CPython {request.version} for {args.target}"
        + (f", variant {variant} ({get_variant(variant).summary})" if variant != DEFAULT_VARIANT else "")
        + f"; logs in {log_dir}"
    )
    toolchain = make_toolchain(
        args.toolchain,
        args.target,
        cache,
        runner,
        optimize=args.optimize,
        libc_needs=get_series(request.version).libc_needs,
    )
    applied = get_series(request.version).optimize_args(toolchain.capabilities)
    reporter.line(
        f"toolchain {toolchain.name} ({toolchain.version}); optimisations: "
        + (", ".join(o.value.split("=")[0] for o in applied) or "none")
        + (f" (not the default: {toolchain.chosen_because})" if toolchain.chosen_because else "")
    )
    fetcher = Fetcher(cache, runner, mirror=args.mirror)
    patches_dir = Path(args.patches).resolve() if getattr(args, "patches", None) else default_patches_dir()
    builder = CPythonBuilder(
        cache,
        fetcher,
        lock,
        toolchain,
        runner,
        patches_dir,
        use_series=not getattr(args, "no_patches", False),
        jobs=args.jobs,
        autoconf_program=getattr(args, "autoconf", None),
        regenerate=not getattr(args, "no_regen", False),
        progress=reporter.line,
        variant=variant,
    )
    return builder, request, log_dir


def cmd_build(args) -> int:
    from cpython_static.build.pipeline import build_publish_verify

    reporter = Reporter(quiet=args.quiet)
    out = Path(args.out).resolve()
    builder, request, log_dir = make_builder(args, "build", reporter, args.what)
    runner = builder.runner
    outcome = build_publish_verify(
        builder,
        request,
        out,
        layout=args.layout,
        strip=not args.no_strip,
        check=not args.no_verify,
        progress=reporter.line,
        extensions=args.with_packages or (),
    )
    built, binary, onefile, tree = outcome.built, outcome.binary, outcome.onefile, outcome.tree
    report, duration = outcome.report, outcome.duration_s
    for lib in built.libraries:
        reporter.line(f"library {lib.recipe.name}: {'cached' if lib.reused else 'built'} ({lib.prefix})")
    reporter.line(f"interpreter: {'cached' if built.reused else 'built'} ({built.prefix})")
    if outcome.added:
        linked = outcome.added.interpreter
        reporter.line(
            f"interpreter with {', '.join(linked.modules)}: {'cached' if linked.reused else 'linked'} ({linked.binary})"
        )
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
        "variant": built.variant,  # versions.toml [variant.*]: "default", or "no-gpl" (--no-gpl)
        "modules": modules,
        "duration_s": round(duration, 1),
        "patches": built.patches,
        "libraries": {l.recipe.name: {"cached": l.reused, "key": l.key} for l in built.libraries},
        "interpreter_cached": built.reused,
        "interpreter_key": built.key,  # the interpreter's cache key (with --with: the one linked against)
        "size_bytes": binary.stat().st_size,
        "unstripped_size_bytes": built.binary.stat().st_size,
        "logs": str(log_dir),
        # The SPDX document beside the file (build/sbom.py), which verify's sbom check reads.
        "sbom": str(binary.with_name(binary.name + ".spdx.json")),
        "verify": report.to_json() if report else None,
        # build --with: the added built-in modules and the sdists (name, version, file,
        # sha256: what the build was made from), the extensions' cache entries.
        "added": outcome.added.to_json() if outcome.added else None,
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{'OK' if result['ok'] else 'FAILED'}: {binary}")
        print(
            f"  CPython {built.version} {built.target}"
            + (f" ({built.variant})" if built.variant != DEFAULT_VARIANT else "")
            + f", {len(modules)} built-in modules, "
            f"{result['size_bytes'] / 1e6:.1f} MB, {duration:.0f}s"
        )
        if outcome.added:
            for ext in outcome.added.extensions:
                print(f"  + {ext.sdist.file} (sha256 {ext.sdist.sha256}): {', '.join(m.name for m in ext.modules)}")
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


def add_variant_options(b: argparse.ArgumentParser, describe=lambda variant: variant.help) -> None:
    """One option per build variant of versions.toml (--no-gpl), its --help from the table
    (``describe``: the text, from the variant)."""
    from cpython_static.versions import get_variant, supported_variants

    for variant in map(get_variant, supported_variants()):
        if variant.flag:
            b.add_argument(
                variant.flag, dest="variant", action="store_const", const=variant.name, help=describe(variant)
            )


def add_toolchain_options(b: argparse.ArgumentParser) -> None:
    """--target, --toolchain, --optimize, --jobs and the variants (--no-gpl): how the
    interpreter is built (build, pack)."""
    from cpython_static.build.toolchain import DEFAULT_TARGET, OPTIMIZE_ENV, OPTIMIZE_LEVELS, TARGETS, TOOLCHAINS

    b.add_argument(
        "--target", default=DEFAULT_TARGET, help=f"one of: {', '.join(sorted(TARGETS))} (default {DEFAULT_TARGET})"
    )
    b.add_argument(
        "--toolchain",
        default=None,
        choices=sorted(TOOLCHAINS),
        help="C toolchain (default: gcc for this machine's architecture, zig for others)",
    )
    b.add_argument(
        "--optimize",
        choices=OPTIMIZE_LEVELS,
        default=None,
        help="full (default): every optimisation the toolchain has (gcc: PGO + LTO); quick: "
        f"none of the slow-to-build ones, for trying a change (default: ${OPTIMIZE_ENV}, else full)",
    )
    b.add_argument("--jobs", "-j", type=int, help="parallel make jobs (default: number of CPUs)")
    add_variant_options(b)


def register(sub, common: argparse.ArgumentParser, fetching: argparse.ArgumentParser) -> None:
    from cpython_static.build.toolchain import OPTIMIZE_ENV

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
        "release, and configure is regenerated with the exact autoconf the release used.\n\n"
        "Toolchains: gcc (the host's gcc with Debian's musl-tools) for this machine's own "
        "architecture, with PGO (CPython's --enable-optimizations, trained with its own "
        "PROFILE_TASK) and LTO: the fast interpreter, and the default there; zig for every "
        "target (the default for foreign ones), without PGO (zig has no profile runtime) "
        "but with the tail-calling interpreter on 3.14+.  PGO and LTO make a build long (see the "
        f"README's figures); --optimize quick (or {OPTIMIZE_ENV}=quick) leaves both out.",
    )
    b.add_argument(
        "what",
        nargs="?",
        default=DEFAULT_VERSION,
        help=f"release (3.13.15 or v3.13.15) or CPython source directory (default {DEFAULT_VERSION})",
    )
    add_toolchain_options(b)
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
    b.add_argument(
        "--with",
        dest="with_packages",
        action="append",
        metavar="PKG",
        help="compile PKG's C extensions into the interpreter as built-in modules and put its "
        "pure-Python part into the one file's archive (repeatable; a name or a requirement such "
        "as 'psutil==7.2.2'). PKG's sdist comes from the index your pip is set up with (pip "
        "download --no-binary :all: --no-deps) and is pinned by its sha256 in --json; its "
        "setup.py runs under the interpreter being built, with this toolchain. Works: setuptools "
        "sdists with C extensions (psutil, pyyaml with libyaml, markupsafe, msgpack). Refused "
        "before anything is built, saying what works instead: Rust (maturin) and non-setuptools "
        "builds; after its build: C++, or a package that fell back to pure Python. For a foreign "
        "--target, setup.py runs under the target interpreter through qemu-user. The one-file "
        "layout only; no dependencies are resolved (name each package; `pack` resolves)",
    )
    b.set_defaults(func=cmd_build)
