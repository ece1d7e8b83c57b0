"""`cpython-static rebase` on a real upstream: a local git repository made at test time
from the real release tarballs (tags v3.11.2, v3.13.5, v3.13.15), the project's own patch
series (a copy: a rebase writes refreshed patches back), real autoconf, real builds."""

import json
import shutil
from pathlib import Path

import pytest

from cpython_static.build import patches
from cpython_static.verify.checks import ends_with_zip

from .conftest import run_cli

SERIES = Path(__file__).resolve().parents[2] / "patches"
P1 = "0001-configure-add-disable-xxlimited-modules.patch"
P2 = "0002-ctypes-importable-without-dlopen.patch"
P4 = "0004-ensurepip-wheel-name-from-zipped-stdlib.patch"


def _series_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "patches"
    shutil.copytree(SERIES, copy)
    return copy


def _snapshot(directory: Path) -> dict[str, bytes]:
    # rglob: patches/ holds the test variant's own series (patches/test-modules/) too
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def rebase(upstream_repo, patches_dir, tmp_path, *args):
    res = run_cli(
        "rebase",
        *args,
        "--upstream",
        str(upstream_repo),
        "--patches",
        str(patches_dir),
        "--results",
        str(tmp_path / "results"),
        "--json",
    )
    report = json.loads(res.stdout) if res.stdout.strip().startswith("{") else None
    return res, report


EXPECTED = {
    # 0001 was made against 3.11.2; 0002 against 3.13.15 (narrow -U1 context: it also fits 3.11);
    # 0004 against 3.13.15 (3.11's ensurepip writes its wheel itself: out of its range)
    "v3.11.2": {P1: {"clean"}, P2: {"clean", "offset"}, P4: {"not-applicable"}},
    "v3.13.5": {P1: {"not-applicable"}, P2: {"clean", "offset"}, P4: {"offset"}},
    "v3.13.15": {P1: {"not-applicable"}, P2: {"clean"}, P4: {"clean"}},
}


@pytest.mark.parametrize("tag", list(EXPECTED))
def test_rebase_classifies_regenerates_builds_and_refreshes(upstream_repo, tmp_path, tag):
    series = _series_copy(tmp_path)
    res, report = rebase(upstream_repo, series, tmp_path, tag)
    assert res.returncode == 0 and report and report["ok"], res.stderr[-4000:]
    statuses = {p["name"]: p["status"] for p in report["patches"]}
    for name, allowed in EXPECTED[tag].items():
        assert statuses[name] in allowed, (name, statuses[name], report["patches"])
    regen = report["regen"]
    assert regen["fidelity"] is True and regen["configure_identical"] and regen["pyconfig_identical"]
    assert regen["autoconf"] == ("2.69" if tag == "v3.11.2" else "2.71")
    assert regen["regenerated"] is (tag == "v3.11.2")  # only 0001 touches configure.ac
    assert report["build"]["ok"] and report["verify"]["ok"], (report["build"], report["verify"])
    # the build passed the options the applied patches add (0001's, on 3.11), no stand-ins
    args = report["build"]["configure_args"]  # from the build's own manifest
    # what was verified is the published one file (stdlib appended), not the cache's tree
    assert report["verify"]["binary"] == report["build"]["binary"] != report["build"]["interpreter"]
    assert ends_with_zip(Path(report["build"]["binary"]))
    assert ("--disable-xxlimited-modules" in args) is (tag == "v3.11.2")
    assert not any(a.startswith("py_cv_module_xxlimited") for a in args)
    # the refreshed series: applied patches now name TAG as their base and still load
    refreshed = {p.name: p for p in patches.load_series(series)}
    for name, status in statuses.items():
        if status in ("clean", "offset", "fuzz"):
            assert refreshed[name].base == tag
        else:
            assert (series / name).read_bytes() == (SERIES / name).read_bytes()
    assert [Path(p).name for p in report["results"]] == [f"{tag}.json", f"{tag}.md"]
    md = Path(report["results"][1]).read_text()
    assert f"Rebase onto {tag}: ok" in md and "byte-identical" in md


CONFLICTING = """Description: mark the version string as a static build
Origin: vendor, cpython-static
Forwarded: not-needed
Applied-Upstream: no
Last-Update: 2026-01-01
Python-Versions: >=3.13
Base: v3.13.5

--- a/Include/patchlevel.h
+++ b/Include/patchlevel.h
@@ -25,3 +25,3 @@
 /* Version as a string */
-#define PY_VERSION              "3.13.5"
+#define PY_VERSION              "3.13.5+static"
 /*--end constants--*/
"""


def _conflicting_series(tmp_path: Path) -> Path:
    series = _series_copy(tmp_path)
    (series / "0003-static-version-string.patch").write_text(CONFLICTING)
    with open(series / "series", "a") as f:
        f.write("0003-static-version-string.patch\n")
    return series


def test_conflict_stops_leaves_patches_untouched_and_continue_completes(upstream_repo, tmp_path):
    series = _conflicting_series(tmp_path)
    before = _snapshot(series)
    res, report = rebase(upstream_repo, series, tmp_path, "v3.13.15", "--no-build")
    assert res.returncode == 1 and report and not report["ok"], res.stderr[-3000:]
    statuses = {p["name"]: p["status"] for p in report["patches"]}
    assert statuses["0003-static-version-string.patch"] == "conflict"
    assert "--continue" in report["message"] and "--abort" in report["message"]
    assert _snapshot(series) == before  # nothing written while stopped
    header = Path(report["worktree"]) / "Include" / "patchlevel.h"
    text = header.read_text()
    assert "<<<<<<<" in text and '"3.13.15"' in text and '"3.13.5+static"' in text

    # --continue before resolving is refused; resolve, then it completes
    res, _ = rebase(upstream_repo, series, tmp_path, "--continue")
    assert res.returncode == 2 and "conflict markers remain" in res.stderr
    lines, out, skipping = text.splitlines(keepends=True), [], False
    for line in lines:
        if line.startswith("<<<<<<<"):
            skipping = True
            out.append('#define PY_VERSION              "3.13.15+static"\n')
        elif line.startswith(">>>>>>>"):
            skipping = False
        elif not skipping:
            out.append(line)
    header.write_text("".join(out))
    res, report = rebase(upstream_repo, series, tmp_path, "--continue")
    assert res.returncode == 0 and report["ok"], res.stderr[-3000:]
    statuses = {p["name"]: p["status"] for p in report["patches"]}
    assert statuses["0003-static-version-string.patch"] == "conflict"  # resolved by hand
    refreshed = (series / "0003-static-version-string.patch").read_text()
    assert "Base: v3.13.15" in refreshed and '+#define PY_VERSION              "3.13.15+static"' in refreshed
    assert '-#define PY_VERSION              "3.13.15"' in refreshed


def test_abort_drops_the_rebase(upstream_repo, tmp_path):
    series = _conflicting_series(tmp_path)
    before = _snapshot(series)
    res, report = rebase(upstream_repo, series, tmp_path, "v3.13.15", "--no-build")
    assert res.returncode == 1
    worktree = Path(report["worktree"])
    res, _ = rebase(upstream_repo, series, tmp_path, "--abort")
    assert res.returncode == 0
    assert not worktree.exists() and _snapshot(series) == before
    res, _ = rebase(upstream_repo, series, tmp_path, "--continue")
    assert res.returncode == 2 and "no rebase in progress" in res.stderr


def test_bad_tag_and_unknown_tag_are_clear(upstream_repo, tmp_path):
    series = _series_copy(tmp_path)
    res, _ = rebase(upstream_repo, series, tmp_path, "3.13.15; rm -rf /")
    assert res.returncode == 2 and "not a CPython release tag" in res.stderr
    res, _ = rebase(upstream_repo, series, tmp_path, "v3.13.99", "--no-build")
    assert res.returncode == 2 and "v3.13.99" in res.stderr and str(upstream_repo) in res.stderr
    assert _snapshot(series) == _snapshot(SERIES)


NOOP = """Description: a patch TAG does not need (a note in the README)
Origin: vendor, cpython-static
Forwarded: not-needed
Applied-Upstream: no
Last-Update: 2026-01-01
Python-Versions: >=3.13
Base: v3.13.15

--- a/README.rst
+++ b/README.rst
@@ -1,3 +1,4 @@
 This is Python version 3.13.15
 ==============================
+(built by cpython-static)
 
"""


def test_superseded_is_proved_by_building(upstream_repo, tmp_path):
    """Reverting the patch, the rebased tree must still build and verify: then it is
    superseded, reported so, and not written back.  (The tree without it is the plain
    0002 + 0004 tree the v3.13.15 rebase above built, so the cache usually has it.)"""
    series = _series_copy(tmp_path)
    (series / "0003-readme-note.patch").write_text(NOOP)
    with open(series / "series", "a") as f:
        f.write("0003-readme-note.patch\n")
    res, report = rebase(
        upstream_repo, series, tmp_path, "v3.13.15", "--no-build", "--check-superseded", "0003-readme-note.patch"
    )
    assert res.returncode == 0 and report["ok"], res.stderr[-3000:]
    outcome = next(p for p in report["patches"] if p["name"] == "0003-readme-note.patch")
    assert outcome["status"] == "superseded" and "builds and verifies without it" in outcome["detail"]
    assert (series / "0003-readme-note.patch").read_text() == NOOP  # not refreshed: to be dropped
    assert "Base: v3.13.15" in (series / P2).read_text()
