"""`verify --stdlib-tests` on the shipped 3.13.15 one file (the representative build), a
named slice of CPython's own suite: layout-sensitive files that start child
interpreters with -I/-E (test_cmd_line_script, test_runpy, test_zipapp), the ensurepip
of a zipped standard library (test_ensurepip, with patch 0004's tests) and zipimport
itself; then a file that fails on a static binary and is not listed, which must fail
the run by name.  The whole suite runs from `bench`/`watch`, not here (tens of minutes)."""

import json

from .conftest import run_cli

SLICE = ("test_cmd_line_script", "test_runpy", "test_zipapp", "test_ensurepip", "test_zipimport")


def test_layout_sensitive_slice_passes(build_x86_64):
    binary = build_x86_64[0]["binary"]
    res = run_cli("verify", binary, "--stdlib-tests", *(a for t in SLICE for a in ("--test", t)), "--json")
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    got = json.loads(res.stdout)
    assert got["ok"] and got["ran"] == len(SLICE) and got["failed"] == [] and got["version"] == "3.13.15"


def test_an_unlisted_failure_fails_by_name(build_x86_64):
    binary = build_x86_64[0]["binary"]
    res = run_cli("verify", binary, "--stdlib-tests", "--test", "test_ctypes", "--json")
    assert res.returncode == 1, res.stderr[-3000:]
    got = json.loads(res.stdout)
    assert got["unexpected"] == ["test_ctypes"] and not got["ok"]
