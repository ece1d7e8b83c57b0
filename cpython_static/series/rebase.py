"""`cpython-static rebase TAG`: carry the patch series onto a CPython release.

Steps, each timed and reported:

1. fetch TAG (and, when a three-way merge needs it, a patch's Base tag) into the cache's
   git mirror of upstream; check TAG out in a fresh worktree;
2. fidelity: regenerate the *pristine* TAG's configure and pyconfig.h.in with the exact
   autoconf its configure names and compare byte for byte (refuse to go on when they
   differ, unless ``allow_regen_drift``);
3. apply the series in order, classifying each patch (see STATUSES): GNU patch with no
   fuzz, then the reverse (already upstream?), then with fuzz, then a three-way merge of
   the patch applied to its own Base onto TAG (``git cherry-pick``).  A conflict stops
   the rebase with the worktree holding conflict markers; ``--continue`` picks up after
   the user resolved them, ``--abort`` drops it all;
4. regenerate configure when an applied patch changed its inputs;
5. build the tree statically and ``verify`` it (``build=False`` skips both);
6. only when every step succeeded: write the refreshed patches back (hunks from the
   worktree's commits, unidiff-normalised, headers kept, Last-Update and Base updated),
   replacing ``patches/`` in one directory swap, so it is never half-updated.

The report (JSON, and a Markdown table under the results directory) names every patch's
status, the regeneration's fidelity, the build and the verification, with durations.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from unidiff import PatchSet

from cpython_static.build import autoconf, patches
from cpython_static.core.cache import Cache
from cpython_static.core.errors import UsageError
from cpython_static.core.fsutil import StepTimer, atomic_write, swap_dir
from cpython_static.core.git import WORKTREE_IDENTITY_ENV, git
from cpython_static.core.runner import Runner, StepFailed
from cpython_static.versions import Release, get_series, parse_release

# What each status means (the report's legend).
STATUSES = {
    "clean": "applies exactly where it was",
    "offset": "applies with its context moved by some lines",
    "fuzz": "applies only by ignoring context lines (how many: the detail), or by a three-way merge against its Base",
    "upstream": "TAG already has the change: the patch applies in reverse",
    "superseded": "TAG builds and verifies without it",
    "not-applicable": "TAG is outside the patch's Python-Versions",
    "conflict": "neither applies nor merges: resolve in the worktree, then --continue (or --abort)",
}
# Statuses whose patch is part of the rebased tree (and so refreshed and written back).
APPLIED = {"clean", "offset", "fuzz", "conflict"}

_HUNK = re.compile(r"Hunk #\d+ succeeded at \d+(?: with fuzz (?P<fuzz>\d+))?(?: \(offset (?P<offset>-?\d+) lines?\))?")
MAX_FUZZ = 2  # GNU patch's default; more would let a hunk land on unrelated lines


class RebaseError(UsageError):
    """The rebase cannot start or go on (bad tag, nothing to continue, ...)."""


@dataclass
class PatchOutcome:
    name: str
    status: str
    detail: str = ""
    commit: str | None = None
    duration_s: float = 0.0


@dataclass
class State:
    """Everything --continue needs, kept beside the worktree."""

    tag: str
    version: str
    upstream: str | None
    patches_dir: str
    worktree: str
    build: bool
    allow_regen_drift: bool
    check_superseded: list[str] = field(default_factory=list)
    outcomes: list[dict] = field(default_factory=list)
    steps: dict[str, float] = field(default_factory=dict)
    regen: dict = field(default_factory=dict)
    conflict: str | None = None


class Rebaser:
    def __init__(
        self,
        cache: Cache,
        runner: Runner,
        *,
        upstream_source: str | None = None,
        patches_dir: Path,
        results_dir: Path,
        fetcher=None,
        lock=None,
        jobs: int | None = None,
        progress=lambda msg: None,
        target: str | None = None,
        workspace: Path | None = None,
    ):
        self.cache, self.runner = cache, runner
        self.upstream_source = upstream_source
        self.patches_dir = Path(patches_dir).resolve()
        self.results_dir = Path(results_dir)
        self.fetcher, self.lock, self.jobs = fetcher, lock, jobs
        self.progress = progress
        self.target = target
        # One rebase at a time per workspace: `rebase` uses the cache's, `watch` its own.
        self.workspace = Path(workspace) if workspace else cache.root / "rebase"
        self.state_file = self.workspace / "state.json"

    # ------------------------------------------------------------------ entry points
    def start(
        self, tag: str, *, build: bool = True, allow_regen_drift: bool = False, check_superseded: list[str] = ()
    ) -> dict:
        release = Release.lenient(tag, tag=True)
        if release is None or not release.exact:
            raise RebaseError(f"{tag!r} is not a CPython release tag (like v3.13.15 or v3.14.0rc1)")
        if self.state_file.exists():
            st = self._load()
            raise RebaseError(
                f"a rebase onto {st.tag} is in progress (worktree {st.worktree}): "
                "finish it with `cpython-static rebase --continue` or drop it with "
                "`cpython-static rebase --abort`"
            )
        series = patches.load_series(self.patches_dir)  # refuse a broken series before any work
        unknown = sorted(set(check_superseded) - {p.name for p in series})
        if unknown:
            raise RebaseError(f"--check-superseded names no patch of the series: {', '.join(unknown)}")
        version = parse_release(tag)
        worktree = self.workspace / f"worktree-{tag}"
        shutil.rmtree(worktree, ignore_errors=True)
        st = State(
            tag,
            version,
            self.upstream_source,
            str(self.patches_dir),
            str(worktree),
            build,
            allow_regen_drift,
            list(check_superseded),
        )
        upstream = self._upstream()
        with self._step(st, "fetch"):
            upstream.fetch(tag)
        with self._step(st, "worktree"):
            self.workspace.mkdir(parents=True, exist_ok=True)
            upstream.add_worktree(tag, worktree)
        self._save(st)
        try:
            with self._step(st, "fidelity"):
                st.regen = self._fidelity(worktree)
            if not st.regen["fidelity"] and not allow_regen_drift:
                return self._finish(
                    st,
                    ok=False,
                    why=(
                        f"regenerating pristine {tag} with autoconf {st.regen['autoconf']} does not "
                        f"reproduce its shipped files ({st.regen['detail']}); refusing to trust a "
                        "regenerated configure (--allow-regen-drift to go on anyway)"
                    ),
                )
            return self._apply_from(st, series, 0)
        except BaseException:
            if self.state_file.exists() and self._load().conflict is None:
                self._cleanup(st)
            raise

    def resume(self) -> dict:
        if not self.state_file.exists():
            raise RebaseError("no rebase in progress (nothing to --continue)")
        st = self._load()
        self.patches_dir = Path(st.patches_dir)
        worktree = Path(st.worktree)
        if st.conflict is None:
            raise RebaseError(f"the rebase onto {st.tag} is not stopped at a conflict")
        unresolved = self._conflicted_files(worktree)
        if unresolved:
            raise RebaseError(
                f"conflict markers remain in {', '.join(unresolved)} (in {worktree}); "
                "resolve them, then run --continue again"
            )
        series = patches.load_series(self.patches_dir)
        names = [p.name for p in series]
        index = names.index(st.conflict)
        started = time.monotonic()
        self._git(worktree, "add", "-A")
        self._git(worktree, "commit", "-q", "--no-verify", "-m", st.conflict)
        outcome = PatchOutcome(
            st.conflict,
            "conflict",
            "resolved by hand, then --continue",
            self._head(worktree),
            round(time.monotonic() - started, 2),
        )
        st.outcomes[-1] = asdict(outcome)
        st.conflict = None
        self._save(st)
        return self._apply_from(st, series, index + 1)

    def abort(self) -> str:
        if not self.state_file.exists():
            raise RebaseError("no rebase in progress (nothing to --abort)")
        st = self._load()
        self._cleanup(st)
        return st.tag

    # ------------------------------------------------------------------- the series
    def _apply_from(self, st: State, series: list, first: int) -> dict:
        worktree = Path(st.worktree)
        for patch in series[first:]:
            started = time.monotonic()
            outcome = self.apply_patch(patch, worktree, version=st.version, tag=st.tag)
            outcome.duration_s = round(time.monotonic() - started, 2)
            st.outcomes.append(asdict(outcome))
            st.steps[f"apply {patch.name}"] = outcome.duration_s
            self.progress(f"{patch.name}: {outcome.status}{' (' + outcome.detail + ')' if outcome.detail else ''}")
            if outcome.status == "conflict":
                st.conflict = patch.name
                self._save(st)
                return self._report(
                    st,
                    ok=False,
                    why=(
                        f"{patch.name} conflicts with {st.tag}. Resolve the conflict markers in "
                        f"{worktree} ({', '.join(self._conflicted_files(worktree)) or 'see git status'}), "
                        "then run `cpython-static rebase --continue`; or `cpython-static rebase --abort` "
                        "to drop this rebase (patches/ is untouched either way until the rebase completes)"
                    ),
                )
            self._save(st)
        applied = [o for o in st.outcomes if o["status"] in APPLIED]
        if any(p.changes_configure_inputs for p in series if p.name in {o["name"] for o in applied}):
            with self._step(st, "regenerate"):
                choice = self._autoconf_choice(worktree)
                autoconf.regenerate(worktree, self.runner, autoconf=choice.program)
                self._git(worktree, "add", "-A")
                self._git(
                    worktree,
                    "commit",
                    "-q",
                    "--no-verify",
                    "--allow-empty",
                    "-m",
                    "regenerate configure (not part of the series)",
                )
            st.regen["regenerated"] = True
        else:
            st.regen["regenerated"] = False
        build = verify = {"ok": None, "skipped": True}
        if st.build:
            build, verify = self._build_and_verify(st, worktree)
            if not (build["ok"] and verify["ok"]):
                return self._finish(
                    st,
                    ok=False,
                    build=build,
                    verify=verify,
                    why="the rebased tree did not build and verify; patches/ is unchanged",
                )
        for name in st.check_superseded:
            self._check_superseded(st, series, name)
        with self._step(st, "write patches"):
            written = self._write_back(st, series)
        return self._finish(st, ok=True, build=build, verify=verify, written=written)

    def apply_patch(self, patch, worktree: Path, *, version: str, tag: str) -> PatchOutcome:
        """Apply ``patch`` to the git checkout ``worktree`` of CPython ``version`` (release
        ``tag``), committing it when it applies, and classify it (see STATUSES)."""
        if not patch.applies_to(version):
            outside = f"{version} is outside Python-Versions {patch.versions}"
            # Applied-Upstream names the release with the change: prove it is there.
            if patch.upstream_has_it(version):
                if self._dry_run(patch, worktree, fuzz=0, reverse=True)[0]:
                    return PatchOutcome(
                        patch.name,
                        "upstream",
                        f"{tag} already has the change (it applies in reverse; Applied-Upstream: {patch.fixed_in})",
                    )
                outside += f"; upstream has it since {patch.fixed_in}, in another form (it does not apply in reverse)"
            return PatchOutcome(patch.name, "not-applicable", outside)
        ok, fuzz, offset = self._dry_run(patch, worktree, fuzz=0)
        if ok:
            self._patch(patch, worktree, fuzz=0)
            status = "offset" if offset else "clean"
            return PatchOutcome(patch.name, status, f"{offset} lines" if offset else "", self._commit(worktree, patch))
        if self._dry_run(patch, worktree, fuzz=0, reverse=True)[0]:
            return PatchOutcome(patch.name, "upstream", f"{tag} already has the change (it applies in reverse)")
        ok, fuzz, offset = self._dry_run(patch, worktree, fuzz=MAX_FUZZ)
        if ok:
            self._patch(patch, worktree, fuzz=MAX_FUZZ)
            detail = f"fuzz {fuzz}" + (f", offset {offset} lines" if offset else "")
            return PatchOutcome(patch.name, "fuzz", detail, self._commit(worktree, patch))
        return self._three_way(patch, worktree)

    def _three_way(self, patch, worktree: Path) -> PatchOutcome:
        """The patch applied to its own Base, then that commit cherry-picked onto TAG:
        git's three-way merge sees both sides' changes, not just the patch's context."""
        upstream = self._upstream()
        base_tree = self.workspace / f"base-{patch.base}"
        shutil.rmtree(base_tree, ignore_errors=True)
        try:
            upstream.fetch(patch.base)
            upstream.add_worktree(patch.base, base_tree)
            if not self._dry_run(patch, base_tree, fuzz=0)[0]:
                return PatchOutcome(
                    patch.name, "conflict", f"does not even apply to its own Base {patch.base}; no merge possible"
                )
            self._patch(patch, base_tree, fuzz=0)
            picked = self._commit(base_tree, patch)
        finally:
            if base_tree.exists():
                upstream.remove_worktree(base_tree)
        res = self._git(
            worktree,
            "cherry-pick",
            "--no-rerere-autoupdate",
            picked,
            capture=True,
            check=False,
            step=f"cherry-pick {patch.name}",
        )
        if res.returncode == 0:
            return PatchOutcome(patch.name, "fuzz", f"three-way merge against {patch.base}", self._head(worktree))
        return PatchOutcome(patch.name, "conflict", f"three-way merge against {patch.base} conflicts")

    # ----------------------------------------------------------------- GNU patch, git
    def _dry_run(self, patch, tree: Path, *, fuzz: int, reverse: bool = False) -> tuple[bool, int, int]:
        what = f"{'reverse ' if reverse else ''}dry run {patch.name} (fuzz {fuzz})"
        res = patches.gnu_patch(
            self.runner,
            patch.path,
            tree,
            step=what,
            fuzz=fuzz,
            reverse=reverse,
            dry_run=True,
            capture=True,
            check=False,
        )
        if res.returncode != 0:
            return False, 0, 0
        fuzzes, offsets = [0], [0]
        for m in _HUNK.finditer(res.output):
            fuzzes.append(int(m["fuzz"] or 0))
            offsets.append(abs(int(m["offset"] or 0)))
        return True, max(fuzzes), max(offsets)

    def _patch(self, patch, tree: Path, *, fuzz: int) -> None:
        patches.gnu_patch(self.runner, patch.path, tree, step=f"apply {patch.name}", fuzz=fuzz)

    def _git(self, tree: Path, *args: str, capture: bool = False, check: bool = True, step: str | None = None):
        return git(self.runner, step, *args, cwd=tree, env=WORKTREE_IDENTITY_ENV, capture=capture, check=check)

    def _head(self, tree: Path) -> str:
        return self._git(tree, "rev-parse", "HEAD", capture=True).output.strip()

    def _commit(self, tree: Path, patch) -> str:
        self._git(tree, "add", "-A")
        self._git(tree, "commit", "-q", "--no-verify", "--allow-empty", "-m", patch.name)
        return self._head(tree)

    def _conflicted_files(self, tree: Path) -> list[str]:
        """Files git still calls unmerged whose text has conflict markers, plus any
        other changed file that does (a user may `git add` too early)."""
        out = self._git(tree, "diff", "--name-only", "HEAD", capture=True).output.split()
        out += self._git(tree, "diff", "--name-only", "--diff-filter=U", capture=True).output.split()
        bad = []
        for name in dict.fromkeys(out):
            path = tree / name
            if path.is_file() and re.search(rb"^(<<<<<<<|>>>>>>>) ", path.read_bytes(), re.M):
                bad.append(name)
        return bad

    # -------------------------------------------------------------------- regenerate
    def _autoconf_choice(self, tree: Path):
        from cpython_static.build.autoconf import autoconf_for

        return autoconf_for(tree, self.cache, self._fetcher(), self._lock(), self.runner, progress=self.progress)

    def _fidelity(self, tree: Path) -> dict:
        return check_fidelity(tree, self.cache, self._fetcher(), self._lock(), self.runner, progress=self.progress)

    # ------------------------------------------------------------------ build, verify
    def _build_and_verify(
        self, st: State, worktree: Path, label: str = "", without: str | None = None
    ) -> tuple[dict, dict]:
        applied = tuple(o["name"] for o in st.outcomes if o["status"] in APPLIED and o["name"] != without)
        return build_and_verify(
            worktree,
            st.version,
            self.cache,
            self._fetcher(),
            self._lock(),
            self.runner,
            applied=applied,
            target=self.target,
            jobs=self.jobs,
            progress=self.progress,
            steps=st.steps,
            label=label,
        )

    def _check_superseded(self, st: State, series: list, name: str) -> None:
        """Proof by building: revert the patch's commit, rebuild and verify; if TAG is
        fine without it, it is superseded (and is not written back: drop it from the
        series).  The worktree returns to the full series afterwards."""
        outcome = next(o for o in st.outcomes if o["name"] == name)
        if outcome["status"] not in APPLIED or not outcome["commit"]:
            return
        worktree = Path(st.worktree)
        patch = next(p for p in series if p.name == name)
        head = self._head(worktree)
        started = time.monotonic()
        try:
            res = self._git(
                worktree,
                "revert",
                "--no-edit",
                outcome["commit"],
                capture=True,
                check=False,
                step=f"revert {name}",
            )
            if res.returncode != 0:
                outcome["detail"] += "; cannot be reverted alone (later patches build on it)"
                return
            if patch.changes_configure_inputs:
                autoconf.regenerate(worktree, self.runner, autoconf=self._autoconf_choice(worktree).program)
            build, verify = self._build_and_verify(st, worktree, label=f"without {name}", without=name)
        finally:
            self._git(worktree, "reset", "-q", "--hard", head)
            self._git(worktree, "clean", "-q", "-fdx")
        seconds = round(time.monotonic() - started, 1)
        if build["ok"] and verify["ok"]:
            outcome["status"] = "superseded"
            outcome["detail"] = f"{st.tag} builds and verifies without it ({seconds} s)"
        else:
            why = (
                build.get("error") or f"verify failed: {', '.join(verify.get('failed') or [verify.get('error', '?')])}"
            )
            outcome["detail"] = (
                outcome["detail"] + "; " if outcome["detail"] else ""
            ) + f"still needed: without it, {why}"

    # ------------------------------------------------------------------- write back
    def _write_back(self, st: State, series: list) -> list[str]:
        """Every applied patch regenerated from its commit in the worktree; all of
        patches/ replaced at once (a copy is written and checked, then swapped in)."""
        worktree = Path(st.worktree)
        by_name = {o["name"]: o for o in st.outcomes}
        today = datetime.date.today().isoformat()
        new_dir = self.patches_dir.with_name(f".{self.patches_dir.name}.rebase-{os.getpid()}")
        shutil.rmtree(new_dir, ignore_errors=True)
        shutil.copytree(self.patches_dir, new_dir, symlinks=True)
        written = []
        try:
            for patch in series:
                outcome = by_name.get(patch.name)
                if outcome is None or outcome["status"] not in APPLIED or not outcome["commit"]:
                    continue
                diff = self._refreshed_diff(worktree, outcome["commit"], _context_lines(patch.diff))
                text = patch.path.read_text(encoding="utf-8")
                header = text[: text.index(patch.diff)] if patch.diff in text else ""
                header = _set_field(_set_field(header, "Last-Update", today), "Base", st.tag)
                (new_dir / patch.name).write_text(header + diff, encoding="utf-8")
                written.append(patch.name)
            patches.load_series(new_dir)  # what goes back must load
            swap_dir(new_dir, self.patches_dir)
        finally:
            shutil.rmtree(new_dir, ignore_errors=True)
        return written

    def _refreshed_diff(self, worktree: Path, commit: str, context: int) -> str:
        raw = self._git(
            worktree,
            "-c",
            "core.quotepath=off",
            "diff",
            "--no-color",
            "--no-ext-diff",
            "--no-renames",
            f"-U{context}",
            "--src-prefix=a/",
            "--dst-prefix=b/",
            f"{commit}^",
            commit,
            capture=True,
        ).output
        return normalize_diff(raw)

    # ----------------------------------------------------------------- bookkeeping
    def _finish(
        self, st: State, *, ok: bool, why: str = "", build=None, verify=None, written: list[str] | None = None
    ) -> dict:
        report = self._report(st, ok=ok, why=why, build=build, verify=verify, written=written)
        self._cleanup(st)
        return report

    def _report(
        self, st: State, *, ok: bool, why: str = "", build=None, verify=None, written: list[str] | None = None
    ) -> dict:
        report = {
            "tag": st.tag,
            "version": st.version,
            "ok": ok,
            "message": why,
            "patches": [{k: o[k] for k in ("name", "status", "detail", "duration_s")} for o in st.outcomes],
            "regen": st.regen,
            "build": build or {"ok": None, "skipped": not st.build},
            "verify": verify or {"ok": None, "skipped": not st.build},
            "written": written or [],
            "worktree": st.worktree if st.conflict else None,
            "steps": st.steps,
            "upstream": st.upstream or "default",
        }
        self.results_dir.mkdir(parents=True, exist_ok=True)
        as_json, as_md = self.results_dir / f"{st.tag}.json", self.results_dir / f"{st.tag}.md"
        as_json.write_text(json.dumps(report, indent=2) + "\n")
        as_md.write_text(render_markdown(report))
        report["results"] = [str(as_json), str(as_md)]
        return report

    def _cleanup(self, st: State) -> None:
        worktree = Path(st.worktree)
        if worktree.exists():
            try:
                self._upstream().remove_worktree(worktree)
            except Exception:  # the directory goes regardless; the mirror prunes it later
                shutil.rmtree(worktree, ignore_errors=True)
        self.state_file.unlink(missing_ok=True)

    def _step(self, st: State, name: str):
        return StepTimer(st.steps, progress=self.progress)(name)

    def _save(self, st: State) -> None:
        atomic_write(self.state_file, json.dumps(asdict(st), indent=2))

    def _load(self) -> State:
        return State(**json.loads(self.state_file.read_text()))

    def _upstream(self):
        from cpython_static.series.mirror import Mirror

        return Mirror(self.cache, self.runner, self.upstream_source)

    def _fetcher(self):
        if self.fetcher is None:
            from cpython_static.build.sources import Fetcher

            self.fetcher = Fetcher(self.cache, self.runner)
        return self.fetcher

    def _lock(self):
        if self.lock is None:
            from cpython_static.build.sources import load_lock

            self.lock = load_lock()
        return self.lock


# ------------------------------------------------- shared with `upstream` and `watch`
def check_fidelity(tree: Path, cache: Cache, fetcher, lock, runner: Runner, *, progress=lambda msg: None) -> dict:
    """Whether the exact autoconf ``tree``'s configure names (the system's, or one built
    from the lock) regenerates the *unmodified* ``tree``'s configure and pyconfig.h.in
    byte for byte.  Works on a copy of the inputs; ``tree`` is not touched."""
    from cpython_static.build.autoconf import autoconf_for, fidelity

    choice = autoconf_for(tree, cache, fetcher, lock, runner, progress=progress)
    scratch = cache.scratch("fidelity")
    try:
        result = fidelity(tree, choice, runner, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return {
        "autoconf": choice.version,
        "origin": choice.origin,
        "fidelity": result.ok,
        "configure_identical": result.configure_identical,
        "pyconfig_identical": result.pyconfig_identical,
        "detail": result.detail,
    }


def build_and_verify(
    tree: Path,
    version: str,
    cache: Cache,
    fetcher,
    lock,
    runner: Runner,
    *,
    applied: tuple[str, ...] = (),
    target: str | None = None,
    jobs: int | None = None,
    progress=lambda msg: None,
    steps: dict | None = None,
    label: str = "",
) -> tuple[dict, dict]:
    """Build the source ``tree`` (CPython ``version``, patched as it is: the series is not
    applied again; ``applied`` names the series' patches it carries, whose configure
    options are then passed) statically for ``target`` through the cache, then ``verify`` it.

    Returns (build, verify) result dicts; failures are results, not exceptions.  Durations
    go into ``steps`` under "build LABEL" and "verify LABEL"."""
    from cpython_static.build.cpython import CPythonBuilder, Request
    from cpython_static.build.pipeline import build_publish_verify
    from cpython_static.build.toolchain import DEFAULT_TARGET, make_toolchain
    from cpython_static.verify.checks import VerifyError, verify

    target = target or DEFAULT_TARGET
    steps = {} if steps is None else steps
    started = time.monotonic()
    outcome = None
    try:
        toolchain = make_toolchain(None, target, cache, runner, libc_needs=get_series(version).libc_needs)
        builder = CPythonBuilder(
            cache, fetcher, lock, toolchain, runner, None, use_series=False, jobs=jobs, progress=progress
        )
        # The published one file (its archive and start-up hook included) is what is
        # proven, in the cache's published/ directory: the file `build` would give a user.
        outcome = build_publish_verify(
            builder, Request(version, tree=tree, applied=tuple(applied)), None, check=False, progress=progress
        )
        built = outcome.built
        build = {
            "ok": True,
            "cached": built.reused,
            "binary": str(outcome.binary),
            "target": target,
            "toolchain": toolchain.name,
            "interpreter": str(built.binary),
            "configure_args": list(built.manifest.get("configure_args", [])),
        }
    except (StepFailed, OSError, RuntimeError) as exc:
        build = {"ok": False, "error": str(exc).splitlines()[0], "target": target}
        log = getattr(exc, "log", None)
        if log:
            build["log"] = str(log)
    steps[f"build {label}".strip()] = round(time.monotonic() - started, 1)
    if not build["ok"]:
        return build, {"ok": None, "skipped": True}
    started = time.monotonic()
    try:
        report = verify(outcome.binary, runner=runner, version=version, target=target)
        verify_result = {
            "ok": report.ok,
            "failed": [c.name for c in report.checks if not c.ok],
            "checks": len(report.checks),
            "binary": str(outcome.binary),
        }
    except VerifyError as exc:
        verify_result = {"ok": False, "error": str(exc)}
    steps[f"verify {label}".strip()] = round(time.monotonic() - started, 1)
    return build, verify_result


# ---------------------------------------------------------------------- pure helpers
def normalize_diff(text: str) -> str:
    """A unified diff as our patches carry it: per file only ``--- a/…``/``+++ b/…`` and
    the hunks (no ``diff --git``/``index`` lines, which name blobs of one checkout, and no
    function names after ``@@``, which vary with the tool: a refresh changes only what
    really changed)."""
    out = []
    for patched in PatchSet(text):
        out.append(f"--- {patched.source_file}\n+++ {patched.target_file}\n")
        for hunk in patched:
            hunk.section_header = ""
            out.append(str(hunk))
    return "".join(out)


def _context_lines(diff: str) -> int:
    """The context width a patch was made with (its hunks' leading context), so a
    refresh keeps a deliberately narrow -U1 patch narrow."""
    widths = []
    for patched in PatchSet(diff):
        for hunk in patched:
            lead = 0
            for line in hunk:
                if not line.is_context:
                    break
                lead += 1
            if hunk.source_start > 1:  # a hunk at the top of a file has no room for context
                widths.append(lead)
    return min(3, max(widths)) if widths else 3


def _set_field(header: str, name: str, value: str) -> str:
    new, count = re.subn(rf"^{re.escape(name)}:[ \t]*.*$", f"{name}: {value}", header, count=1, flags=re.M)
    if not count:
        raise RebaseError(f"patch header has no {name} field")
    return new


def render_markdown(report: dict) -> str:
    lines = [f"# Rebase onto {report['tag']}: {'ok' if report['ok'] else 'FAILED'}", ""]
    if report["message"]:
        lines += [report["message"], ""]
    lines += ["| patch | status | detail | seconds |", "|---|---|---|---|"]
    for p in report["patches"]:
        lines.append(f"| {p['name']} | {p['status']} | {p['detail']} | {p['duration_s']} |")
    regen = report["regen"] or {}
    lines += [
        "",
        "| step | result |",
        "|---|---|",
        f"| configure fidelity | autoconf {regen.get('autoconf', '?')} ({regen.get('origin', '?')}): "
        f"{'byte-identical' if regen.get('fidelity') else 'DIFFERS' if regen else 'not checked'} |",
        f"| configure regenerated | {regen.get('regenerated', False)} |",
        f"| build | {_verdict(report['build'])} |",
        f"| verify | {_verdict(report['verify'])} |",
        "",
        "| step | seconds |",
        "|---|---|",
    ]
    lines += [f"| {name} | {secs} |" for name, secs in report["steps"].items()]
    lines += ["", "Statuses: " + "; ".join(f"**{k}** {v}" for k, v in STATUSES.items()), ""]
    return "\n".join(lines)


def _verdict(result: dict) -> str:
    if result.get("skipped"):
        return "skipped"
    return "ok" if result.get("ok") else f"FAILED {result.get('error') or result.get('failed') or ''}"
