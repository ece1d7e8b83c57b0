"""`verify --stdlib-tests` orchestration (cli/verify.py): which file runs which test files,
what the report says of each, and the refusals, with the runs themselves stood in for."""

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from cpython_static.cli import verify as cli_verify
from cpython_static.cli.main import build_parser
from cpython_static.core.errors import UsageError
from cpython_static.verify import stdlib_tests as S
from cpython_static.verify.modules import load_module_tables

VARIANT_MODULES = sorted(
    load_module_tables(variant="test-modules")["3.13"].builtin - load_module_tables()["3.13"].builtin
)


@pytest.fixture
def stand_ins(monkeypatch, tmp_path):
    """Every outside effect replaced: the binaries answer 3.13.15 (the variant with its test
    modules), Lib/test is a directory of three files, regrtest is recorded."""
    runs = []
    lib_test = tmp_path / "Lib" / "test"
    lib_test.mkdir(parents=True)
    for name in ("test_zz_plain", "test_class", "test_traceback"):
        (lib_test / f"{name}.py").write_text("")

    class Runner:
        base_env = {"PATH": ""}

        def run(self, step, argv, **kw):
            modules = VARIANT_MODULES if "test-modules" in argv[0] else ["sys"]
            return SimpleNamespace(output="3.13.15\n" + " ".join(modules) + "\n")

    class Cache:
        def scratch(self, name):
            path = tmp_path / "scratch"
            path.mkdir()
            return path

    def run_suite(runner, python, *, tests=(), exclude=(), jobs=2, workdir, step=""):
        runs.append({"python": python[-1], "tests": list(tests), "exclude": list(exclude)})
        ran = set(tests) or {"test_zz_plain"}  # a file the table does not list
        return S.SuiteResult(ran=ran, summary="== Tests result: SUCCESS =="), workdir / "regrtest.log"

    ctx = SimpleNamespace(cache=Cache(), runner=Runner(), log_dir=tmp_path / "logs")
    monkeypatch.setattr(cli_verify, "context", lambda args, command, reporter: ctx)
    monkeypatch.setattr("cpython_static.verify.elf.read_elf", lambda path: SimpleNamespace(machine="x86_64"))
    monkeypatch.setattr("cpython_static.build.sources.load_lock", lambda: None)
    monkeypatch.setattr("cpython_static.build.sources.Fetcher", lambda *a, **kw: None)
    monkeypatch.setattr("cpython_static.build.testsuite.lib_test", lambda *a: lib_test)
    monkeypatch.setattr(S, "run_suite", run_suite)
    monkeypatch.setattr(
        S,
        "load_test_module_files",
        lambda: {
            "3.13": {
                "test_class": S.NeedsTestModules("test_class", ("_testinternalcapi",), "has_inline_values at import"),
                "test_traceback": S.NeedsTestModules("test_traceback", ("_testcapi",), "exception_print, 86 tests"),
            }
        },
    )
    shipped = tmp_path / "dist" / "cpython-3.13.15-x86_64-linux-musl" / "python3.13"
    variant = tmp_path / "dist" / "cpython-3.13.15-x86_64-linux-musl-test-modules" / "python3.13"
    for f in (shipped, variant):
        f.parent.mkdir(parents=True)
        f.write_bytes(b"\x7fELF")
    return SimpleNamespace(runs=runs, shipped=shipped, variant=variant)


def verify(*argv):
    return cli_verify.cmd_verify(build_parser().parse_args(["verify", *argv]))


def test_without_the_variant_the_listed_files_are_not_run_and_it_says_how(stand_ins, capsys):
    assert verify(str(stand_ins.shipped), "--stdlib-tests") == 0
    out = capsys.readouterr().out
    assert stand_ins.runs == [
        {"python": stand_ins.runs[0]["python"], "tests": [], "exclude": ["test_class", "test_traceback"]}
    ]
    assert "NOT RUN  2 test files" in out and "test_class (_testinternalcapi)" in out
    assert "cpython-static build 3.13.15 --test-modules" in out and "--test-modules-binary" in out


def test_with_the_variant_it_runs_the_listed_files_in_a_prefix_of_its_own(stand_ins, capsys):
    assert (
        verify(str(stand_ins.shipped), "--stdlib-tests", "--test-modules-binary", str(stand_ins.variant), "--json") == 0
    )
    got = json.loads(capsys.readouterr().out)
    shipped, variant = stand_ins.runs
    assert shipped["exclude"] == ["test_class", "test_traceback"] and shipped["tests"] == []
    assert variant["tests"] == ["test_class", "test_traceback"]
    # The same shape of prefix: <work>/<role>/bin/python3.13.
    for run, role in ((shipped, "shipped"), (variant, "test-variant")):
        prefix = Path(run["python"]).parents[1]
        assert prefix.name == role and Path(run["python"]).relative_to(prefix) == Path("bin/python3.13")
    assert [(r["role"], r["binary"]) for r in got["runs"]] == [
        ("shipped", str(stand_ins.shipped)),
        ("test variant", str(stand_ins.variant)),
    ]
    assert got["runs"][0]["tests"] == "all" and got["runs"][0]["excluded"] == ["test_class", "test_traceback"]
    assert got["not_run"] is None and got["ok"] and got["ran"] == 3


def test_a_slice_of_listed_files_runs_on_the_variant_only(stand_ins, capsys):
    argv = [str(stand_ins.shipped), "--stdlib-tests", "--test", "test_class"]
    assert verify(*argv, "--test-modules-binary", str(stand_ins.variant)) == 0
    assert [r["tests"] for r in stand_ins.runs] == [["test_class"]]
    assert "test variant" in capsys.readouterr().out


def test_a_file_that_is_not_the_variant_is_refused(stand_ins):
    with pytest.raises(UsageError, match="not the test variant of CPython 3.13.15: it lacks _testbuffer"):
        verify(str(stand_ins.shipped), "--stdlib-tests", "--test-modules-binary", str(stand_ins.shipped))
    assert stand_ins.runs == []
