"""`verify --stdlib-tests` on the shipped 3.13.15 one file (the representative build), a
named slice of CPython's own suite: layout-sensitive files that start child
interpreters with -I/-E (test_cmd_line_script, test_runpy, test_zipapp), the ensurepip
of a zipped standard library (test_ensurepip, with patch 0004's tests) and zipimport
itself, and test_frame, whose C API tests call through ctypes.pythonapi (the
interpreter's own dlopen(NULL) table), with three files that need CPython's test-only C
modules (test_class, test_getpath, and test_code, pythonapi again: stdlib_tests.toml
[test_modules]), which run on the test variant (`build --test-modules`, quick) and,
without it, are not run and said so; then files the table lists (a static binary's
ctypes loading shared objects, a zipped stdlib's linecache, musl's makedev in
test_posix, which runs on the variant), which must fail exactly as listed.  The whole suite runs
from `bench`/`watch`, not here (tens of minutes)."""

import json

from .conftest import run_cli

SLICE = ("test_cmd_line_script", "test_runpy", "test_zipapp", "test_ensurepip", "test_zipimport", "test_frame")
NEED_TEST_MODULES = ("test_class", "test_getpath", "test_code")


def test_layout_sensitive_slice_passes(build_x86_64, build_x86_64_testmodules):
    binary, variant = build_x86_64[0]["binary"], build_x86_64_testmodules[0]["binary"]
    assert build_x86_64_testmodules[0]["variant"] == "test-modules"
    assert variant.split("/")[-2].endswith("-test-modules")
    tests = (a for t in SLICE + NEED_TEST_MODULES for a in ("--test", t))
    res = run_cli("verify", binary, "--stdlib-tests", *tests, "--test-modules-binary", variant, "--json")
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    got = json.loads(res.stdout)
    assert (
        got["ok"]
        and got["ran"] == len(SLICE) + len(NEED_TEST_MODULES)
        and got["failed"] == []
        and got["version"] == "3.13.15"
    )
    assert [(r["role"], r["binary"], sorted(r["tests"])) for r in got["runs"]] == [
        ("shipped", binary, sorted(SLICE)),
        ("test variant", variant, sorted(NEED_TEST_MODULES)),
    ]


def test_without_the_variant_those_files_are_not_run_and_it_says_how(build_x86_64):
    res = run_cli("verify", build_x86_64[0]["binary"], "--stdlib-tests", "--test", "test_class")
    assert res.returncode == 0, res.stderr[-3000:]
    assert "NOT RUN  1 test file," in res.stdout and "--test-modules" in res.stdout


def test_listed_failures_are_expected_with_their_kind(build_x86_64, build_x86_64_testmodules):
    """Files the table lists fail as it says (a stale entry would fail the run): the
    table is checked against the file, not just read, the variant's files too.  An
    unlisted failure failing the run is the fast tier's (tests/verify/test_stdlib_tests.py,
    on regrtest's output)."""
    binary, variant = build_x86_64[0]["binary"], build_x86_64_testmodules[0]["binary"]
    tests = ("--test", "test_ctypes", "--test", "test_linecache", "--test", "test_posix")
    res = run_cli("verify", binary, "--stdlib-tests", *tests, "--test-modules-binary", variant, "--json")
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    got = json.loads(res.stdout)
    assert got["ok"] and got["unexpected"] == [] and got["stale"] == []
    assert {e["test"]: e["kind"] for e in got["expected"]} == {
        "test_ctypes": "static",
        "test_linecache": "one-file",
        "test_posix": "musl",
    }
    assert [r["failed"] for r in got["runs"] if r["role"] == "test variant"] == [["test_posix"]]
