"""verify/stdlib_tests.py: regrtest's summaries (as 3.11.2 and 3.13.15 print them), the
verdict against the table, the table's own rules."""

import textwrap
import zipfile
from pathlib import Path

import pytest

from cpython_static.verify import stdlib_tests as S

# 3.13.15 with -w: re-run, failing again (the shape measured here; trimmed).
RERUN_313 = textwrap.dedent("""\
    0:00:19 load avg: 2.37 Re-running 2 failed tests in verbose mode in subprocesses
    test test_linecache failed
    2 tests failed again:
        test_linecache test_nonexistent_zz

    == Tests result: FAILURE then FAILURE ==

    2 re-run tests:
        test_linecache test_nonexistent_zz

    2 tests failed:
        test_linecache test_nonexistent_zz

    1 test OK.

    Total duration: 20.3 sec
    Result: FAILURE then FAILURE
""")
# 3.11.2: the final lists name the first run's failures; "failed again" comes before.
RERUN_311 = textwrap.dedent("""\
    == Tests result: FAILURE ==

    1 test OK.

    2 tests failed:
        test_linecache test_site

    Re-running failed tests in verbose mode
    1 test failed again:
        test_linecache

    == Tests result: FAILURE then FAILURE ==

    1 test OK.

    2 tests failed:
        test_linecache test_site

    2 re-run tests:
        test_linecache test_site

    3 tests skipped:
        test_tkinter test_ttk
        test_winreg

    Total duration: 1.1 sec
    Tests result: FAILURE then FAILURE
""")


def test_summary_after_a_rerun_that_failed_again():
    got = S.parse_summary(RERUN_313)
    assert got.failed == {"test_linecache", "test_nonexistent_zz"}
    got = S.parse_summary(RERUN_311)
    assert got.failed == {"test_linecache"}  # test_site passed when re-run
    assert got.skipped == {"test_tkinter", "test_ttk", "test_winreg"}


def test_summary_without_rerun_and_after_success():
    plain = "== Tests result: FAILURE ==\n\n1 test failed:\n    test_x\n\n5 tests OK.\n"
    assert S.parse_summary(plain).failed == {"test_x"}
    fixed = plain.replace("== Tests result: FAILURE ==", "== Tests result: FAILURE then SUCCESS ==")
    assert S.parse_summary(fixed).failed == set()
    assert S.parse_summary("killed before the summary\n").summary == ""


# 3.13.15 run by a riscv64 file under qemu-user without binfmt_misc: the workers
# (sys.executable, exec'd directly) never started (measured; trimmed).
WORKER_BUG_313 = textwrap.dedent("""\
    Warning -- OSError: [Errno 8] Exec format error: '/tmp/x/bin/python3.13'
    == Tests result: FAILURE, WORKER BUG ==

    2 tests omitted:
        test_math test_struct

    1 test failed:
        <regrtest worker>

    0:00:00 load avg: 5.99 Re-running 1 failed tests in verbose mode in subprocesses
    1 test failed again:
        <regrtest worker>

    == Tests result: FAILURE, WORKER BUG then FAILURE, WORKER BUG ==

    1 re-run test:
        <regrtest worker>

    1 test failed:
        <regrtest worker>

    Total tests: run=0
    Result: FAILURE, WORKER BUG then FAILURE, WORKER BUG
""")


def test_a_worker_bug_and_the_files_it_left_out_are_failures():
    got = S.parse_summary(WORKER_BUG_313)
    assert got.failed == {S.WORKER_BUG, "test_math", "test_struct"}
    got.ran |= {"test_math", "test_struct"}
    assert not S.judge(got, {}).ok


def table(text):
    return S.load_table(textwrap.dedent(text))


def test_verdict_unexpected_stale_and_counts():
    t = table("""
        ["3.13".test_ctypes]
        kind = "static"
        why = "ctypes.CDLL loads shared libraries: a static binary has no dynamic loader"
        ["3.13".test_locale]
        kind = "musl"
        why = "musl's locale support is UTF-8 and C only: the named locales do not exist"
    """)["3.13"]
    result = S.SuiteResult(ran={"test_ctypes", "test_locale", "test_os"}, failed={"test_ctypes", "test_os"})
    v = S.judge(result, t)
    assert not v.ok and v.unexpected == ["test_os"] and v.stale == ["test_locale"]
    assert v.counts() == {"static": 1}
    # A listed file that was not run (a slice) or was skipped is not stale.
    v = S.judge(S.SuiteResult(ran={"test_ctypes"}, failed={"test_ctypes"}), t)
    assert v.ok and [e.test for e in v.expected] == ["test_ctypes"]
    v = S.judge(S.SuiteResult(ran={"test_ctypes", "test_locale"}, failed={"test_ctypes"}, skipped={"test_locale"}), t)
    assert v.ok


def test_table_entries_need_a_kind_and_a_reason():
    with pytest.raises(S.StdlibTestsError, match="kind 'mine'"):
        table('["3.13".test_x]\nkind = "mine"\nwhy = "a long enough reason to pass the length rule"\n')
    with pytest.raises(S.StdlibTestsError, match="say why"):
        table('["3.13".test_x]\nkind = "musl"\nwhy = "locale"\n')
    assert S.load_table() is not None  # the shipped table follows its own rules


def test_prefix_layout_puts_test_where_the_launcher_looks_after_the_archive(tmp_path):
    binary = tmp_path / "python3.13"
    binary.write_bytes(b"\x7fELF")
    lib_test = tmp_path / "Lib" / "test"
    lib_test.mkdir(parents=True)
    (lib_test / "test_a.py").write_text("")
    (lib_test / "test_pkg").mkdir()
    (lib_test / "test_data.txt").write_text("")
    python = S.prepare_prefix(binary, lib_test, tmp_path / "work", "3.13")
    assert python == tmp_path / "work" / "bin" / "python3.13" and python.read_bytes() == b"\x7fELF"
    placed = tmp_path / "work" / "lib" / "python3.13" / "test"
    assert not placed.is_symlink() and (placed / "test_a.py").stat().st_ino == (lib_test / "test_a.py").stat().st_ino
    assert S.test_files(tmp_path / "work", str(python)) == {"test_a", "test_pkg"}


# ------------------------------------------------------------ files needing test modules
LISTED = S.load_test_module_files(
    textwrap.dedent("""
        [test_modules."3.13".test_class]
        modules = ["_testinternalcapi"]
        why = "imports has_inline_values from _testinternalcapi at module level"
        [test_modules."3.13".test_traceback]
        modules = ["_testcapi"]
        why = "CExcReportingTests print exceptions with _testcapi.exception_print"
    """)
)["3.13"]


def test_the_whole_suite_leaves_the_listed_files_to_the_variant():
    p = S.plan([], LISTED, have_variant=True)
    assert p.shipped is None and p.excluded == ["test_class", "test_traceback"]
    assert p.variant == ["test_class", "test_traceback"] and p.not_run == []


def test_without_a_variant_the_listed_files_are_not_run():
    p = S.plan([], LISTED, have_variant=False)
    assert p.shipped is None and p.excluded == ["test_class", "test_traceback"]  # still left out
    assert p.variant == [] and [n.test for n in p.not_run] == ["test_class", "test_traceback"]


def test_a_slice_goes_where_each_file_belongs():
    p = S.plan(["test_site", "test_class"], LISTED, have_variant=True)
    assert p.shipped == ["test_site"] and p.variant == ["test_class"]
    p = S.plan(["test_class"], LISTED, have_variant=False)
    assert p.shipped == [] and p.variant == [] and [n.modules for n in p.not_run] == [("_testinternalcapi",)]


def test_the_runs_merge_and_are_judged_as_one():
    shipped = S.SuiteResult(ran={"test_site", "test_os"}, failed={"test_os"})
    variant = S.SuiteResult(ran={"test_class"}, failed=set(), skipped=set())
    t = table("""
        ["3.13".test_class]
        kind = "static"
        why = "listed here only to see the stale rule reach the variant's files"
    """)["3.13"]
    v = S.judge(S.merge([shipped, variant]), t)
    assert v.unexpected == ["test_os"] and v.stale == ["test_class"] and not v.ok


def test_test_module_entries_name_modules_and_tests():
    with pytest.raises(S.StdlibTestsError, match="name the modules"):
        S.load_test_module_files('[test_modules."3.13".test_x]\nwhy = "a long enough reason to pass the rule"\n')
    with pytest.raises(S.StdlibTestsError, match="say which tests"):
        S.load_test_module_files('[test_modules."3.13".test_x]\nmodules = ["_testcapi"]\nwhy = "short"\n')
    assert "test_modules" not in S.load_table()  # not a series of expected failures


def test_the_shipped_list_names_modules_the_variant_builds_in():
    """Every module a listed file needs is one the series' test variant has (modules.toml)."""
    from cpython_static.verify.modules import variant_adds

    adds = variant_adds(S.VARIANT_BUILD)
    listed = S.load_test_module_files()
    assert listed, "stdlib_tests.toml lists no file needing test modules"
    for series, entries in listed.items():
        for entry in entries.values():
            assert set(entry.modules) <= adds[series].keys(), (series, entry.test)
    # A file run on the variant is not also said to fail for want of a test module.
    for series, expected in S.load_table().items():
        assert not {t for t, e in expected.items() if e.kind == "test-module"} & listed.get(series, {}).keys()


class Recorder:
    def __init__(self, output):
        self.output, self.argv = output, None

    def run(self, step, argv, **kw):
        from types import SimpleNamespace

        self.argv = argv
        return SimpleNamespace(output=self.output, log=Path("/logs/regrtest.log"))


def test_the_whole_suite_run_excludes_with_x(tmp_path):
    lib_test = tmp_path / "Lib" / "test"
    lib_test.mkdir(parents=True)
    for name in ("test_a.py", "test_class.py", "test_traceback.py"):
        (lib_test / name).write_text("")
    (tmp_path / "bin").mkdir()
    python = S.prepare_prefix(_elf(tmp_path), lib_test, tmp_path / "work", "3.13")
    runner = Recorder("== Tests result: SUCCESS ==\n\n1 test OK.\n")
    result, _ = S.run_suite(runner, [str(python)], exclude=["test_class", "test_traceback"], workdir=tmp_path)
    assert runner.argv[-3:] == ["-x", "test_class", "test_traceback"]
    assert result.ran == {"test_a"}
    with pytest.raises(ValueError, match="either"):
        S.run_suite(runner, [str(python)], tests=["test_a"], exclude=["test_class"], workdir=tmp_path)


def _elf(tmp_path):
    binary = tmp_path / "bin" / "python3.13"
    binary.write_bytes(b"\x7fELF")
    return binary


def test_a_tree_runs_in_a_prefix_of_its_own_tree_and_owes_no_one_file_entry(tmp_path):
    tree = tmp_path / "tree"
    (tree / "bin").mkdir(parents=True)
    (tree / "lib" / "python3.13").mkdir(parents=True)
    (tree / "lib" / "python3.13" / "os.py").write_text("# os\n")
    (tree / "include").mkdir()
    (tree / "include" / "Python.h").write_text("/* */\n")
    python = tree / "bin" / "python3.13"
    python.write_bytes(b"\x7fELF not a zip")
    onefile = tmp_path / "one" / "bin" / "python3.13"
    onefile.parent.mkdir(parents=True)
    with zipfile.ZipFile(onefile, "w") as z:  # a one file: its stdlib appended as a zip
        z.writestr("os.py", "")
    (tmp_path / "one" / "lib" / "python3.13").mkdir(parents=True)
    (tmp_path / "one" / "lib" / "python3.13" / "os.py").write_text("")  # beside it, not its own
    assert S.tree_of(python, "3.13") == tree and S.tree_of(onefile, "3.13") is None
    tests = tmp_path / "cache" / "test"
    tests.mkdir(parents=True)
    (tests / "test_os.py").write_text("")
    (tmp_path / "cache" / "packages" / "unittest" / "test").mkdir(parents=True)
    (tmp_path / "cache" / "packages" / "unittest" / "test" / "__init__.py").write_text("")
    work = tmp_path / "work"
    got = S.prepare_prefix(python, tests, work, "3.13")
    assert (work / "lib" / "python3.13" / "unittest" / "test" / "__init__.py").is_file()  # a package's own tests
    S.prepare_prefix(onefile, tests, tmp_path / "work1", "3.13")
    assert not (tmp_path / "work1" / "lib" / "python3.13" / "unittest").exists()  # its packages are archived
    assert got == work / "bin" / "python3.13" and got.read_bytes() == python.read_bytes()
    assert (work / "lib" / "python3.13" / "os.py").stat().st_ino == (
        tree / "lib" / "python3.13" / "os.py"
    ).stat().st_ino
    assert (work / "include" / "Python.h").is_file() and (work / "lib" / "python3.13" / "test" / "test_os.py").is_file()
    assert not (tree / "lib" / "python3.13" / "test").exists()  # the tree itself is left as it was
    why = "w" * 20
    table = S.load_table(
        f'["3.13".test_linecache]\nkind = "one-file"\nwhy = "{why}"\n'
        f'["3.13".test_ctypes]\nkind = "static"\nwhy = "{why}"\n'
        f'["3.13".test_zoneinfo]\nkind = "upstream"\nlayout = "tree"\nwhy = "{why}"\n'
    )["3.13"]
    assert sorted(S.expected_for(table, "tree")) == ["test_ctypes", "test_zoneinfo"]
    assert sorted(S.expected_for(table, "onefile")) == ["test_ctypes", "test_linecache"]
    with pytest.raises(S.StdlibTestsError, match="a one-file entry is the one file's"):
        S.load_table(f'["3.13".test_x]\nkind = "one-file"\nlayout = "tree"\nwhy = "{why}"\n')
    with pytest.raises(S.StdlibTestsError, match="layout 'zip'"):
        S.load_table(f'["3.13".test_x]\nkind = "musl"\nlayout = "zip"\nwhy = "{why}"\n')
