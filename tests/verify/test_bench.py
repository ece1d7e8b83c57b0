"""Fast tier for verify/bench.py: the maths (hypothesis), pyperf's result format, the subset
table, and every input the command refuses before it builds anything.  The real runs against
Debian's python3.11 are in tests/real/test_bench.py."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cpython_static.cli.main import main
from cpython_static.core.cache import Cache
from cpython_static.core.errors import UsageError, WorkFailed
from cpython_static.core.runner import Runner, StepFailed
from cpython_static.verify import bench as B

HOST_PYTHON = str(Path(sys.executable).resolve())

ratios = st.lists(st.floats(min_value=1e-3, max_value=1e3), min_size=1, max_size=60)


def write_exe(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(0o755)
    return path


# ================================================================ geometric mean and ratios
@given(st.floats(min_value=1e-3, max_value=1e3), st.integers(min_value=1, max_value=60))
def test_geomean_of_identical_ratios_is_that_ratio(r, n):
    assert math.isclose(B.geometric_mean([r] * n), r, rel_tol=1e-9)


@given(ratios, st.floats(min_value=1e-2, max_value=1e2))
def test_geomean_scales_with_its_values(values, k):
    assert math.isclose(B.geometric_mean(v * k for v in values), k * B.geometric_mean(values), rel_tol=1e-9)


@given(ratios)
def test_geomean_of_inverse_ratios_is_the_inverse(values):
    """Swapping the sides turns every ratio over: the summary must turn over with them."""
    assert math.isclose(B.geometric_mean(values) * B.geometric_mean(1 / v for v in values), 1.0, rel_tol=1e-9)


@given(ratios)
def test_geomean_lies_between_the_extremes_in_any_order(values):
    g = B.geometric_mean(values)
    assert min(values) * (1 - 1e-9) <= g <= max(values) * (1 + 1e-9)
    assert math.isclose(B.geometric_mean(sorted(values, reverse=True)), g, rel_tol=1e-9)


def test_geomean_of_nothing_is_none():
    assert B.geometric_mean([]) is None


def test_geomean_of_many_large_ratios_does_not_overflow():
    assert math.isclose(B.geometric_mean([1e300] * 10), 1e300, rel_tol=1e-9)


def test_ratio_is_ours_over_ref_and_none_without_both():
    assert B.ratio(2.0, 1.0) == 2.0  # ours twice as slow
    assert B.ratio(None, 1.0) is None and B.ratio(1.0, None) is None
    assert B.ratio(1.0, 0.0) is None and B.ratio(0, 1.0) is None


def m(mean, rss=None):
    return B.Measurement(mean, 0.0, 3, rss)


def test_summary_covers_only_benchmarks_measured_on_both_sides():
    rows = {
        "a": B.compare(m(2.0, 20), m(1.0, 10)),
        "b": B.compare(m(0.5, 10), m(1.0, 10)),
        "c": B.compare(None, m(1.0, 10)),  # failed on our side
        "d": B.compare(m(3.0, None), m(1.0, None)),  # no mem_max_rss either side
    }
    assert rows["a"]["ratio"] == 2.0 and rows["a"]["rss_ratio"] == 2.0
    assert rows["c"]["ratio"] is None and rows["c"]["ours"] is None
    s = B.summarize(rows)
    assert s["benchmarks"] == 3 and s["of"] == 4 and s["missing"] == ["c"]
    assert math.isclose(s["ratio"], (2.0 * 0.5 * 3.0) ** (1 / 3))
    assert math.isclose(s["rss_ratio"], math.sqrt(2.0 * 1.0))
    assert s["worst"] == {"name": "d", "ratio": 3.0}


def test_summary_of_nothing_measured():
    s = B.summarize({"a": B.compare(None, m(1.0))})
    assert s["ratio"] is None and s["worst"] is None and s["missing"] == ["a"]


# ================================================================ pyperf's result files
def pyperf_result(name="nbody", **bench_meta) -> dict:
    """The shape of `run_benchmark.py --processes 2 --values 2 -o x.json` (pyperf 2.11.0,
    format 1.0), trimmed: a calibration run (warm-ups only), then two worker runs."""
    return {
        "version": "1.0",
        "metadata": {"name": name, "perf_version": "2.11.0", "unit": "second", "loops": 2},
        "benchmarks": [
            {
                "metadata": bench_meta,
                "runs": [
                    {
                        "metadata": {"calibrate_loops": 2, "mem_max_rss": 30_000_000, "duration": 0.5},
                        "warmups": [[1, 0.0904], [2, 0.0969], [2, 0.0899]],
                    },
                    {"metadata": {"mem_max_rss": 19_894_272}, "warmups": [[2, 9.0]], "values": [0.09, 0.10]},
                    {"metadata": {"mem_max_rss": 19_902_464}, "warmups": [[2, 9.0]], "values": [0.11, 0.12]},
                ],
            }
        ],
    }


def test_measurement_counts_values_only_not_warmups_or_calibration():
    got = B.measurement(pyperf_result(), "nbody")
    assert got.values == 4
    assert math.isclose(got.mean_s, 0.105)
    assert math.isclose(got.stdev_s, 0.0129099, rel_tol=1e-4)


def test_peak_rss_is_the_maximum_over_runs():
    assert B.measurement(pyperf_result(), "nbody").max_rss_bytes == 30_000_000


def test_rss_that_pyperf_moved_up_to_the_benchmark_is_found():
    """pyperf stores metadata every run shares once, at the benchmark (or the file)."""
    data = pyperf_result(mem_max_rss=12_345_678)
    for run in data["benchmarks"][0]["runs"]:
        run["metadata"].pop("mem_max_rss")
    assert B.measurement(data, "nbody").max_rss_bytes == 12_345_678
    del data["benchmarks"][0]["metadata"]["mem_max_rss"]
    assert B.measurement(data, "nbody").max_rss_bytes is None


def test_a_command_benchmark_s_rss_is_its_child_s():
    """bench_command benchmarks (pyperformance's 2to3, python_startup) time a child process:
    pyperf records its peak as command_max_rss, at the file level when the runs agree."""
    data = pyperf_result(command_max_rss=55_000_000)
    for run in data["benchmarks"][0]["runs"]:
        run["metadata"].pop("mem_max_rss")
    assert B.measurement(data, "nbody").max_rss_bytes == 55_000_000


def test_a_file_of_several_benchmarks_is_read_by_name():
    data = pyperf_result("ignored")
    first = data["benchmarks"][0]
    other = json.loads(json.dumps(first))
    first["metadata"]["name"] = "deepcopy"
    other["metadata"]["name"] = "deepcopy_memo"
    other["runs"][1]["values"] = [1.0, 1.0]
    other["runs"][2]["values"] = [1.0, 1.0]
    data["benchmarks"].append(other)
    assert B.measurement(data, "deepcopy_memo").mean_s == 1.0
    assert math.isclose(B.measurement(data, "deepcopy").mean_s, 0.105)
    with pytest.raises(ValueError, match="deepcopy_reduce"):
        B.measurement(data, "deepcopy_reduce")


def test_a_file_of_one_benchmark_is_it_whatever_pyperf_named_it():
    assert B.measurement(pyperf_result("create_gc_cycles"), "gc_collect").values == 4


def test_calibration_runs_only_is_no_measurement():
    data = pyperf_result()
    data["benchmarks"][0]["runs"] = data["benchmarks"][0]["runs"][:1]
    with pytest.raises(ValueError, match="calibration"):
        B.measurement(data, "nbody")


# ================================================================ the subset table
def test_the_subset_loads_pinned_and_named():
    subset = B.load_subset()
    assert subset.label == "static-vs-distro v1"
    assert subset.pyperformance == "1.14.0" and subset.pyperf == "2.11.0"
    assert subset.python_min == (3, 11)
    assert len(subset.benchmarks) >= 30


def test_every_entry_names_a_bm_dir_and_says_why():
    for bm in B.load_subset().benchmarks.values():
        assert bm.dir.startswith("bm_") and "/" not in bm.dir, bm
        assert bm.why.strip(), bm
        assert all(isinstance(a, str) for a in bm.args), bm


def test_a_table_with_a_bad_dir_or_no_why_is_refused(tmp_path):
    head = '[subset]\nname = "x"\nversion = 1\npyperformance = "1"\npyperf = "2"\npython_min = "3.11"\n'
    bad = tmp_path / "bench.toml"
    bad.write_text(head + '[benchmarks]\nnbody = { dir = "nbody", why = "w" }\n')
    with pytest.raises(ValueError, match="bm_"):
        B.load_subset(bad)
    bad.write_text(head + '[benchmarks]\nnbody = { dir = "bm_nbody", why = " " }\n')
    with pytest.raises(ValueError, match="why"):
        B.load_subset(bad)


def test_select_keeps_order_and_refuses_unknown_names_listing_the_known():
    subset = B.load_subset()
    assert [b.name for b in B.select(subset, ["json_dumps", "nbody", "nbody"])] == ["json_dumps", "nbody"]
    assert len(B.select(subset, None)) == len(subset.benchmarks)
    with pytest.raises(UsageError) as info:
        B.select(subset, ["nbody", "no_such_bench"])
    text = str(info.value)
    assert "no_such_bench" in text and "static-vs-distro v1" in text and "telco" in text and "json_dumps" in text


def test_extract_benchmarks_takes_only_the_chosen_dirs(tmp_path):
    wheel = tmp_path / "pyperformance-1.14.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for name in ("bm_nbody/run_benchmark.py", "bm_telco/data/telco-bench.b", "bm_go/run_benchmark.py"):
            zf.writestr(f"pyperformance/data-files/benchmarks/{name}", name)
        zf.writestr("pyperformance/__init__.py", "")
    out = B.extract_benchmarks(wheel, ["bm_nbody", "bm_telco"], tmp_path / "benchmarks")
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()) == [
        "bm_nbody/run_benchmark.py",
        "bm_telco/data/telco-bench.b",
    ]
    assert B.wheel_of(tmp_path, "pyperformance", "1.14.0") == wheel
    with pytest.raises(WorkFailed, match="pyperf 2.11.0"):
        B.wheel_of(tmp_path, "pyperf", "2.11.0")


def fake_pyperf_wheel(directory: Path, version="2.11.0") -> Path:
    wheel = directory / f"pyperf-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("pyperf/__init__.py", f"__version__ = {version!r}\n")
        zf.writestr(f"pyperf-{version}.dist-info/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\n")
    return wheel


def test_a_venv_gets_pyperf_without_pip_and_is_cached(tmp_path):
    """The venv step on the host's own Python: --without-pip, pyperf unpacked into the
    site-packages the venv's interpreter reports, checked by importing it; the second call
    for the same interpreter reuses the entry."""
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    fake_pyperf_wheel(wheels)
    runner = Runner(tmp_path / "logs")
    venvs, subset, env = Cache(tmp_path / "bench"), B.load_subset(), B.clean_env(str(tmp_path))
    venv = B.make_venv(venvs, runner, B.Place(), "ref", HOST_PYTHON, subset, wheels, env)
    assert venv.parent == tmp_path / "bench" / "venvs"
    assert not list(venv.glob("bin/pip*"))
    out = subprocess.run(
        [venv / "bin/python", "-c", "import pyperf; print(pyperf.__file__)"], capture_output=True, text=True
    )
    assert Path(out.stdout.strip()).is_relative_to(venv)
    logs = sorted(p.name for p in (tmp_path / "logs").iterdir())
    assert B.make_venv(venvs, runner, B.Place(), "ref", HOST_PYTHON, subset, wheels, env) == venv
    assert sorted(p.name for p in (tmp_path / "logs").iterdir()) == logs  # nothing ran again


def test_a_venv_whose_pyperf_does_not_import_is_not_cached(tmp_path):
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    fake_pyperf_wheel(wheels, version="2.11.0").rename(wheels / "pyperf-2.11.0-py3-none-any.whl.x")
    fake_pyperf_wheel(wheels, version="0.0.1").rename(wheels / "pyperf-2.11.0-py3-none-any.whl")  # wrong inside
    venvs = Cache(tmp_path / "bench")
    with pytest.raises(StepFailed, match="import pyperf"):
        B.make_venv(venvs, Runner(tmp_path / "logs"), B.Place(), "ref", HOST_PYTHON, B.load_subset(), wheels, {})
    assert not (tmp_path / "bench" / "venvs").exists() or not any((tmp_path / "bench" / "venvs").iterdir())


# ================================================================ inputs refused before any work
def prepare(tmp_path, against, **kw):
    return B.prepare(HOST_PYTHON, against, cache_root=tmp_path / "cache", **kw)


@pytest.mark.parametrize(
    "script, why",
    [
        (None, "printed no answer"),  # /bin/true: runs, exits 0, says nothing
        ("#!/bin/sh\necho 'python: broken' >&2\nexit 1\n", "exit status 1"),
        ("#!/bin/sh\necho not json\n", "printed no answer"),
    ],
)
def test_a_reference_that_is_not_a_python_is_a_usage_error_naming_it(tmp_path, script, why):
    against = "/bin/true" if script is None else str(write_exe(tmp_path / "python3", script))
    with pytest.raises(UsageError) as info:
        prepare(tmp_path, against)
    text = str(info.value)
    assert against in text and "not a Python" in text and why in text and "tried" in text
    assert not (tmp_path / "cache").exists()  # refused before any venv, download or directory


def test_a_reference_that_cannot_run_is_a_usage_error(tmp_path):
    not_exe = tmp_path / "python3"
    not_exe.write_text("#!/bin/sh\n")
    for against in (str(not_exe), str(tmp_path / "nope"), "no-such-python-anywhere"):
        with pytest.raises(UsageError, match="no-such-python-anywhere|not a runnable Python") as info:
            prepare(tmp_path, against)
        assert against in str(info.value)


def test_a_python_older_than_pyperf_needs_is_refused(tmp_path):
    old = write_exe(
        tmp_path / "python3.10",
        '#!/bin/sh\necho \'{"executable": "/x", "realpath": "/x", "version": "3.10.12", '
        '"sys_version": "3.10.12", "version_info": [3, 10], "implementation": "cpython"}\'\n',
    )
    with pytest.raises(UsageError, match=r"3\.10\.12; pyperf 2\.11\.0 needs 3\.11 or newer"):
        prepare(tmp_path, str(old))


def test_binary_must_be_a_file_and_a_python(tmp_path):
    with pytest.raises(UsageError, match="no such file"):
        B.prepare(str(tmp_path / "nope"), HOST_PYTHON, cache_root=tmp_path)
    with pytest.raises(UsageError, match="BINARY .*not a Python"):
        B.prepare(str(write_exe(tmp_path / "fake", "#!/bin/sh\nexit 3\n")), HOST_PYTHON, cache_root=tmp_path)


def test_unknown_benchmark_is_refused_before_probing(tmp_path):
    with pytest.raises(UsageError, match="unknown benchmark"):
        prepare(tmp_path, "/bin/true", names=["nbody", "nbodyy"])


def test_chroot_inputs_are_checked(tmp_path):
    with pytest.raises(UsageError, match="not a directory"):
        prepare(tmp_path, "/usr/bin/python3", chroot=str(tmp_path / "nope"))
    if B.os.geteuid() == 0:
        with pytest.raises(UsageError, match="path inside"):
            prepare(tmp_path, "python3", chroot=str(tmp_path))


def test_a_good_plan_names_both_pythons_and_a_work_dir_under_the_cache(tmp_path):
    plan = prepare(tmp_path, HOST_PYTHON, names=["nbody"])
    assert plan.pythons == {"ours": HOST_PYTHON, "ref": HOST_PYTHON}
    assert plan.identities["ref"]["version"] == ".".join(map(str, sys.version_info[:3]))
    assert plan.identities["ours"]["sys_version"] == sys.version
    assert plan.work.parent == tmp_path / "cache" / "bench" and "-bench-" in plan.work.name
    assert [b.name for b in plan.benchmarks] == ["nbody"]
    assert not (tmp_path / "cache").exists()


def test_the_command_line_exits_2_naming_the_bad_reference(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CPYTHON_STATIC_CACHE", str(tmp_path / "cache"))
    assert main(["bench", HOST_PYTHON, "--against", "/bin/true"]) == 2
    err = capsys.readouterr().err
    assert "error: --against /bin/true: not a Python" in err
    assert main(["bench", HOST_PYTHON, "--against", HOST_PYTHON, "--benchmarks", "nbody,bogus"]) == 2
    assert "unknown benchmark(s) bogus" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["bench", HOST_PYTHON, "--against", HOST_PYTHON, "--processes", "0"])
    assert info.value.code == 2
    assert not (tmp_path / "cache").exists()


def test_help_teaches_the_method_and_the_canonical_comparisons(capsys):
    with pytest.raises(SystemExit):
        main(["bench", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for words in (
        "pyperf",
        "alternate",
        "geometric mean",
        "above 1 BINARY is slower",
        "/usr/bin/python3.11 is 3.11.2",
        "--chroot /srv/trixie --against /usr/bin/python3.13",
        "3.13.5",
        "mem_max_rss",
    ):
        assert words in text, words


# ================================================================ start-up timing and the report
def test_startup_alternates_and_records_a_failing_side(tmp_path):
    broken = write_exe(tmp_path / "python3", "#!/bin/sh\necho 'no such module' >&2\nexit 1\n")
    table, errors = B.time_startup(B.Place(), {"ours": HOST_PYTHON, "ref": str(broken)}, runs=2, env=B.clean_env("/"))
    assert set(table) == set(B.STARTUP)
    for row in table.values():
        assert row["ours"]["runs"] == 2 and row["ours"]["median_ms"] > 0
        assert row["ref"] is None and row["ratio"] is None
    assert {e["startup"] for e in errors} == set(B.STARTUP)
    assert all(e["side"] == "ref" and "no such module" in e["stderr_tail"] for e in errors)


def test_place_maps_paths_in_and_out_of_the_root(tmp_path):
    host = B.Place()
    assert host.inside(tmp_path / "x") == str(tmp_path / "x") and host.command(["py"]) == ["py"]
    root = B.Place(tmp_path, "/usr/sbin/chroot")
    assert root.inside(tmp_path / "tmp/w/bench.json") == "/tmp/w/bench.json"
    assert root.outside("/usr/bin/python3.13") == tmp_path / "usr/bin/python3.13"
    assert root.command(["/usr/bin/python3.13", "-c", "pass"])[:2] == ["/usr/sbin/chroot", str(tmp_path)]


@pytest.mark.parametrize(
    "seconds, text",
    [
        (1.5, "1.50 s"),
        (0.0893, "89.3 ms"),
        (0.101, "101 ms"),
        (0.99996, "1.00 s"),
        (2.4e-6, "2.40 us"),
        (5e-8, "50.0 ns"),
    ],
)
def test_durations_read_in_their_unit(seconds, text):
    assert B.duration(seconds) == text


def test_render_shows_the_table_the_summary_and_the_failures():
    rows = {"nbody": B.compare(m(0.09, 20_000_000), m(0.075, 18_000_000)), "sqlite_synth": B.compare(m(2e-6), None)}
    ident = {"path": "/p", "sys_version": "3.11.2 (main)\n[GCC]"}
    result = {
        "subset": {"name": "static-vs-distro", "version": 1},
        "pyperformance": "1.14.0",
        "pyperf": "2.11.0",
        "method": {"processes": 6, "values": 3, "startup_runs": 30},
        "chroot": None,
        "pythons": {"ours": ident, "ref": ident},
        "benchmarks": rows,
        "summary": B.summarize(rows),
        "startup": {"-c pass": {"ours": {"median_ms": 18.7}, "ref": {"median_ms": 9.7}, "ratio": 18.7 / 9.7}},
        "size_bytes": 25_175_552,
        "errors": [
            {"side": "ref", "benchmark": "sqlite_synth", "log": "/l", "stderr_tail": "No module named '_sqlite3'"}
        ],
        "results": "/w/bench.json",
        "logs": "/w/logs",
    }
    text = B.render(result)
    assert "| benchmark | ours | ref | ratio | RSS ours MB | RSS ref MB | RSS ratio |" in text
    assert "| nbody | 90.0 ms | 75.0 ms | 1.20 | 20.0 | 18.0 | 1.11 |" in text
    assert "| sqlite_synth | 2.00 us | — | — | — | — | — |" in text
    assert "1.200 over the 1 of 2 benchmarks measured on both sides (not: sqlite_synth)" in text
    assert "Worst: nbody at 1.20" in text
    assert "| `python -c pass` | 18.7 | 9.7 | 1.93 |" in text
    assert "25,175,552 bytes" in text
    assert "FAILED on ref: benchmark sqlite_synth (log: /l)" in text and "_sqlite3" in text
    assert "Results: /w/bench.json" in text


def test_side_env_items_are_parsed_and_bad_ones_named():
    assert B.parse_side_env(["ours:PYTHONMALLOC=pymalloc", "ref:A=1", "ref:B="]) == {
        "ours": {"PYTHONMALLOC": "pymalloc"},
        "ref": {"A": "1", "B": ""},
    }
    for bad in ("PYTHONMALLOC=pymalloc", "theirs:A=1", "ours:A", "ours:=1"):
        with pytest.raises(UsageError, match="SIDE:VAR=VALUE"):
            B.parse_side_env([bad])
