"""`verify --stdlib-tests` on the shipped 3.13.15 one file (the representative build), a
named slice of CPython's own suite: layout-sensitive files that start child
interpreters with -I/-E (test_cmd_line_script, test_runpy, test_zipapp), the ensurepip
of a zipped standard library (test_ensurepip, with patch 0004's tests) and zipimport
itself; then two files the table lists (a static binary's ctypes, a zipped stdlib's
linecache), which must fail exactly as listed.  The whole suite runs from `bench`/`watch`, not here (tens of minutes)."""

import json

from .conftest import run_cli

SLICE = ("test_cmd_line_script", "test_runpy", "test_zipapp", "test_ensurepip", "test_zipimport")


def test_layout_sensitive_slice_passes(build_x86_64):
    binary = build_x86_64[0]["binary"]
    res = run_cli("verify", binary, "--stdlib-tests", *(a for t in SLICE for a in ("--test", t)), "--json")
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    got = json.loads(res.stdout)
    assert got["ok"] and got["ran"] == len(SLICE) and got["failed"] == [] and got["version"] == "3.13.15"


def test_listed_failures_are_expected_with_their_kind(build_x86_64):
    """Files the table lists fail as it says (a stale entry would fail the run): the
    table is checked against the file, not just read.  An unlisted failure failing the
    run is the fast tier's (tests/verify/test_stdlib_tests.py, on regrtest's output)."""
    binary = build_x86_64[0]["binary"]
    res = run_cli("verify", binary, "--stdlib-tests", "--test", "test_ctypes", "--test", "test_linecache", "--json")
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    got = json.loads(res.stdout)
    assert got["ok"] and got["unexpected"] == [] and got["stale"] == []
    assert {e["test"]: e["kind"] for e in got["expected"]} == {"test_ctypes": "static", "test_linecache": "one-file"}
