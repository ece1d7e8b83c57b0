"""`cpython-static upstream cpython`: the patch series as a branch CPython would merge.

In a CPython clone, make a branch off ``--base`` with one commit per patch of the series
that is still worth sending there: the source change, ``configure`` regenerated with the
exact autoconf the base's ``configure`` names (after proving that autoconf reproduces the
pristine base byte for byte), a NEWS entry written by ``blurb add`` itself, and the
``Doc/using/configure.rst`` entry of any configure option the patch adds; the commit
message follows CPython's ``gh-N: subject`` convention.  Then build the branch's tree
statically and verify it (the evidence), and print a PR title and body.

The user's checkout is never touched: the work happens in a private ``git clone --shared``
of it under the cache, and the only change the user's repository ever sees is the new
branch, created (refusing to overwrite one) once everything succeeded.  Nothing leaves
the machine unless ``--push REMOTE`` is given.

What the commits say lives in each patch's optional header fields (Upstream-Issue,
Upstream-Subject, NEWS-Section, NEWS-Entry, Configure-Doc: see patches.OPTIONAL_HEADERS);
how it is laid out lives in the templates under ``templates/cpython/`` (package data).
"""

from __future__ import annotations

import datetime
import re
import shlex
import shutil
import string
import sys
import textwrap
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from packaging.specifiers import SpecifierSet

from cpython_static import __version__
from cpython_static.build import autoconf, patches
from cpython_static.core.cache import Cache
from cpython_static.core.errors import UsageError, WorkFailed
from cpython_static.core.fsutil import StepTimer
from cpython_static.core.git import GIT_ENV, UserRepo, git
from cpython_static.core.runner import Runner, StepFailed
from cpython_static.versions import Release, VersionError

DESCRIPTION = """\
In the CPython clone REPO, create a branch (default static-build-BASE) off BASE with one
commit per patch of the series that BASE still needs and that is meant for upstream:

  the source change, configure regenerated with the exact autoconf BASE's configure
  names (refused unless that autoconf reproduces pristine BASE byte for byte), a NEWS
  entry made by `blurb add` (Misc/NEWS.d/next/SECTION/), the Doc/using/configure.rst
  entry of any configure option it adds, and a `gh-N: subject` commit message.

Patches BASE already has (they apply in reverse), outside their Python-Versions for BASE,
marked `Forwarded: not-needed` or already forwarded (a URL) are skipped, each with its
reason; when nothing is left, no branch is made.  The branch's tree is then built
statically and verified (--no-build skips that), and a PR title and body with that
evidence are printed.  BASE's version comes from its Include/patchlevel.h.

REPO must be a clean CPython checkout; it is only read, except for the new branch, which
is created last and never overwrites one.  Nothing leaves the machine unless --push.
Needs blurb (pip install blurb) and, for configure.ac changes, the autoconf BASE's
configure names (built from its pinned source when the system's differs).

  cpython-static upstream cpython --repo ~/src/cpython --base v3.11.2 --issue 116303
"""

TEMPLATES = Path(__file__).resolve().parent / "templates" / "cpython"  # package data

# blurb refuses smaller gh-issue numbers: CPython's GitHub issues start there (the
# bugs.python.org issues were migrated below it).  Checked before any work is done.
LOWEST_GH_ISSUE = 32426
COMMIT_WIDTH = 72  # git's convention for commit message bodies
DOC_WIDTH = 79  # Doc/using/configure.rst's paragraphs are wrapped below 80 columns
# Commits are made under the user's identity when git has one (CPython needs the PR
# author's); otherwise under this one, which the report names so it can be amended.
FALLBACK_IDENTITY = ("cpython-static", "cpython-static@localhost")
# What says a tree is a CPython checkout (and what blurb itself looks for).
CPYTHON_MARKERS = (
    "configure.ac",
    "Include/patchlevel.h",
    "Include/Python.h",
    "Python/ceval.c",
    "README.rst",
    "LICENSE",
)
CONFIGURE_DOC = "Doc/using/configure.rst"
# The entry a new option's documentation goes after: present since 3.10, and the
# nearest in kind (an option leaving modules out of the build).
DOC_ANCHOR_OPTION = "--disable-test-modules"
WORK_BRANCH = "cpython-static-pr"  # inside the private clone only
# Skip reasons, by status (the JSON's "status").
SKIP_REASONS = {
    "not-forwardable": "marked Forwarded: not-needed (not meant for upstream)",
    "forwarded": "already forwarded upstream: {forwarded}",
    "not-applicable": "not needed for CPython {version}: outside its Python-Versions {versions}",
    "upstream": "{base} already has the change (the patch applies in reverse)",
}
_APPLIED = {"clean", "offset", "fuzz"}  # rebase statuses that leave a commit
# A release still to come on a maintained branch, where a backport would land: what each
# commit's Python-Versions is asked about to say which branches the PR is backported to.
_FUTURE_MICRO = 1000
# The phases of a branch that still takes bug fixes (backports of a fix made on main).
_TAKES_FIXES = ("prerelease", "bugfix")
# AS_HELP_STRING([--disable-foo], ...) or ([--with-foo=ARG], ...) on an added line.
_NEW_OPTION = re.compile(r"AS_HELP_STRING\(\s*\[(--[a-z0-9][a-z0-9-]*)")
_PY_VERSION = re.compile(r'^#define\s+PY_VERSION\s+"([^"]+)"', re.M)


class CPythonPRError(UsageError):
    """Bad input (not a CPython checkout, a dirty tree, an existing branch, ...)."""


class _Failed(WorkFailed):
    """The work itself failed (a patch that does not apply, a failed build)."""


# ------------------------------------------------------------------------- templates
def template(name: str) -> string.Template:
    return string.Template((TEMPLATES / name).read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Wording:
    """pr.toml and branches.toml: what the PR says, by state."""

    pr: dict
    branches: dict

    @classmethod
    def load(cls, root: Path = TEMPLATES) -> Wording:
        return cls(
            tomllib.loads((root / "pr.toml").read_text(encoding="utf-8")),
            tomllib.loads((root / "branches.toml").read_text(encoding="utf-8")),
        )

    def say(self, table: str, key: str, **values) -> str:
        return string.Template(self.pr[table][key]).substitute(values)


# ---------------------------------------------------------------------- pure helpers
def wrap(text: str, width: int = COMMIT_WIDTH, indent: str = "") -> str:
    """Paragraphs (separated by empty lines) re-flowed to ``width``; words never split."""
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    return "\n\n".join(
        textwrap.fill(
            p, width, initial_indent=indent, subsequent_indent=indent, break_long_words=False, break_on_hyphens=False
        )
        for p in paragraphs
    )


def description_parts(description: str) -> tuple[str, str]:
    """DEP-3 Description: (the first line, the first paragraph after it).

    The first paragraph says what and why; later ones are this project's own notes
    (how it regenerates, where the patch stands), which upstream does not need."""
    first, _, rest = description.partition("\n")
    body = re.split(r"\n\s*\n", rest.strip(), maxsplit=1)[0] if rest.strip() else ""
    return first.strip(), body


def commit_subject(patch) -> str:
    subject = patch.headers.get("Upstream-Subject") or description_parts(patch.description)[0]
    return subject[:1].upper() + subject[1:]


def commit_message(issue: int, patch) -> str:
    body = description_parts(patch.description)[1]
    return (
        template("commit-message.txt.tmpl")
        .substitute(issue=issue, subject=commit_subject(patch), body=wrap(body))
        .rstrip()
        + "\n"
    )


def news_source(issue: int, section: str, entry: str) -> str:
    """What blurb's editor step hands back: its metadata lines and the entry."""
    return template("news.rst.tmpl").substitute(issue=issue, section=section, entry=entry.strip())


def added_configure_options(patch) -> list[str]:
    """The configure options a patch adds: AS_HELP_STRING on an added configure.ac line."""
    found = []
    in_configure_ac = False
    for line in patch.diff.splitlines():
        if line.startswith("+++ "):
            in_configure_ac = line[4:].split("\t")[0].strip().endswith("/configure.ac")
        elif in_configure_ac and line.startswith("+"):
            found += [m for m in _NEW_OPTION.findall(line) if m not in found]
    return found


def parse_py_version(patchlevel_h: str) -> str:
    m = _PY_VERSION.search(patchlevel_h)
    if not m:
        raise CPythonPRError('Include/patchlevel.h has no #define PY_VERSION "X.Y.Z" line')
    return m.group(1)


def release_parts(py_version: str) -> tuple[int, int, int, str | None, bool]:
    """'3.14.0a7+' -> (3, 14, 0, 'a', True): numbers, pre-release level, past it (+)."""
    try:
        r = Release.parse(py_version, tag=False)
    except VersionError:
        r = None
    if r is None or r.micro is None:
        raise CPythonPRError(f"PY_VERSION {py_version!r} is not a CPython version like 3.13.15 or 3.14.0a7+")
    return r.major, r.minor, r.micro, r.level, r.dev


def next_release(py_version: str) -> str:
    """The release a change made on top of ``py_version`` first ships in (versionadded).

    A pre-release base is on its way to X.Y; a final X.Y.Z (or X.Y.Z+ after it) is
    followed by X.Y.(Z+1)."""
    release_parts(py_version)  # refuses what is not a PY_VERSION
    return Release.parse(py_version).next_release()


def classification_version(py_version: str) -> str:
    """What a patch's Python-Versions is matched against: PY_VERSION without its '+'."""
    return py_version.rstrip("+")


def branch_phase(py_version: str, today: datetime.date, branches: dict) -> tuple[str, str]:
    """(phase, series) of the branch ``py_version`` belongs to, per branches.toml."""
    major, minor, _, level, _ = release_parts(py_version)
    series = f"{major}.{minor}"
    if level == "a":
        return "feature", series
    if level in ("b", "rc"):
        return "prerelease", series
    return series_phase(series, today, branches), series


def series_phase(series: str, today: datetime.date, branches: dict) -> str:
    """The phase of the ``series`` branch on ``today``, from branches.toml's months."""
    dates = branches.get("series", {}).get(series)
    if dates is None:
        return "unknown"
    month = today.strftime("%Y-%m")
    for phase, start in (("end-of-life", "end_of_life"), ("security", "security"), ("bugfix", "first")):
        if month >= dates[start]:
            return phase
    return "prerelease" if month >= dates["beta"] else "feature"


def _series_key(series: str) -> tuple[int, ...]:
    return tuple(int(n) for n in series.split("."))


def target_branch(commits: list[Commit], py_version: str, today: datetime.date, branches: dict) -> dict:
    """Where the PR goes (main), which branches it is backported to (by label), and what
    the base's own branch accepts: the "Target branch" of the PR body, from branches.toml.

    CPython merges every change into main first.  A bug fix is then backported to each
    branch still taking bug fixes that a commit's Python-Versions covers; a commit adding
    a configure option is a feature, which stays in main."""
    phase, series = branch_phase(py_version, today, branches)
    table, say = branches.get("series", {}), branches["target"]
    main = next((s for s in sorted(table, key=_series_key) if series_phase(s, today, branches) == "feature"), None)
    feature = any(c.options for c in commits)
    backports = (
        []
        if feature
        else [
            s
            for s in sorted(table, key=_series_key)
            if series_phase(s, today, branches) in _TAKES_FIXES
            and any(c.versions and SpecifierSet(c.versions).contains(f"{s}.{_FUTURE_MICRO}") for c in commits)
        ]
    )
    labels = [string.Template(say["label"]).substitute(series=s) for s in backports]
    text = [string.Template(say["main"]).substitute(main=f" ({main})" if main else "")]
    if backports:
        text.append(
            string.Template(say["backports"]).substitute(
                branches=", ".join(backports), labels=", ".join(f"`{label}`" for label in labels)
            )
        )
    else:
        text.append(say["no_backports_feature" if feature else "no_backports"])
    phases = branches["phases"] if feature else {**branches["phases"], **branches["fix_phases"]}
    note = " ".join(text) + "\n\n" + string.Template(phases[phase]).substitute(series=series)
    return {
        "series": series,
        "phase": phase,
        "main": main,
        "backports": backports,
        "labels": labels,
        "note": note,
    }


def pre_skip(patch, version: str) -> tuple[str, str] | None:
    """(status, reason) when the headers alone say the patch is not to be sent."""
    if patch.forwarded == "not-needed":
        return "not-forwardable", SKIP_REASONS["not-forwardable"]
    if patch.forwarded != "no":
        return "forwarded", SKIP_REASONS["forwarded"].format(forwarded=patch.forwarded)
    if not patch.applies_to(version):
        reason = SKIP_REASONS["not-applicable"].format(version=version, versions=patch.versions)
        if patch.applied_upstream.strip() and patch.applied_upstream.strip() != "no":
            reason += f"; upstream has it: {patch.applied_upstream}"
        return "not-applicable", reason
    return None


def check_issue(issue: int | None, what: str) -> int:
    if issue is None or issue < LOWEST_GH_ISSUE:
        raise CPythonPRError(
            f"{what}: {issue} is not a CPython GitHub issue number (they start at {LOWEST_GH_ISSUE}; "
            "blurb refuses smaller ones)"
            if issue is not None
            else f"{what} names no CPython issue: a CPython PR needs one (gh-N). Open an issue and pass "
            "--issue N, or give the patch an Upstream-Issue header"
        )
    return issue


def insert_option_doc(rst: str, option: str, text: str, version: str) -> str:
    """Doc/using/configure.rst with an entry for ``option`` after DOC_ANCHOR_OPTION's,
    in that entry's own directive (``option`` since 3.12, ``cmdoption`` before)."""
    anchor = re.search(rf"^\.\. (option|cmdoption):: {re.escape(DOC_ANCHOR_OPTION)}\s*$", rst, re.M)
    if anchor is None:
        raise _Failed(
            f"{CONFIGURE_DOC} has no '.. option:: {DOC_ANCHOR_OPTION}' entry to put the "
            f"documentation of {option} after; its layout changed: document it by hand"
        )
    if re.search(rf"^\.\. (option|cmdoption):: {re.escape(option)}(\s|=|\[|$)", rst, re.M):
        raise _Failed(f"{CONFIGURE_DOC} already documents {option}")
    # The entry ends where the next unindented line (the next directive or heading) starts.
    after = re.compile(r"^\S", re.M).search(rst, anchor.end() + 1)
    at = after.start() if after else len(rst)
    body = wrap(text, width=DOC_WIDTH, indent="   ")
    entry = template("configure-option.rst.tmpl").substitute(
        directive=anchor[1], option=option, text=body, version=version
    )
    return rst[:at] + entry + rst[at:]


# ----------------------------------------------------------------------------- work
@dataclass
class Commit:
    patch: str
    status: str  # clean / offset / fuzz: how the patch applied to the base
    detail: str
    issue: int
    subject: str
    sha: str = ""
    files: list[str] = field(default_factory=list)
    news: str = ""
    options: list[str] = field(default_factory=list)
    body: str = ""
    versions: str = ""  # the patch's Python-Versions: which branches a backport goes to
    prior_art: str = ""  # the patch's Prior-Art header: evidence for the PR body


class BranchMaker:
    def __init__(
        self,
        cache: Cache,
        runner: Runner,
        patches_dir: Path,
        *,
        mirror: str | None = None,
        jobs: int | None = None,
        progress=lambda msg: None,
        target: str | None = None,
        today: datetime.date | None = None,
    ):
        self.cache, self.runner = cache, runner
        self.patches_dir = Path(patches_dir).resolve()
        self.mirror, self.jobs, self.progress, self.target = mirror, jobs, progress, target
        self.today = today or datetime.date.today()
        self.steps: dict[str, float] = {}
        self._fetcher = self._lock = None

    # -------------------------------------------------------------- the one entry point
    def make(
        self,
        repo: Path,
        *,
        base: str = "HEAD",
        issue: int | None = None,
        branch: str | None = None,
        push: str | None = None,
        build: bool = True,
    ) -> dict:
        started = time.monotonic()
        series = patches.load_series(self.patches_dir)  # a broken series is refused first
        repo = self._check_repo(repo)
        base_commit = self._resolve(repo, base)
        py_version = parse_py_version(self._show(repo, base_commit, "Include/patchlevel.h"))
        version = classification_version(py_version)
        if base == "HEAD":  # say what it is: the branch checked out, else the commit
            base = self._git_out(repo, "symbolic-ref", "-q", "--short", "HEAD", check=False).strip() or base_commit[:12]
        branch = branch or default_branch_name(base)
        self._check_branch(repo, branch)
        if issue is not None:
            check_issue(issue, "--issue")
        if push is not None:
            self._check_remote(repo, push)
        self.progress(f"{repo}: base {base} ({base_commit[:12]}, CPython {py_version})")

        skipped, candidates, to_check = [], [], []
        for patch in series:
            why = pre_skip(patch, version)
            if not why:
                candidates.append(patch)
            elif patch.upstream_has_it(version):
                # Applied-Upstream says the base has it (a backport past its range, a
                # feature upstream solved): the base's tree says whether it is this change.
                to_check.append((patch, why))
            else:
                skipped.append({"patch": patch.name, "status": why[0], "reason": why[1]})
        for patch in candidates:  # before any work: every commit needs an issue and its texts
            self._check_upstream_fields(patch, issue)
        identity = self._identity(repo)

        commits: list[Commit] = []
        evidence: dict = {"fidelity": None, "build": None, "verify": None}
        head = None
        if candidates or to_check:
            if candidates:
                self._require_blurb()
            scratch = self.cache.scratch("upstream-cpython")
            try:
                head = self._work(
                    repo,
                    scratch,
                    base,
                    base_commit,
                    version,
                    py_version,
                    candidates,
                    to_check,
                    issue,
                    identity,
                    commits,
                    skipped,
                    evidence,
                    build,
                )
                if head is not None:
                    self._create_branch(repo, branch, head, scratch)
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
        order = {p.name: i for i, p in enumerate(series)}
        skipped.sort(key=lambda s: order[s["patch"]])  # series order, however each was found
        report = self._report(
            repo,
            base,
            base_commit,
            py_version,
            branch if head else None,
            head,
            commits,
            skipped,
            evidence,
            identity,
            build,
        )
        if head is not None and push is not None:
            report["pushed"] = self._push(repo, push, branch)
        self.steps["total"] = round(time.monotonic() - started, 1)
        report["steps"] = self.steps
        return report

    # --------------------------------------------------------------------- validation
    def _check_repo(self, repo: Path) -> Path:
        self.user = UserRepo(repo, self.runner, option="--repo", error=CPythonPRError)
        top = self.user.root
        missing = [m for m in CPYTHON_MARKERS if not (top / m).is_file()]
        if missing:
            raise CPythonPRError(f"--repo {repo} is not a CPython checkout: {top} has no {', '.join(missing)}")
        self.user.check_clean(
            untracked=True,
            why=(
                " (the branch is made from --base, not from the working tree, and a clean tree makes"
                " sure nothing you meant to include is silently left out)"
            ),
        )
        return top

    def _resolve(self, repo: Path, base: str) -> str:
        tags = self._git_out(repo, "tag", "--list", "v3.*", "--sort=-v:refname").split()[:5]
        return self.user.resolve(base, hint=f"; latest release tags there: {', '.join(tags)}" if tags else "")

    def _show(self, repo: Path, commit: str, path: str) -> str:
        res = self._git(repo, "show", f"{commit}:{path}", capture=True, check=False, step=f"git show {path}")
        if res.returncode != 0:
            raise CPythonPRError(f"the base {commit[:12]} has no {path}: not a CPython tree")
        return res.output

    def _check_branch(self, repo: Path, branch: str) -> None:
        self.user.check_branch_name(branch)
        tip = self.user.branch_tip(branch)
        if tip is not None:
            raise CPythonPRError(
                f"branch {branch} already exists in {repo} (at {tip[:12]}): "
                f"pass --branch OTHER, or delete it first (git branch -D {branch})"
            )

    def _check_remote(self, repo: Path, remote: str) -> None:
        self.user.check_remote(remote)

    def _check_upstream_fields(self, patch, issue: int | None) -> None:
        check_issue(issue if issue is not None else patch.upstream_issue, patch.name)
        needed = ["NEWS-Section", "NEWS-Entry"]
        if added_configure_options(patch):
            needed.append("Configure-Doc")
        missing = [f for f in needed if not patch.headers.get(f)]
        if missing:
            raise CPythonPRError(
                f"{patch.path}: header field(s) {', '.join(missing)} missing; a CPython commit needs them ("
                + "; ".join(f"{f}: {patches.OPTIONAL_HEADERS[f]}" for f in missing)
                + ")"
            )

    def _require_blurb(self) -> None:
        res = self.runner.run(
            "blurb --version", [sys.executable, "-m", "blurb", "--version"], capture=True, check=False
        )
        if res.returncode != 0:
            raise CPythonPRError(
                f"blurb is not installed for {sys.executable} (log: {res.log}): "
                "pip install blurb; it writes the NEWS entries CPython expects"
            )

    def _identity(self, repo: Path) -> dict:
        """The user's git identity as their git would use it (global config included)."""
        found = self.user.identity()
        if found:
            return {"name": found[0], "email": found[1], "source": "git config"}
        self.progress(
            f"no git identity (user.name, user.email) configured: committing as "
            f"{FALLBACK_IDENTITY[0]} <{FALLBACK_IDENTITY[1]}>; amend with "
            "`git commit --amend --reset-author` before submitting"
        )
        return {"name": FALLBACK_IDENTITY[0], "email": FALLBACK_IDENTITY[1], "source": "fallback"}

    # ---------------------------------------------------------------------- the work
    def _work(
        self,
        repo,
        scratch,
        base,
        base_commit,
        version,
        py_version,
        candidates,
        to_check,
        issue,
        identity,
        commits,
        skipped,
        evidence,
        build,
    ) -> str | None:
        from cpython_static.series.rebase import Rebaser

        tree = scratch / "cpython"
        with self._timed("clone"):
            # --shared: the clone borrows REPO's objects (instant, nothing copied) and REPO
            # itself is only read; whatever is made here stays here unless it succeeds.
            self._git(scratch, "clone", "--shared", "--no-checkout", "--quiet", "--", str(repo), str(tree))
            self._git(tree, "checkout", "--quiet", "-b", WORK_BRANCH, base_commit)
        for patch, (status, reason) in to_check:
            skipped.append(self._upstream_skip(tree, patch, status, reason, base))
        if not candidates:
            return None
        if any(p.changes_configure_inputs for p in candidates):
            with self._timed("fidelity"):
                evidence["fidelity"] = self._fidelity(tree)
                evidence["fidelity"]["backports"] = self._autoconf(tree).backports
            if not evidence["fidelity"]["fidelity"]:
                raise _Failed(
                    f"regenerating pristine {base} with autoconf {evidence['fidelity']['autoconf']} does not "
                    f"reproduce its configure ({evidence['fidelity']['detail']}); a regenerated configure "
                    "would carry changes that are not the patch's, so no branch was made"
                )
        # The rebase's classification (clean / offset / fuzz / upstream / conflict),
        # applied to this private clone; its bookkeeping goes to the scratch directory.
        rebaser = Rebaser(
            self.cache,
            self.runner,
            upstream_source=str(repo),
            patches_dir=self.patches_dir,
            results_dir=scratch / "results",
            fetcher=self.fetcher(),
            lock=self.lock(),
            jobs=self.jobs,
            progress=self.progress,
            target=self.target,
            workspace=scratch / "rebase",
        )
        for patch in candidates:
            with self._timed(f"commit {patch.name}"):
                outcome = rebaser.apply_patch(patch, tree, version=version, tag=base)
                self.progress(f"{patch.name}: {outcome.status}" + (f" ({outcome.detail})" if outcome.detail else ""))
                if outcome.status == "upstream":
                    skipped.append(
                        {
                            "patch": patch.name,
                            "status": "upstream",
                            "reason": SKIP_REASONS["upstream"].format(base=base),
                        }
                    )
                    continue
                if outcome.status not in _APPLIED:
                    raise _Failed(
                        f"{patch.name} does not apply to {base} ({outcome.status}: {outcome.detail}); "
                        f"refresh the series first (cpython-static rebase) — no branch was made"
                    )
                commits.append(self._complete_commit(tree, patch, outcome, issue, py_version, identity))
        if not commits:
            return None
        if evidence["fidelity"] is not None:
            with self._timed("fidelity of the branch"):
                branch_fidelity = self._fidelity(tree)
            evidence["fidelity"]["branch_reproduces"] = branch_fidelity["fidelity"]
            if not branch_fidelity["fidelity"]:
                raise _Failed(
                    "regenerating the branch's configure.ac does not reproduce its committed "
                    f"configure ({branch_fidelity['detail']}); no branch was made"
                )
        if build:
            evidence["build"], evidence["verify"] = self._build(tree, version, tuple(c.patch for c in commits))
            if not (evidence["build"]["ok"] and evidence["verify"]["ok"]):
                why = evidence["build"].get("error") or (
                    "verify failed: "
                    + ", ".join(evidence["verify"].get("failed") or [evidence["verify"].get("error", "?")])
                )
                raise _Failed(f"the branch's tree does not build and verify statically ({why}); no branch was made")
        return self._git_out(tree, "rev-parse", "HEAD").strip()

    def _upstream_skip(self, tree: Path, patch, status: str, reason: str, base: str) -> dict:
        """A skipped patch whose Applied-Upstream names a release at or before the base:
        "upstream" when the base's tree has this very change (the patch applies in reverse,
        as rebase proves it), else its own skip with what the tree says."""
        res = patches.gnu_patch(
            self.runner,
            patch.path,
            tree,
            step=f"reverse dry run {patch.name}",
            reverse=True,
            dry_run=True,
            capture=True,
            check=False,
        )
        if res.returncode == 0:
            reason = SKIP_REASONS["upstream"].format(base=base) + f"; Applied-Upstream: {patch.applied_upstream}"
            return {"patch": patch.name, "status": "upstream", "reason": reason}
        reason += f"; it does not apply in reverse to {base}: upstream has it in another form"
        return {"patch": patch.name, "status": status, "reason": reason}

    def _complete_commit(self, tree: Path, patch, outcome, issue, py_version, identity) -> Commit:
        """The patch's commit (made by the rebase's applier) turned into a CPython one:
        configure regenerated, NEWS entry, documentation, CPython's message, the user."""
        issue = issue if issue is not None else patch.upstream_issue
        commit = Commit(
            patch.name,
            outcome.status,
            outcome.detail,
            issue,
            commit_subject(patch),
            versions=str(patch.versions),
            prior_art=patch.headers.get("Prior-Art", ""),
        )
        if patch.changes_configure_inputs:
            autoconf.regenerate(tree, self.runner, autoconf=self._autoconf(tree).program)
        commit.news = self._news(tree, patch, issue)
        commit.options = added_configure_options(patch)
        if commit.options:
            doc = tree / CONFIGURE_DOC
            if not doc.is_file():
                raise _Failed(f"{patch.name} adds {', '.join(commit.options)} but the base has no {CONFIGURE_DOC}")
            text = doc.read_text(encoding="utf-8")
            for option in commit.options:
                text = insert_option_doc(text, option, patch.headers["Configure-Doc"], next_release(py_version))
            doc.write_text(text, encoding="utf-8")
        message = commit_message(issue, patch)
        commit.body = message.split("\n\n", 1)[1].strip() if "\n\n" in message else ""
        self._git(tree, "add", "-A")
        author = {
            "GIT_AUTHOR_NAME": identity["name"],
            "GIT_AUTHOR_EMAIL": identity["email"],
            "GIT_COMMITTER_NAME": identity["name"],
            "GIT_COMMITTER_EMAIL": identity["email"],
        }
        self._git(
            tree,
            "commit",
            "--quiet",
            "--amend",
            "--no-verify",
            "--reset-author",
            "--cleanup=whitespace",
            "-F",
            "-",
            env=author,
            stdin=message,
            step=f"git commit {patch.name}",
        )
        commit.sha = self._git_out(tree, "rev-parse", "HEAD").strip()
        commit.files = self._git_out(tree, "diff-tree", "--no-commit-id", "--name-only", "-r", "HEAD").split()
        return commit

    def _news(self, tree: Path, patch, issue: int) -> str:
        """``blurb add`` writes the entry (its file name, date and nonce, its checks); its
        editor step is a copy of the text from the patch header, so it runs unattended."""
        section = patch.headers["NEWS-Section"]
        source = tree.parent / f"news-{patch.name}.rst"
        source.write_text(news_source(issue, section, patch.headers["NEWS-Entry"]), encoding="utf-8")
        editor = f"cp {shlex.quote(str(source))}"
        news_dir = tree / "Misc" / "NEWS.d" / "next"
        before = set(news_dir.rglob("*.rst")) if news_dir.is_dir() else set()
        try:
            self.runner.run(
                f"blurb add ({patch.name})",
                [sys.executable, "-m", "blurb", "add", "--issue", str(issue), "--section", section],
                cwd=tree,
                env={**GIT_ENV, "EDITOR": editor, "GIT_EDITOR": editor, "VISUAL": None},
                stdin="",
            )
        except StepFailed as exc:
            raise _Failed(
                f"blurb refused the NEWS entry of {patch.name} (NEWS-Section {section!r}, "
                f"NEWS-Entry in its header); log: {exc.log}"
            ) from exc
        created = sorted(set(news_dir.rglob("*.rst")) - before) if news_dir.is_dir() else []
        if len(created) != 1:
            raise _Failed(f"blurb add for {patch.name} made {len(created)} NEWS files, expected one")
        return created[0].relative_to(tree).as_posix()

    def _create_branch(self, repo: Path, branch: str, head: str, scratch: Path) -> None:
        """The one write to the user's repository: the commits' objects, then the branch,
        created only if it still does not exist (update-ref with an empty old value)."""
        with self._timed("create branch"):
            self._git(
                repo,
                "fetch",
                "--quiet",
                "--no-tags",
                "--no-write-fetch-head",
                "--",
                str(scratch / "cpython"),
                f"refs/heads/{WORK_BRANCH}",
            )
            try:
                self.user.create_branch(branch, head)
            except StepFailed as exc:
                raise CPythonPRError(
                    f"could not create branch {branch} in {repo} (did it appear meanwhile?); log: {exc.log}"
                ) from None

    def _push(self, repo: Path, remote: str, branch: str) -> dict:
        with self._timed("push"):
            try:
                self.user.push(remote, branch)
            except CPythonPRError as exc:
                raise _Failed(
                    f"branch {branch} was created in {repo}, but {exc}; push it yourself: git push {remote} {branch}"
                ) from None
        return {"remote": remote, "ref": f"refs/heads/{branch}"}

    # ---------------------------------------------------------------------- evidence
    def _fidelity(self, tree: Path) -> dict:
        from cpython_static.series.rebase import check_fidelity

        return check_fidelity(tree, self.cache, self.fetcher(), self.lock(), self.runner, progress=self.progress)

    def _autoconf(self, tree: Path):
        from cpython_static.build.autoconf import autoconf_for

        return autoconf_for(tree, self.cache, self.fetcher(), self.lock(), self.runner, progress=self.progress)

    def _build(self, tree: Path, version: str, applied: tuple[str, ...]) -> tuple[dict, dict]:
        from cpython_static.series.rebase import build_and_verify

        # applied: the build passes the options these patches add (versions.toml by_patch).
        build, verify = build_and_verify(
            tree,
            version,
            self.cache,
            self.fetcher(),
            self.lock(),
            self.runner,
            applied=applied,
            target=self.target,
            jobs=self.jobs,
            progress=self.progress,
            steps=self.steps,
            label="of the branch",
        )
        if build["ok"]:
            binary = Path(build["binary"])
            build["size_bytes"] = binary.stat().st_size
            res = self.runner.run(
                "count built-in modules",
                [binary, "-I", "-c", "import sys; print(len(sys.builtin_module_names))"],
                capture=True,
                check=False,
            )
            build["modules"] = int(res.output.strip()) if res.returncode == 0 and res.output.strip().isdigit() else None
        return build, verify

    def fetcher(self):
        if self._fetcher is None:
            from cpython_static.build.sources import Fetcher

            self._fetcher = Fetcher(self.cache, self.runner, mirror=self.mirror)
        return self._fetcher

    def lock(self):
        if self._lock is None:
            from cpython_static.build.sources import load_lock

            self._lock = load_lock()
        return self._lock

    # ----------------------------------------------------------------------- report
    def _report(
        self, repo, base, base_commit, py_version, branch, head, commits, skipped, evidence, identity, build
    ) -> dict:
        wording = Wording.load()
        target = target_branch(commits, py_version, self.today, wording.branches)
        target_note = target["note"]
        pr = (
            pr_text(
                wording,
                commits,
                evidence,
                base=base,
                base_commit=base_commit,
                py_version=py_version,
                target_note=target_note,
                built=build,
                target=(evidence.get("build") or {}).get("target") or self.target,
            )
            if commits
            else None
        )
        return {
            "ok": True,
            "repo": str(repo),
            "base": base,
            "base_commit": base_commit,
            "version": py_version,
            "branch": branch,
            "head": head,
            "commits": [
                {
                    "sha": c.sha,
                    "subject": f"gh-{c.issue}: {c.subject}",
                    "patch": c.patch,
                    "applied": c.status + (f" ({c.detail})" if c.detail else ""),
                    "issue": c.issue,
                    "files": c.files,
                    "news": c.news,
                    "configure_options": c.options,
                }
                for c in commits
            ],
            "skipped": skipped,
            "message": None
            if commits
            else (
                f"nothing left to send for {base}: every patch of the series is upstream already, not needed "
                "for this version or not meant for upstream; no branch was made"
            ),
            "target_branch": target,
            "evidence": evidence,
            "identity": identity,
            "pr": pr,
            "pushed": None,
        }

    # ---------------------------------------------------------------------- plumbing
    def _git(
        self,
        cwd: Path,
        *args: str,
        capture: bool = False,
        check: bool = True,
        env: dict | None = None,
        stdin: str | None = None,
        step: str | None = None,
    ):
        return git(
            self.runner,
            step,
            *args,
            cwd=cwd,
            env=env,
            capture=capture,
            check=check,
            stdin=stdin,
        )

    def _git_out(self, cwd: Path, *args: str, check: bool = True) -> str:
        res = self._git(cwd, *args, capture=True, check=check)
        return res.output if res.returncode == 0 else ""

    def _timed(self, name: str):
        return StepTimer(self.steps, digits=1)(name)


def default_branch_name(base: str) -> str:
    """static-build-BASE, with what a branch name cannot hold made '-'."""
    return "static-build-" + re.sub(r"[^A-Za-z0-9._-]+", "-", base).strip("-.")


def pr_text(
    wording: Wording,
    commits: list[Commit],
    evidence: dict,
    *,
    base: str,
    base_commit: str,
    py_version: str,
    target_note: str,
    built: bool,
    target: str | None,
) -> dict:
    """The PR title and body (Markdown), from the templates and pr.toml."""
    issues = ", ".join(dict.fromkeys(f"gh-{c.issue}" for c in commits))
    title = (
        template("pr-title.txt.tmpl").substitute(issues=issues, subjects="; ".join(c.subject for c in commits)).strip()
    )
    summary = (
        wording.say("summary", "one", version=py_version)
        if len(commits) == 1
        else wording.say("summary", "several", version=py_version, count=len(commits))
    )
    changes = "\n\n".join(
        wording.say(
            "change",
            "item",
            issue=c.issue,
            subject=c.subject,
            files=", ".join(f"`{f}`" for f in c.files),
            body=wrap(c.body, width=10_000, indent="  ") if c.body else "",
        ).rstrip()
        + ("\n\n" + wording.say("change", "prior_art", text=wrap(c.prior_art, width=10_000)) if c.prior_art else "")
        for c in commits
    )
    lines = []
    fid = evidence.get("fidelity")
    if fid:
        extra = fid.get("backports") or []
        backports = f" (with the {', '.join(f'`{b}`' for b in extra)} backport)" if extra else ""
        lines.append(wording.say("evidence", "fidelity", autoconf=fid["autoconf"], backports=backports, base=base))
    else:
        lines.append(wording.say("evidence", "no_configure"))
    b, v = evidence.get("build"), evidence.get("verify")
    if not built or b is None:
        lines.append(wording.say("evidence", "not_built"))
    elif not b.get("ok"):
        lines.append(wording.say("evidence", "build_failed", error=b.get("error", "?")))
    else:
        size = b.get("size_bytes")
        lines.append(
            wording.say(
                "evidence",
                "built",
                target=b.get("target") or target,
                toolchain=wording.pr["toolchain"].get(b.get("toolchain"), b.get("toolchain") or "?"),
                cached=", an identical tree's build reused from the cache" if b.get("cached") else "",
                modules=b.get("modules") if b.get("modules") is not None else "?",
                size_mb=f"{size / 1e6:.1f}" if size else "?",
            )
        )
        options = [o for c in commits for o in c.options]
        not_passed = [
            o for o in options if not any(a == o or a.startswith(o + "=") for a in b.get("configure_args", []))
        ]
        if not_passed:
            lines.append(wording.say("evidence", "options_not_passed", options=", ".join(f"`{o}`" for o in not_passed)))
        if v and v.get("ok"):
            from cpython_static.verify.checks import ALL_CHECKS

            lines.append(wording.say("evidence", "verified", checks=v.get("checks"), names=", ".join(ALL_CHECKS)))
        elif v:
            lines.append(
                wording.say("evidence", "verify_failed", failed=", ".join(v.get("failed") or [v.get("error", "?")]))
            )
    body = template("pr-body.md.tmpl").substitute(
        summary=summary,
        changes=changes,
        evidence="\n".join(lines),
        target=target_note,
        tool_version=__version__,
        patches=", ".join(c.patch for c in commits),
        base=base,
        base_commit=base_commit[:12],
    )
    return {"title": title, "body": body.strip() + "\n"}


def render_text(report: dict) -> str:
    out = []
    for c in report["commits"]:
        out.append(f"  {c['sha'][:12]} {c['subject']}  [{c['patch']}: {c['applied']}]")
        out.append(f"      {', '.join(c['files'])}")
    for s in report["skipped"]:
        out.append(f"  skipped {s['patch']}: {s['reason']}")
    if report["branch"] is None:
        out.append(report["message"])
        return "\n".join(out)
    ident = report["identity"]
    out.insert(
        0,
        f"branch {report['branch']} in {report['repo']}: {len(report['commits'])} commit(s) on "
        f"{report['base']} ({report['base_commit'][:12]}), as {ident['name']} <{ident['email']}>",
    )
    out.append(f"  {report['target_branch']['note']}")
    out.append(
        "  pushed to " + report["pushed"]["remote"]
        if report["pushed"]
        else "  not pushed (nothing left this machine); --push REMOTE to push"
    )
    out += ["", "PR title:", report["pr"]["title"], "", "PR body:", report["pr"]["body"]]
    return "\n".join(out)
