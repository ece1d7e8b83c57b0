"""`cpython-static upstream cpython` on real CPython trees (real tier).

The user's clone is a `git clone` of the ``upstream_repo`` fixture (the real 3.11.2, 3.13.5
and 3.13.15 release trees, tagged).  The v3.11.2 branch is built and verified statically
once (through the cache: the tree digest leaves out Doc/ and Misc/NEWS.d/, so a rerun is a
cache hit); the other cases use --no-build.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from pathlib import Path

import pytest

from cpython_static.build.sources import Fetcher, load_lock
from cpython_static.core.cache import Cache
from cpython_static.core.runner import Runner
from cpython_static.series.rebase import check_fidelity

from .conftest import run_cli

REPO = Path(__file__).resolve().parents[2]
# blurb refuses gh-issue numbers below 32426 (CPython's GitHub issues start there), so the
# tests use a plausible one rather than 12345.
ISSUE = "120000"
NEWS_NAME = re.compile(
    rf"Misc/NEWS\.d/next/(?P<section>[A-Za-z_-]+)/\d{{4}}-\d\d-\d\d-\d\d-\d\d-\d\d"
    rf"\.gh-issue-{ISSUE}\.[A-Za-z0-9_-]{{6}}\.rst"
)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args],
        check=True,
        capture_output=True,
        text=True,
        env={
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": "/dev/null",
            "PATH": "/usr/bin:/bin",
            "GIT_OPTIONAL_LOCKS": "0",
        },
    ).stdout


def snapshot(repo: Path) -> dict:
    """Everything of the user's checkout the command must leave alone."""
    gitdir = repo / ".git"
    return {
        "head": git(repo, "rev-parse", "HEAD"),
        "symbolic": git(repo, "symbolic-ref", "HEAD"),
        "status": git(repo, "status", "--porcelain", "--ignored"),
        "worktrees": git(repo, "worktree", "list", "--porcelain"),
        "refs": git(repo, "for-each-ref"),
        "index": hashlib.sha256((gitdir / "index").read_bytes()).hexdigest(),
        "config": (gitdir / "config").read_text(),
        "gitdir": sorted(str(p.relative_to(gitdir)) for p in gitdir.rglob("*")),
    }


@pytest.fixture
def clone(upstream_repo, tmp_path) -> Path:
    """The user's CPython clone, on main (v3.13.15)."""
    dest = tmp_path / "cpython"
    subprocess.run(["git", "clone", "--quiet", str(upstream_repo), str(dest)], check=True)
    return dest


def upstream_cpython(clone: Path, *args: str):
    return run_cli("upstream", "cpython", "--repo", str(clone), *args)


def test_branch_for_v3_11_2_is_built_verified_and_reproducible(clone, tmp_path):
    before = snapshot(clone)
    res = upstream_cpython(clone, "--base", "v3.11.2", "--issue", ISSUE, "--json")
    assert res.returncode == 0, res.stderr[-6000:]
    report = json.loads(res.stdout)
    branch = report["branch"]
    assert branch == "static-build-v3.11.2"
    head = git(clone, "rev-parse", f"refs/heads/{branch}").strip()
    assert head == report["head"] == report["commits"][-1]["sha"]

    # One commit per patch, in series order, each in CPython's convention.
    assert [c["patch"] for c in report["commits"]] == [
        "0001-configure-add-disable-xxlimited-modules.patch",
        "0002-ctypes-importable-without-dlopen.patch",
    ]
    # 0003 (a backport of upstream's own fix, for 3.14.0-3.14.4) is never sent back to it;
    # 0004 (ensurepip) is for 3.12+: 3.11's ensurepip writes its wheel itself.
    assert [(s["patch"][:4], s["status"]) for s in report["skipped"]] == [
        ("0003", "not-forwardable"),
        ("0004", "not-applicable"),
    ]
    log = git(clone, "log", "--format=%s", f"v3.11.2..{branch}").splitlines()
    assert log == [
        f"gh-{ISSUE}: Keep ctypes importable when the interpreter cannot dlopen() itself",
        f"gh-{ISSUE}: Add configure option --disable-xxlimited-modules",
    ]
    xx = report["commits"][0]["sha"]
    assert set(git(clone, "diff-tree", "--no-commit-id", "--name-only", "-r", xx).split()) >= {
        "configure.ac",
        "configure",
        "Doc/using/configure.rst",
    }

    # The whole branch against the base.
    changed = git(clone, "diff", "--name-only", "v3.11.2", branch).split()
    assert {"configure.ac", "configure", "Doc/using/configure.rst", "Lib/ctypes/__init__.py"} <= set(changed)
    news = {m["section"]: name for name in changed if (m := NEWS_NAME.fullmatch(name))}
    assert set(news) == {"Build", "Library"}, changed
    assert len(changed) == 6, changed  # nothing else

    # The NEWS entries are blurb's: its own parser reads them back.
    blurb_file = pytest.importorskip("blurb._blurb_file")
    for section, name in news.items():
        entry = tmp_path / name
        entry.parent.mkdir(parents=True)
        entry.write_text(git(clone, "show", f"{branch}:{name}"))
        blurbs = blurb_file.Blurbs()
        blurbs.load_next(str(entry))  # as `blurb merge` reads next/: metadata from the name too
        [(metadata, body)] = blurbs
        assert metadata["gh-issue"] == ISSUE and metadata["section"] == section and body.strip()

    # The documentation, in 3.11's own style (cmdoption), after --disable-test-modules.
    doc = git(clone, "show", f"{branch}:Doc/using/configure.rst")
    at = doc.index(".. cmdoption:: --disable-xxlimited-modules")
    assert doc.index(".. cmdoption:: --disable-test-modules") < at < doc.index(".. cmdoption:: --with-ensurepip")
    assert ".. versionadded:: 3.11.3" in doc[at : doc.index(".. cmdoption:: --with-ensurepip")]

    # configure is regenerated (it has the option) and reproducible: the exact autoconf
    # 3.11.2's configure names, run on the branch's configure.ac, gives the committed
    # configure byte for byte.
    tree = tmp_path / "branch-tree"
    subprocess.run(["git", "clone", "--quiet", "--branch", branch, str(clone), str(tree)], check=True)
    assert "--disable-xxlimited-modules" in (tree / "configure").read_text()
    cache = Cache()
    runner = Runner(tmp_path / "logs")
    fidelity = check_fidelity(tree, cache, Fetcher(cache, runner), load_lock(), runner)
    assert fidelity["fidelity"], fidelity["detail"]
    assert fidelity["autoconf"] == "2.69"
    assert report["evidence"]["fidelity"]["fidelity"] and report["evidence"]["fidelity"]["branch_reproduces"]

    # The evidence: a static build of the branch, verified.
    build, verify = report["evidence"]["build"], report["evidence"]["verify"]
    assert build["ok"] and verify["ok"], (build, verify)
    assert build["modules"] > 50 and build["size_bytes"] > 10_000_000
    # ... which exercised the option the branch adds, not the cache-variable stand-in
    assert "--disable-xxlimited-modules" in build["configure_args"], build["configure_args"]
    assert not any(a.startswith("py_cv_module_xxlimited") for a in build["configure_args"])
    assert "did not pass" not in report["pr"]["body"]

    # The PR text says what was done and what was proven.
    pr = report["pr"]
    assert pr["title"] == (
        f"gh-{ISSUE}: Add configure option --disable-xxlimited-modules; "
        "Keep ctypes importable when the interpreter cannot dlopen() itself"
    )
    assert f"passed all {verify['checks']} checks" in pr["body"]
    assert "GNU Autoconf 2.69" in pr["body"]
    assert "takes security fixes only" in pr["body"]  # 3.11, honestly
    assert report["target_branch"]["phase"] == "security"
    # Meant for main; 0001 adds a configure option, a feature: no backport labels.
    assert "This PR is meant for `main`" in pr["body"] and "main only, no backport labels" in pr["body"]
    # 0002's prior art: python-build-standalone's patch, linked.
    assert "cpython-unix/patch-ctypes-static-binary.patch)" in pr["body"]

    # The user's checkout: only the new branch (and the objects it needs) appeared.
    after = snapshot(clone)
    assert after["refs"].replace(f"{head} commit\trefs/heads/{branch}\n", "") == before["refs"]
    for key in ("head", "symbolic", "status", "worktrees", "index", "config"):
        assert after[key] == before[key], key
    print(
        f"\n--- PR title ---\n{pr['title']}\n--- PR body ---\n{pr['body']}\n--- steps ---\n"
        f"{json.dumps(report['steps'])}\n({res.duration:.1f} s)"
    )


def test_v3_13_15_needs_the_ctypes_and_ensurepip_patches(clone):
    res = upstream_cpython(clone, "--base", "v3.13.15", "--issue", ISSUE, "--no-build", "--json")
    assert res.returncode == 0, res.stderr[-4000:]
    report = json.loads(res.stdout)
    skipped = {s["patch"]: s for s in report["skipped"]}
    xx = skipped["0001-configure-add-disable-xxlimited-modules.patch"]
    assert xx["status"] == "not-applicable"
    assert "not needed for CPython 3.13.15" in xx["reason"] and "upstream has it: 3.13" in xx["reason"]
    # Applied-Upstream says 3.13 has it; the tree says in another form (gh-116303's gate).
    assert "does not apply in reverse to v3.13.15: upstream has it in another form" in xx["reason"]
    ctypes, ensurepip = report["commits"]
    assert ctypes["patch"] == "0002-ctypes-importable-without-dlopen.patch"
    assert ensurepip["patch"] == "0004-ensurepip-wheel-name-from-zipped-stdlib.patch"
    assert ctypes["applied"] == ensurepip["applied"] == "clean"
    assert ensurepip["files"][:2] == ["Lib/ensurepip/__init__.py", "Lib/test/test_ensurepip.py"]
    assert NEWS_NAME.fullmatch(ensurepip["news"]) and ensurepip["news"].startswith("Misc/NEWS.d/next/Library/")
    files = git(clone, "diff", "--name-only", "v3.13.15", report["branch"]).split()
    assert "configure" not in files  # no configure.ac change, nothing regenerated
    assert len(files) == 5 and sum(bool(NEWS_NAME.fullmatch(f)) for f in files) == 2
    assert report["evidence"]["fidelity"] is None
    body = report["pr"]["body"]
    assert "Not built (`--no-build` was given)" in body
    assert report["pr"]["title"] == (
        f"gh-{ISSUE}: Keep ctypes importable when the interpreter cannot dlopen() itself; "
        "Fix ensurepip when the standard library is in a zip file"
    )
    # Bug fixes for main, backported to the branches still taking bug fixes (by date).
    assert "This PR is meant for `main`" in body
    target = report["target_branch"]
    assert target["labels"] == [f"needs backport to {s}" for s in target["backports"]]


def test_nothing_left_to_send(clone, tmp_path):
    """0002 and 0004 already forwarded (a URL in Forwarded) and 0001 not needed for 3.13.15."""
    series = tmp_path / "patches"
    series.mkdir()
    for f in (REPO / "patches").glob("*"):
        if f.is_dir():  # the test variant's own series (patches/test-modules/): not offered upstream
            continue
        text = f.read_text()
        if f.name.startswith(("0002", "0004")):
            text = text.replace("Forwarded: no", "Forwarded: https://github.com/python/cpython/pull/130000")
        (series / f.name).write_text(text)
    before = snapshot(clone)
    res = upstream_cpython(clone, "--base", "v3.13.15", "--patches", str(series))
    assert res.returncode == 0, res.stderr[-4000:]
    assert "nothing left to send for v3.13.15" in res.stdout
    assert "already forwarded upstream: https://github.com/python/cpython/pull/130000" in res.stdout
    res = upstream_cpython(clone, "--base", "v3.13.15", "--patches", str(series), "--json")
    report = json.loads(res.stdout)
    assert report["branch"] is None and report["commits"] == [] and len(report["skipped"]) == 4
    # 0003 backports upstream's own fix: never offered back to it
    assert {s["patch"][:4]: s["status"] for s in report["skipped"]}["0003"] == "not-forwardable"
    assert snapshot(clone) == before


@pytest.mark.parametrize("case", ["not-cpython", "dirty", "existing-branch", "bad-base", "no-issue"])
def test_bad_input_leaves_the_checkout_alone(clone, tmp_path, case):
    repo, args, message = clone, ["--base", "v3.11.2", "--issue", ISSUE], None
    if case == "not-cpython":
        repo = tmp_path / "other"
        subprocess.run(["git", "init", "-q", str(repo)], check=True)
        (repo / "README.rst").write_text("This is not Python\n")
        message = "is not a CPython checkout"
    elif case == "dirty":
        (clone / "configure.ac").write_text((clone / "configure.ac").read_text() + "dnl local edit\n")
        message = "has uncommitted changes; commit or stash them first"
    elif case == "existing-branch":
        git(clone, "branch", "static-build-v3.11.2", "v3.11.2")
        message = "branch static-build-v3.11.2 already exists"
    elif case == "bad-base":
        args = ["--base", "v3.12.0", "--issue", ISSUE]
        message = "has no commit 'v3.12.0' (give --base a branch, tag or sha); latest release tags there: v3.13.15"
    elif case == "no-issue":
        args = ["--base", "v3.11.2"]
        message = "0002-ctypes-importable-without-dlopen.patch names no CPython issue"
    before = snapshot(repo) if (repo / ".git" / "index").exists() else sorted(repo.rglob("*"))
    res = upstream_cpython(repo, *args, "--no-build")
    assert res.returncode == 2, res.stderr
    assert message in res.stderr
    assert (snapshot(repo) if (repo / ".git" / "index").exists() else sorted(repo.rglob("*"))) == before


def test_failure_midway_leaves_no_branch(clone, tmp_path):
    """blurb refuses a section that does not exist: the work stops after the first commit was
    made in the private clone, and the user's repository has not seen any of it."""
    series = tmp_path / "patches"
    series.mkdir()
    for f in (REPO / "patches").glob("*"):
        if f.is_dir():  # the test variant's own series (patches/test-modules/): not offered upstream
            continue
        (series / f.name).write_text(f.read_text().replace("NEWS-Section: Library", "NEWS-Section: Nonsense"))
    before = snapshot(clone)
    res = upstream_cpython(clone, "--base", "v3.11.2", "--issue", ISSUE, "--no-build", "--patches", str(series))
    assert res.returncode == 1, res.stderr
    assert "blurb refused the NEWS entry of 0002-ctypes-importable-without-dlopen.patch" in res.stderr
    assert snapshot(clone) == before  # not even an object


def test_push_to_a_local_remote(clone, tmp_path):
    remote = tmp_path / "fork.git"
    subprocess.run(["git", "init", "--bare", "-q", str(remote)], check=True)
    git(clone, "remote", "add", "fork", str(remote))
    res = upstream_cpython(
        clone,
        "--base",
        "v3.13.15",
        "--issue",
        ISSUE,
        "--no-build",
        "--push",
        "fork",
        "--branch",
        "static-ctypes",
        "--json",
    )
    assert res.returncode == 0, res.stderr[-4000:]
    report = json.loads(res.stdout)
    assert report["pushed"] == {"remote": "fork", "ref": "refs/heads/static-ctypes"}
    assert git(remote, "rev-parse", "refs/heads/static-ctypes").strip() == report["head"]
    # Without --push nothing is sent.
    res = upstream_cpython(clone, "--base", "v3.13.15", "--issue", ISSUE, "--no-build", "--branch", "other")
    assert res.returncode == 0 and "not pushed" in res.stdout
    assert git(remote, "for-each-ref", "--format=%(refname)").split() == ["refs/heads/static-ctypes"]


def test_base_defaults_to_the_checked_out_branch(clone):
    res = upstream_cpython(clone, "--issue", ISSUE, "--no-build", "--json")
    assert res.returncode == 0, res.stderr[-4000:]
    report = json.loads(res.stdout)
    assert report["base"] == "main" and report["version"] == "3.13.15"
    assert report["branch"] == "static-build-main"
    n = len(report["commits"])  # 0002 and 0004 on 3.13.15
    assert (
        n == 2 and git(clone, "rev-parse", f"static-build-main~{n}").strip() == git(clone, "rev-parse", "main").strip()
    )
