"""Real tier for `bench`: the session's 3.13.15 x86_64 one file against Debian's own
/usr/bin/python3.11, through real venvs, pip, pyperf and pyperformance's benchmark files, with
the smallest pyperf run that still measures (--processes 1 --values 1).  Speed is measured,
never asserted."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

from .conftest import VERSION, run_cli

DEBIAN_PYTHON = Path("/usr/bin/python3.11")
QUICK = ["--processes", "1", "--values", "1", "--startup-runs", "3", "--json"]

pytestmark = pytest.mark.skipif(not DEBIAN_PYTHON.is_file(), reason=f"no {DEBIAN_PYTHON} on this machine")


@pytest.fixture(scope="module")
def one_file(build_x86_64) -> Path:
    return Path(build_x86_64[0]["binary"])


def without_sqlite3(dest: Path) -> Path:
    """Debian's python3.11 relocated to ``dest`` minus its _sqlite3 extension: a reference in
    which exactly one benchmark (sqlite_synth) fails, as it would on a Python built without
    SQLite's headers.  pip, venv and pyperf never import sqlite3, so the venv still works.
    CPython finds its prefix from the executable's location, so a copy of the executable
    beside symlinks to the standard library is a complete installation."""
    stdlib = Path("/usr/lib/python3.11")
    lib = dest / "lib/python3.11"
    (lib / "lib-dynload").mkdir(parents=True)
    (dest / "bin").mkdir()
    for entry in stdlib.iterdir():
        if entry.name != "lib-dynload":
            (lib / entry.name).symlink_to(entry)
    for ext in (stdlib / "lib-dynload").iterdir():
        if not ext.name.startswith("_sqlite3."):
            (lib / "lib-dynload" / ext.name).symlink_to(ext)
    shutil.copy2(DEBIAN_PYTHON, dest / "bin/python3.11")
    return dest / "bin/python3.11"


def test_bench_against_debian_python(one_file, tmp_path):
    out = tmp_path / "work"
    res = run_cli(
        "bench", one_file, "--against", DEBIAN_PYTHON, "--benchmarks", "nbody,json_dumps", "--out", out, *QUICK
    )
    assert res.returncode == 0, res.stderr[-4000:]
    result = json.loads(res.stdout)
    assert result["complete"] and result["errors"] == []
    assert result["pythons"]["ours"]["version"] == VERSION
    assert result["pythons"]["ref"]["version"].startswith("3.11.")
    assert result["subset"] == {"name": "static-vs-distro", "version": 1}
    assert list(result["benchmarks"]) == ["nbody", "json_dumps"]
    for name, row in result["benchmarks"].items():
        for side in ("ours", "ref"):
            assert row[side]["values"] == 1 and row[side]["mean_s"] > 0, (name, side)
            assert row[side]["max_rss_bytes"] > 1_000_000, (name, side)
        assert 0 < row["ratio"] < math.inf and 0 < row["rss_ratio"] < math.inf
        assert (out / "results/ours" / f"{name}.json").is_file() and (out / "results/ref" / f"{name}.json").is_file()
    summary = result["summary"]
    assert summary["benchmarks"] == 2 and summary["missing"] == [] and 0 < summary["ratio"] < math.inf
    for cmd, row in result["startup"].items():
        assert row["ours"]["runs"] == 3 and row["ref"]["median_ms"] > 0 and row["ratio"] > 0, cmd
    assert result["size_bytes"] == one_file.stat().st_size
    assert json.loads((out / "bench.json").read_text()) == result


def test_a_benchmark_failing_on_one_side_keeps_the_others(one_file, tmp_path):
    reference = without_sqlite3(tmp_path / "python-without-sqlite3")
    out = tmp_path / "work"
    res = run_cli("bench", one_file, "--against", reference, "--benchmarks", "nbody,sqlite_synth", "--out", out, *QUICK)
    assert res.returncode == 1, res.stderr[-4000:]
    result = json.loads(res.stdout)
    assert json.loads((out / "bench.json").read_text()) == result
    assert result["complete"]

    failed = [e for e in result["errors"] if "benchmark" in e]
    assert [(e["side"], e["benchmark"]) for e in failed] == [("ref", "sqlite_synth")]
    assert "_sqlite3" in failed[0]["stderr_tail"]
    # The log stays where every command's logs go (the one rule: <cache>/logs/<run id>).
    assert Path(failed[0]["log"]).is_file() and Path(failed[0]["log"]).is_relative_to(result["logs"])
    # The start-up command importing sqlite3 fails on that side too; the others are timed.
    assert {e["startup"] for e in result["errors"] if "startup" in e} == {
        cmd for cmd in result["startup"] if "sqlite3" in cmd
    }
    assert result["startup"]["-c pass"]["ratio"] > 0

    rows = result["benchmarks"]
    assert rows["nbody"]["ratio"] > 0
    assert rows["sqlite_synth"]["ours"]["mean_s"] > 0 and rows["sqlite_synth"]["ref"] is None
    assert rows["sqlite_synth"]["ratio"] is None
    assert result["summary"]["benchmarks"] == 1 and result["summary"]["missing"] == ["sqlite_synth"]
    assert math.isclose(result["summary"]["ratio"], rows["nbody"]["ratio"])
    assert "sqlite_synth (ref)" in res.stderr and "only the 1 benchmarks measured on both sides" in res.stderr
