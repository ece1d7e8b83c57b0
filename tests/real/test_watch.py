"""`cpython-static watch` against a local bare upstream made from the real release tarballs:
real ls-remote, real rebases, regeneration, static builds (shared with the rebase tests
through the cache: the same trees) and verification."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cpython_static.core.git import GIT_ENV
from cpython_static.core.runner import Runner

from .conftest import run_cli

T64 = "x86_64-linux-musl"


def _git(runner, *args, cwd):
    return runner.run(f"git {args[0]}", ["git", *args], cwd=cwd, env=GIT_ENV, capture=True)


@pytest.fixture(scope="module")
def bare_upstream(upstream_repo, tmp_path_factory):
    """A bare copy of the test upstream holding only v3.11.2 and v3.13.5 (v3.13.15 is
    pushed later, as a new release would be)."""
    base = tmp_path_factory.mktemp("bare")
    runner = Runner(base / "logs")
    bare = base / "cpython.git"
    _git(runner, "clone", "--bare", "--quiet", str(upstream_repo), str(bare), cwd=base)
    _git(runner, "tag", "-d", "v3.13.15", cwd=bare)
    return bare, runner


def watch(state: Path, upstream, *args):
    # CPython's whole suite per tag takes tens of minutes: one file where a test asks for it.
    suite = () if "--stdlib-test" in args else ("--no-stdlib-tests",)
    res = run_cli("watch", "--upstream", str(upstream), "--state", str(state), "--json", *suite, *args)
    out = json.loads(res.stdout) if res.stdout.strip().startswith("{") else None
    return res, out


SERIES = Path(__file__).resolve().parents[2] / "patches"


def _snapshot(directory: Path) -> dict[str, bytes]:
    # rglob: patches/ holds the test variant's own series (patches/test-modules/) too
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def test_three_runs_process_2_then_0_then_1(bare_upstream, upstream_repo, tmp_path):
    bare, runner = bare_upstream
    state = tmp_path / "watch" / "state.json"
    series_before = _snapshot(SERIES)

    res, out = watch(state, bare, "--stdlib-test", "test_zipimport")
    assert res.returncode == 0, res.stderr[-4000:]
    assert [(p["tag"], p["target"], p["ok"]) for p in out["processed"]] == [
        ("v3.11.2", T64, True),
        ("v3.13.5", T64, True),
    ], res.stderr[-4000:]
    first = res.duration
    recorded = json.loads(state.read_text())["results"]
    assert set(recorded) == {"v3.11.2", "v3.13.5"}
    e = recorded["v3.11.2"][T64]
    assert e["status"] == "ok" and e["regen"]["fidelity"] and e["regen"]["regenerated"]
    assert e["build"]["ok"] and e["verify"]["ok"] and e["duration_s"] > 0
    assert {p["name"][:4]: p["status"] for p in recorded["v3.13.5"][T64]["patches"]}["0001"] == "not-applicable"
    # CPython's own suite (one file of it here) ran with each tag's file, from the tag's Lib/test
    for tag in ("v3.11.2", "v3.13.5"):
        suite = recorded[tag][T64]["stdlib_tests"]
        assert suite["ok"] and suite["tests"] == ["test_zipimport"] and suite["ran"] == 1, suite
        assert suite["unexpected"] == [] and Path(suite["log"]).is_file()

    # the matrix pages show both, newest first
    pages = tmp_path / "watch"
    rows = json.loads((pages / "index.json").read_text())["rows"]
    assert [r["tag"] for r in rows] == ["v3.13.5", "v3.11.2"]
    assert all(r["build"].startswith("ok") and r["verify"] == "ok" for r in rows)
    assert all(r["stdlib_tests"] == "ok: 1 file, 0 listed (only test_zipimport)" for r in rows)
    html = (pages / "index.html").read_text()
    assert html.index("v3.13.5") < html.index("v3.11.2") and "autoconf 2.69: identical" in html
    assert "| v3.13.5 | x86_64-linux-musl | ok |" in (pages / "index.md").read_text()

    # nothing new: nothing done, and it says so
    before = state.read_bytes()
    res, out = watch(state, bare)
    assert res.returncode == 0 and out["processed"] == [], res.stderr[-2000:]
    assert "nothing new" in out["message"]
    assert {s["tag"] for s in out["skipped"]} == {"v3.11.2", "v3.13.5"}
    assert state.read_bytes() == before
    res_human = run_cli("watch", "--upstream", str(bare), "--state", str(state), "--no-stdlib-tests")
    assert res_human.returncode == 0 and "nothing new" in res_human.stdout

    # a new release appears upstream: exactly that one is processed
    _git(runner, "push", "--quiet", str(bare), "refs/tags/v3.13.15:refs/tags/v3.13.15", cwd=upstream_repo)
    res, out = watch(state, bare)
    assert res.returncode == 0, res.stderr[-4000:]
    assert [(p["tag"], p["ok"]) for p in out["processed"]] == [("v3.13.15", True)]
    rows = json.loads((pages / "index.json").read_text())["rows"]
    assert [r["tag"] for r in rows] == ["v3.13.15", "v3.13.5", "v3.11.2"]
    sys.stderr.write(f"watch: first run (2 tags) {first:.0f} s, third run (1 tag) {res.duration:.0f} s\n")
    # the watcher never rewrites the project's series (its rebases refresh a copy)
    assert _snapshot(SERIES) == series_before


def _wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


def _running(state: Path, tag: str) -> bool:
    try:
        return json.loads(state.read_text())["results"][tag][T64]["status"] == "running"
    except (OSError, ValueError, KeyError):
        return False


def test_killed_run_is_retried_and_a_concurrent_run_exits_clearly(upstream_repo, tmp_path):
    state = tmp_path / "state.json"
    argv = [
        sys.executable,
        "-m",
        "cpython_static",
        "watch",
        "--upstream",
        str(upstream_repo),
        "--state",
        str(state),
        "--max-tags",
        "1",
        "--no-stdlib-tests",
        "--json",
    ]
    first = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        _wait_for(lambda: _running(state, "v3.11.2"), 300, "the first run to start v3.11.2")
        time.sleep(1.5)  # well inside the tag's work (fetch, worktree, fidelity)

        # a second run while the first holds the lock: exits 2 at once, changes nothing
        snapshot = state.read_bytes()
        res, out = watch(state, upstream_repo)
        assert res.returncode == 2, res.stderr
        assert "another watch run holds" in res.stderr and f"pid {first.pid}" in res.stderr
        assert out["processed"] == [] and state.read_bytes() == snapshot
    finally:
        os.killpg(first.pid, signal.SIGKILL)  # the watcher and everything it started
        first.communicate()

    # killed mid-tag: recorded as not done
    assert json.loads(state.read_text())["results"]["v3.11.2"][T64]["status"] == "running"
    res, out = watch(state, upstream_repo, "--max-tags", "1")
    assert res.returncode == 0, res.stderr[-4000:]
    assert [(p["tag"], p["ok"]) for p in out["processed"]] == [("v3.11.2", True)]
    assert "retrying" in res.stderr
    recorded = json.loads(state.read_text())["results"]
    assert list(recorded) == ["v3.11.2"] and list(recorded["v3.11.2"]) == [T64]
    assert recorded["v3.11.2"][T64]["status"] == "ok"
    assert [p for p in out["skipped"] if "next run" in p["reason"]]  # --max-tags held the rest back


def test_a_failing_tag_exits_1_with_a_ready_report(upstream_repo, tmp_path):
    """A release the series cannot build: another local upstream whose v3.13.15 names a
    source file that does not exist in Modules/Setup.stdlib.in (a real build failure)."""
    runner = Runner(tmp_path / "logs")
    repo = tmp_path / "broken"
    _git(runner, "clone", "--quiet", "--branch", "v3.13.15", str(upstream_repo), str(repo), cwd=tmp_path)
    setup = repo / "Modules" / "Setup.stdlib.in"
    setup.write_text(
        setup.read_text().replace("@MODULE__JSON_TRUE@_json _json.c", "@MODULE__JSON_TRUE@_json _json.c no_such_file.c")
    )
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    runner.run("git commit", ["git", "commit", "-qam", "break _json"], cwd=repo, env={**GIT_ENV, **env})
    runner.run("git tag", ["git", "tag", "-f", "v3.13.15"], cwd=repo, env={**GIT_ENV, **env})
    state = tmp_path / "state.json"
    res, out = watch(state, repo, "--tag", "v3.13.15")
    assert res.returncode == 1, res.stderr[-4000:]
    assert [(p["tag"], p["ok"], p["failed_step"]) for p in out["processed"]] == [("v3.13.15", False, "build")]
    report = Path(out["failures"][0])
    text = report.read_text()
    assert "fails at build" in text and "v3.13.15" in text
    errors = text.split("Error lines in the log:", 1)[1].split("```")[1]
    assert "No rule to make target 'Modules/no_such_file.c'" in errors  # the cause, up front
    assert "- command: `" in text
    assert json.loads(state.read_text())["results"]["v3.13.15"][T64]["status"] == "failed"
    # recorded as done: the next run does not build it again
    res, out = watch(state, repo, "--tag", "v3.13.15")
    assert res.returncode == 0 and out["processed"] == []
