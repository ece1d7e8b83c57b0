"""`cpython-static watch`: every new CPython release tag rebased, regenerated, built and
verified unattended, for cron, systemd timers and CI schedules.

One run:

1. take the watch lock (beside the state file): a second run exits 2 at once;
2. list upstream's tags without cloning (``git ls-remote --tags``) and keep the release
   tags of the supported series (pre-releases only when asked);
3. compare with the state file: a (tag, target) is done once a result is recorded for it;
   an entry still marked ``running`` belongs to a run that died (the lock says no other run
   is alive) and is retried;
4. for each new (tag, target), oldest first, at most ``--max-tags`` tags: ``rebase`` onto it
   (fidelity, classification, regeneration, static build, verify) against a *copy* of the
   series (the watcher never rewrites patches/), then run CPython's own test suite of the
   tag with the file it built (``verify --stdlib-tests``: tens of minutes; a failure not in
   stdlib_tests.toml, or a listed one that passes, fails the tag), record the result in the state file (one
   atomic replace), and regenerate the status matrix (Markdown, JSON, HTML).  A failure also
   writes a ready-to-file report: the tag, the failing step, its command and log's last lines.

Exit codes a scheduler can act on: 0 nothing new or every new tag ok; 1 a new tag failed;
2 the watcher itself could not run (lock held, upstream unreachable, bad state file).
"""

from __future__ import annotations

import datetime
import errno
import fcntl
import getpass
import hashlib
import json
import os
import re
import shutil
import socket
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from cpython_static.build.sources import Fetcher
from cpython_static.core.cache import Cache
from cpython_static.core.context import Context
from cpython_static.core.errors import UsageError
from cpython_static.core.fsutil import atomic_write
from cpython_static.core.git import git
from cpython_static.core.runner import Runner, StepFailed
from cpython_static.series import reports as status_matrix
from cpython_static.series.mirror import DEFAULT_UPSTREAM, LS_REMOTE_TIMEOUT, source_url, tag_version

EXIT_OK, EXIT_FAILED, EXIT_CANNOT_RUN = 0, 1, 2
STATE_FORMAT = 1
SCHEDULE_DIR = Path(__file__).resolve().parent / "schedule"  # package data

DESCRIPTION = """\
For each CPython release tag upstream has and the state file has no result for (oldest
first): rebase the patch series onto it, prove configure regeneration is byte-identical,
regenerate, build statically and verify -- the whole `cpython-static rebase TAG` -- then
run CPython's own test suite of the tag with the file built (`verify --stdlib-tests`,
judged against stdlib_tests.toml), and record the result.  patches/ is never rewritten
(the watcher works on a copy).

  cpython-static watch                          # the official repository, x86_64
  cpython-static watch --max-tags 1 --json      # bound one run's work
  cpython-static watch --no-stdlib-tests        # without the suite (minutes, not tens)
  cpython-static watch --plan --json            # what a run would do (for CI matrices)
  cpython-static watch --tag v3.13.15 --target aarch64-linux-musl
  cpython-static watch --write-systemd /etc/systemd/system

Safe from cron: a lock keeps runs from overlapping (the second exits 2); a tag whose run
was interrupted (kill -9 included) is retried, never recorded as done; a second run with
nothing new does nothing and says so.  After every tag the status matrix is rewritten:
RESULTS/index.md, index.json and index.html (tag x target: patch statuses, regeneration
fidelity, build, verify, stdlib tests, duration); a failure also gets RESULTS/failures/TAG-TARGET.md,
ready to file.

Exit status: 0 nothing new, or every new tag ok; 1 a new tag failed; 2 the watcher could
not run (another run holds the lock, upstream unreachable, bad state file).
"""


class WatchError(UsageError):
    """The watcher itself cannot run (exit 2): lock held, upstream unreachable, bad state."""


def empty_state(upstream: str) -> dict:
    return {"format": STATE_FORMAT, "upstream": upstream, "results": {}}


def load_state(path: Path, upstream: str) -> dict:
    """The state file, checked; a missing file is an empty state.  Anything unreadable is
    a WatchError and the file is left exactly as it is (a person looks at it)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return empty_state(upstream)
    except OSError as exc:
        raise WatchError(f"cannot read the state file {path}: {exc}") from exc
    why = None
    try:
        state = json.loads(text)
    except json.JSONDecodeError as exc:
        state, why = None, f"not JSON ({exc})"
    if why is None:
        why = _state_problem(state)
    if why:
        raise WatchError(
            f"the state file {path} is not a watch state: {why}. It was left untouched; "
            "repair it, or move it aside to start afresh (every tag is then new again)"
        )
    return state


def _state_problem(state) -> str | None:
    if not isinstance(state, dict):
        return "the top level is not an object"
    if state.get("format") != STATE_FORMAT:
        return f"format {state.get('format')!r}, expected {STATE_FORMAT}"
    results = state.get("results")
    if not isinstance(results, dict):
        return "'results' is not an object"
    for tag, by_target in results.items():
        if tag_version(tag) is None:
            return f"{tag!r} is not a release tag"
        if not isinstance(by_target, dict):
            return f"results for {tag} are not an object"
        for target, entry in by_target.items():
            if not isinstance(entry, dict) or entry.get("status") not in ("ok", "failed", "running"):
                return f"the entry for {tag} {target} has no valid status"
    return None


def save_state(path: Path, state: dict) -> None:
    """Written beside, flushed, then renamed over: a reader (or a kill -9) never sees half."""
    atomic_write(path, json.dumps(state, indent=2, sort_keys=True) + "\n")


def is_done(state: dict, tag: str, target: str) -> bool:
    entry = state["results"].get(tag, {}).get(target)
    return bool(entry) and entry["status"] in ("ok", "failed")


# ----------------------------------------------------------------------------- lock
@contextmanager
def watch_lock(state_path: Path):
    """An exclusive, non-blocking flock beside the state file, held for the whole run; the
    kernel drops it when the process dies, so a killed run never leaves it stuck."""
    lock_path = state_path.with_name(state_path.name + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fh = open(lock_path, "a+", encoding="utf-8")
    try:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            raise WatchError(
                f"another watch run holds {lock_path} ({holder}); this run did nothing. "
                "Runs never overlap: let that one finish"
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()} on {socket.gethostname()}, started {_now()}\n")
        fh.flush()
        yield lock_path
    finally:
        fh.close()


# ----------------------------------------------------------------------------- tags
def list_release_tags(source: str, runner: Runner, *, include_prereleases: bool, minimum: tuple[int, int]) -> list[str]:
    """Release tags at ``source`` (no clone: one ls-remote round trip), oldest first."""
    try:
        res = git(
            runner,
            "git ls-remote --tags",
            "ls-remote",
            "--tags",
            "--refs",
            source_url(source),
            capture=True,
            timeout=LS_REMOTE_TIMEOUT,
        )
    except StepFailed as exc:
        raise WatchError(f"cannot list the tags of {source}: {exc}") from exc
    return select_tags(res.output, include_prereleases=include_prereleases, minimum=minimum)


def select_tags(ls_remote_output: str, *, include_prereleases: bool, minimum: tuple[int, int]) -> list[str]:
    tags = set()
    for line in ls_remote_output.splitlines():
        _, _, ref = line.partition("\t")
        if not ref.startswith("refs/tags/"):
            continue
        tag = ref[len("refs/tags/") :]
        key = tag_version(tag)
        if key is None or key[:2] < minimum:
            continue
        if key[3] != 3 and not include_prereleases:  # rank 3 is a final release
            continue
        tags.add(tag)
    return sorted(tags, key=tag_version)


def minimum_series() -> tuple[int, int]:
    """The oldest series the version table describes (3.11): older ones are not ours to watch."""
    from cpython_static.versions import supported_series

    major, minor = supported_series()[0].split(".")
    return int(major), int(minor)


def plan(
    tags: list[str], state: dict, targets: list[str], *, only: list[str] | None, retry: bool, max_tags: int | None
) -> tuple[list[tuple[str, str]], list[dict]]:
    """Which (tag, target) pairs this run processes, oldest first, and what it skips (why)."""
    todo: list[tuple[str, str]] = []
    skipped: list[dict] = []
    chosen_tags: list[str] = []
    wanted = set(only or ())
    for tag in tags:
        if only is not None and tag not in wanted:
            continue
        pending = []
        for target in targets:
            entry = state["results"].get(tag, {}).get(target)
            if is_done(state, tag, target) and not (retry and (only is not None or entry["status"] == "failed")):
                skipped.append({"tag": tag, "target": target, "reason": f"already processed ({entry['status']})"})
            else:
                pending.append(target)
        if not pending:
            continue
        if max_tags is not None and len(chosen_tags) >= max_tags:
            skipped += [{"tag": tag, "target": t, "reason": f"beyond --max-tags {max_tags}: next run"} for t in pending]
            continue
        chosen_tags.append(tag)
        todo += [(tag, t) for t in pending]
    if only is not None:
        for tag in sorted(wanted - set(tags), key=lambda t: tag_version(t) or (0,)):
            skipped.append(
                {
                    "tag": tag,
                    "target": "*",
                    "reason": "upstream has no such release tag (or it is outside the watched range)",
                }
            )
    return todo, skipped


# ------------------------------------------------------------------------ one tag
class TagRun:
    """Rebase + regenerate + build + verify one (tag, target); always returns an entry."""

    def __init__(
        self,
        cache: Cache,
        runner: Runner,
        *,
        upstream: str | None,
        patches_dir: Path,
        results: Path,
        workspace: Path,
        fetcher=None,
        jobs: int | None = None,
        progress=print,
        stdlib_tests: list[str] | None = None,
    ):
        self.cache, self.runner, self.upstream = cache, runner, upstream
        self.patches_dir, self.results, self.workspace = patches_dir, results, workspace
        self.fetcher, self.jobs, self.progress = fetcher, jobs, progress
        # None: not run; []: the whole suite; names: those test files only.
        self.stdlib_tests = stdlib_tests

    def __call__(self, tag: str, target: str, entry: dict) -> dict:
        from cpython_static.build.autoconf import AutoconfError
        from cpython_static.build.patches import PatchError
        from cpython_static.build.sources import SourceError
        from cpython_static.series.mirror import MirrorError
        from cpython_static.series.rebase import RebaseError, Rebaser
        from cpython_static.versions import VersionError

        started = time.monotonic()
        series = self.workspace / f"series-{os.getpid()}"
        shutil.rmtree(series, ignore_errors=True)
        # A copy: the rebase refreshes the patches it applied, and the watcher must not.
        shutil.copytree(self.patches_dir, series)
        rebaser = Rebaser(
            self.cache,
            self.runner,
            upstream_source=self.upstream,
            patches_dir=series,
            results_dir=self.results / "rebase" / target,
            fetcher=self.fetcher,
            jobs=self.jobs,
            progress=self.progress,
            target=target,
            workspace=self.workspace / "rebase",
        )
        if rebaser.state_file.exists():  # left by a run that died (we hold the lock)
            rebaser.abort()
        report, failure = None, None
        try:
            report = rebaser.start(tag, build=True)
            if report.get("worktree"):  # stopped at a conflict: nobody is here to resolve it
                rebaser.abort()
        except StepFailed as exc:
            failure = {"step": exc.step, "message": str(exc).splitlines()[0], "log": str(exc.log)}
        except (RebaseError, MirrorError, PatchError, AutoconfError, SourceError, VersionError, OSError) as exc:
            failure = {"step": _step_of(exc), "message": str(exc).splitlines()[0]}
        finally:
            if rebaser.state_file.exists():
                rebaser.abort()
            shutil.rmtree(series, ignore_errors=True)
        entry = dict(entry)
        entry.update(finished=_now(), duration_s=round(time.monotonic() - started, 1))
        if report is not None:
            entry.update(
                patches=report["patches"],
                regen=report["regen"],
                build=report["build"],
                verify=report["verify"],
                steps=report["steps"],
                rebase_report=report.get("results"),
            )
            if not report["ok"]:
                failure = failing_step(report)
        if failure is None and report is not None and self.stdlib_tests is not None:
            entry["stdlib_tests"], failure = self._stdlib_tests(tag, report)
            entry["duration_s"] = round(time.monotonic() - started, 1)
        entry["status"] = "failed" if failure else "ok"
        entry["failure"] = failure
        return entry

    def _stdlib_tests(self, tag: str, report: dict) -> tuple[dict, dict | None]:
        """CPython's own suite of ``tag`` (its checkout's Lib/test with the series' patches)
        run by the file the rebase built and verified: (the matrix's column, a failure)."""
        from cpython_static.build.testsuite import lib_test_of
        from cpython_static.series.mirror import Mirror
        from cpython_static.verify import stdlib_tests as st

        mirror = Mirror(self.cache, self.runner, self.upstream)

        @contextmanager
        def checkout(dest: Path):
            try:
                yield mirror.add_worktree(tag, dest)
            finally:
                mirror.remove_worktree(dest)

        try:
            binary = Path(report["build"]["binary"])
            shipped = st.interpreter(self.runner, binary, "binary")
            if shipped.emulator and not self._kernel_runs(binary):
                # regrtest's workers exec sys.executable directly: without binfmt_misc for
                # the target every worker fails, which would say nothing about the file.
                why = (
                    f"not run: {report['build'].get('target', 'the target')} files run here only under "
                    f"{shipped.emulator[0]}, and regrtest's workers need the kernel to run them "
                    "(register qemu with binfmt_misc)"
                )
                self.progress(f"{tag}: CPython's own test suite {why}")
                return {"skipped": True, "why": why}, None
            self.progress(
                f"{tag}: CPython's own test suite ({'all of it' if not self.stdlib_tests else ', '.join(self.stdlib_tests)})"
            )
            tests_dir = lib_test_of(
                self.cache, self.runner, shipped.version, self.patches_dir, f"{tag}@{mirror.fetch(tag)}", checkout
            )
            got = st.run_stdlib_tests(
                self.runner,
                self.cache.scratch("stdlib-tests"),
                shipped,
                tests_dir,
                tests=self.stdlib_tests,
                jobs=self.jobs or 2,
                progress=self.progress,
            )
        except StepFailed as exc:
            return {"ok": False, "error": str(exc).splitlines()[0]}, {
                "step": "stdlib tests",
                "message": str(exc).splitlines()[0],
                "log": str(exc.log),
            }
        except (OSError, UsageError, ValueError) as exc:
            return {"ok": False, "error": str(exc)}, {"step": "stdlib tests", "message": str(exc).splitlines()[0]}
        v = got.verdict
        column = {
            "ok": got.ok,
            "tests": self.stdlib_tests or "all",
            "ran": len(got.result.ran),
            "failed": len(got.result.failed),
            "expected_by_kind": v.counts(),
            "unexpected": v.unexpected,
            "stale": v.stale,
            "not_run": [n.test for n in got.plan.not_run],
            "duration_s": got.duration_s,
            "log": str(got.runs[0].log) if got.runs else None,
            "summary": got.summary(),
        }
        if got.ok:
            return column, None
        said = [f"{len(v.unexpected)} unexpected ({', '.join(v.unexpected)})"] if v.unexpected else []
        said += [f"{len(v.stale)} stale ({', '.join(v.stale)})"] if v.stale else []
        return column, {
            "step": "stdlib tests",
            "message": f"CPython's own test suite: {'; '.join(said)} beside stdlib_tests.toml [{shipped.series}]",
            "log": column["log"],
        }

    def _kernel_runs(self, binary: Path) -> bool:
        try:
            res = self.runner.run("stdlib tests: can the kernel run it", [str(binary), "-I", "-c", "pass"], check=False)
        except StepFailed:  # Exec format error
            return False
        return res.returncode == 0


def failing_step(report: dict) -> dict:
    """The first step of a failed rebase report, with its command's log when there is one."""
    regen = report.get("regen") or {}
    for p in report["patches"]:
        if p["status"] == "conflict":
            return {
                "step": f"apply {p['name']}",
                "message": f"{p['name']} conflicts: {p['detail']}. "
                f"Resolve it by hand with `cpython-static rebase {report['tag']}`",
            }
    if regen and not regen.get("fidelity"):
        return {
            "step": "fidelity",
            "message": f"regenerating pristine {report['tag']} with autoconf "
            f"{regen.get('autoconf')} differs from the shipped files: {regen.get('detail')}",
        }
    build, verify = report.get("build") or {}, report.get("verify") or {}
    if build.get("ok") is False:
        return {"step": "build", "message": build.get("error", "the build failed"), "log": build.get("log")}
    if verify.get("ok") is False:
        failed = ", ".join(verify.get("failed") or []) or verify.get("error", "")
        return {
            "step": "verify",
            "message": f"verify failed: {failed}",
            "command": f"cpython-static verify {build.get('binary', 'BINARY')}",
        }
    return {"step": "rebase", "message": report.get("message") or "the rebase did not complete"}


def _step_of(exc: Exception) -> str:
    name = type(exc).__name__
    return {
        "MirrorError": "fetch",
        "AutoconfError": "regenerate",
        "PatchError": "series",
        "SourceError": "sources",
        "VersionError": "version table",
    }.get(name, "rebase")


# -------------------------------------------------------------------------- the run
def run_watch(
    args, reporter, state_path: Path, results: Path, targets: list[str], ctx: Context | None, patches_dir: Path | None
) -> int:
    """One watcher run as the options ``args`` (cli/watch.py) ask: merge, plan, or process
    the new tags; ``reporter.line`` shows progress, ``ctx`` (None only for --merge) gives
    the cache, the runner and the log directory."""
    upstream = args.upstream or DEFAULT_UPSTREAM
    if args.merge:
        return _merge(args, state_path, results, upstream)
    runner, log_dir = ctx.runner, ctx.log_dir
    if patches_dir is None:
        raise WatchError("no patch series found beside the package (patches/)")
    if args.plan:
        state = load_state(state_path, upstream)
        todo, skipped, _ = _todo(args, runner, state, upstream, targets)
        out = {"plan": [{"tag": t, "target": g} for t, g in todo], "skipped": skipped, "processed": []}
        _emit(args, out, "\n".join(f"would process {t} for {g}" for t, g in todo) or "nothing new")
        return EXIT_OK
    with watch_lock(state_path):
        state = load_state(state_path, upstream)
        reporter.line(f"logs in {log_dir}")
        todo, skipped, tags = _todo(args, runner, state, upstream, targets)
        tag_run = _tag_run(args, ctx, reporter, state_path, results, patches_dir)
        processed, failures = [], []
        for tag, target in todo:
            processed.append(
                _process(tag_run, reporter, state, state_path, results, upstream, patches_dir, tag, target, failures)
            )
        pages = status_matrix.write(results, state)
    out = {
        "processed": processed,
        "skipped": skipped,
        "failures": failures,
        "state": str(state_path),
        "matrix": pages,
        "upstream": upstream,
        "logs": str(log_dir),
    }
    if not processed:
        out["message"] = "nothing new: every release tag in range already has a result"
    _emit(args, out, _summary(processed, skipped, failures, pages, upstream, len(tags)))
    return EXIT_OK if all(p["ok"] for p in processed) else EXIT_FAILED


def _merge(args, state_path: Path, results: Path, upstream: str) -> int:
    with watch_lock(state_path):
        state = load_state(state_path, upstream)
        merged = merge_states(state, [Path(p) for p in args.merge], results)
        save_state(state_path, state)
        pages = status_matrix.write(results, state)
    _emit(
        args,
        {"merged": merged, "state": str(state_path), "matrix": pages, "processed": [], "skipped": []},
        f"merged {len(merged)} result(s) into {state_path}; matrix: {pages[0]}",
    )
    return EXIT_OK


def _todo(args, runner: Runner, state: dict, upstream: str, targets: list[str]):
    """(the (tag, target) pairs to process, the skipped ones, every release tag in range)."""
    tags = list_release_tags(upstream, runner, include_prereleases=args.include_prereleases, minimum=minimum_series())
    todo, skipped = plan(tags, state, targets, only=args.tag, retry=args.retry, max_tags=args.max_tags)
    return todo, skipped, tags


def _tag_run(args, ctx: Context, reporter, state_path: Path, results: Path, patches_dir: Path) -> TagRun:
    cache, runner = ctx.cache, ctx.runner
    # Per state file: two watchers with different state files never share a worktree.
    key = hashlib.sha256(str(state_path).encode()).hexdigest()[:12]
    workspace = cache.root / "watch" / key
    workspace.mkdir(parents=True, exist_ok=True)
    return TagRun(
        cache,
        runner,
        upstream=args.upstream,
        patches_dir=patches_dir,
        results=results,
        workspace=workspace,
        fetcher=Fetcher(cache, runner, mirror=args.mirror),
        jobs=args.jobs,
        progress=reporter.line,
        stdlib_tests=None if args.no_stdlib_tests else list(args.stdlib_test or []),
    )


def _process(
    tag_run: TagRun,
    reporter,
    state: dict,
    state_path: Path,
    results: Path,
    upstream: str,
    patches_dir: Path,
    tag: str,
    target: str,
    failures: list[str],
) -> dict:
    """One (tag, target): recorded as running first, then its result, state saved each time."""
    previous = state["results"].get(tag, {}).get(target)
    if previous and previous["status"] == "running":
        reporter.line(f"{tag} {target}: retrying (a run started {previous.get('started')} did not finish)")
    entry = {
        "status": "running",
        "started": _now(),
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "series": series_digest(patches_dir),
    }
    state["results"].setdefault(tag, {})[target] = entry
    save_state(state_path, state)
    reporter.line(f"{tag} {target}: rebase, regenerate, build, verify")
    # Interrupted here (Ctrl-C, SIGTERM, kill -9), the entry stays "running": the next run
    # retries this tag, and nothing is recorded as done.
    entry = tag_run(tag, target, entry)
    if entry["status"] == "failed":
        report = status_matrix.write_failure(results, tag, target, entry)
        entry["failure"]["report"] = str(report)
        failures.append(str(report))
    state["results"][tag][target] = entry
    state["upstream"] = upstream
    save_state(state_path, state)
    status_matrix.write(results, state)
    reporter.line(
        f"{tag} {target}: {entry['status']} ({entry['duration_s']} s)"
        + (f", failed at {entry['failure']['step']}" if entry["failure"] else "")
    )
    return {
        "tag": tag,
        "target": target,
        "ok": entry["status"] == "ok",
        "duration_s": entry["duration_s"],
        "failed_step": (entry["failure"] or {}).get("step"),
    }


def _summary(
    processed: list[dict], skipped: list[dict], failures: list[str], pages: list[str], upstream: str, in_range: int
) -> str:
    if not processed:
        return f"nothing new at {upstream} ({in_range} release tags in range, all processed)"
    human = "\n".join(
        f"{p['tag']} {p['target']}: {'ok' if p['ok'] else 'FAILED at ' + p['failed_step']} ({p['duration_s']} s)"
        for p in processed
    )
    human += f"\nmatrix: {pages[0]}" + "".join(f"\nfailure report: {f}" for f in failures)
    waiting = sum(s["reason"].startswith("beyond") for s in skipped)
    if waiting:
        human += f"\n{waiting} more wait for the next run (--max-tags)"
    return human


def merge_states(state: dict, others: list[Path], results: Path) -> list[dict]:
    """Finished entries of other state files (CI matrix jobs) into ``state``; an entry
    newer than ours (by finish time) wins; "running" entries are not results.  A failure
    report found beside another state file is copied under ``results``."""
    merged = []
    for path in others:
        other = load_state(path, state.get("upstream", DEFAULT_UPSTREAM))
        for tag, by_target in other["results"].items():
            for target, entry in by_target.items():
                if entry["status"] == "running":
                    continue
                mine = state["results"].get(tag, {}).get(target)
                if mine and mine["status"] != "running" and mine.get("finished", "") >= entry.get("finished", ""):
                    continue
                report = path.parent / "failures" / f"{tag}-{target}.md"
                if entry.get("failure") and report.is_file():
                    copy = results / "failures" / report.name
                    copy.parent.mkdir(parents=True, exist_ok=True)
                    if copy.resolve() != report.resolve():
                        shutil.copyfile(report, copy)
                    entry["failure"]["report"] = str(copy)
                state["results"].setdefault(tag, {})[target] = entry
                merged.append({"tag": tag, "target": target, "status": entry["status"], "from": str(path)})
    return merged


def series_digest(patches_dir: Path) -> str:
    """Which series a result was obtained with (the state says so beside the result)."""
    h = hashlib.sha256()
    for path in sorted(patches_dir.iterdir()):
        if path.is_file():
            h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


# ------------------------------------------------------------------------- systemd
def write_systemd(dest: Path, args, state_path: Path, results: Path) -> list[Path]:
    """The service and timer from cpython_static/schedule/, filled with this machine's
    paths; written beside, then renamed into ``dest``."""
    exe = shutil.which("cpython-static")
    command = [exe] if exe else [sys.executable, "-m", "cpython_static"]
    extra = []
    if args.upstream:
        extra += ["--upstream", args.upstream]
    for t in args.target or []:
        extra += ["--target", t]
    if args.max_tags:
        extra += ["--max-tags", str(args.max_tags)]
    if args.include_prereleases:
        extra.append("--include-prereleases")
    if getattr(args, "no_stdlib_tests", False):
        extra.append("--no-stdlib-tests")
    for t in getattr(args, "stdlib_test", None) or []:
        extra += ["--stdlib-test", t]
    values = {
        "EXEC": " ".join(_systemd_quote(a) for a in command),
        "ARGS": " ".join(_systemd_quote(a) for a in extra),
        "STATE": _systemd_quote(str(state_path)),
        "RESULTS": _systemd_quote(str(results)),
        "CACHE": _systemd_quote(str(Path(args.cache).resolve() if args.cache else Cache().root)),
        "USER": _systemd_quote(getpass.getuser()),
    }
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for template in sorted(SCHEDULE_DIR.glob("cpython-static-watch.*")):
        text = template.read_text(encoding="utf-8")
        for name, value in values.items():
            text = text.replace(f" @{name}@\n", f" {value}\n" if value else "\n").replace(f"@{name}@", value)
        if re.search(r"@[A-Z]+@", text):
            raise WatchError(f"{template} has a placeholder this version does not fill")
        written.append(atomic_write(dest / template.name, text))
    return written


def _systemd_quote(word: str) -> str:
    # systemd's ExecStart= splits on whitespace and honours C-style double quotes; % starts a
    # specifier and must be doubled.
    word = word.replace("%", "%%")
    if re.fullmatch(r"[A-Za-z0-9_@%+=:,./-]+", word):
        return word
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'


# -------------------------------------------------------------------------- helpers
def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def _emit(args, obj: dict, human: str) -> None:
    print(json.dumps(obj, indent=2) if args.json else human)


# Diagnostics, not the compiler command lines that merely carry -Werror=… flags.
