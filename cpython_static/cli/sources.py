"""`cpython-static sources list|fetch`: the lock, and filling the cache from it."""

from __future__ import annotations

import argparse
import json

from cpython_static.cli.output import Reporter, context
from cpython_static.core.errors import EXIT_OK, UsageError


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


def register(sub, common: argparse.ArgumentParser, fetching: argparse.ArgumentParser) -> None:
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
