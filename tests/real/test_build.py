"""A real static CPython 3.13.15, built and verified the way a user would."""

import json
import subprocess
from pathlib import Path

from cpython_static.verify.elf import read_elf

from .conftest import FULL, VERSION, run_cli

REQUIRED_CHECKS = {
    "static",
    "builtin_modules",
    "ssl",
    "hashlib",
    "sqlite3",
    "compression",
    "ctypes",
    "decimal",
    "readline",
    "curses",
    "uuid",
    "dbm",
    "zoneinfo",
    "multiprocessing",
    "asyncio_subprocess",
}
IMPORTS = [
    "ssl",
    "sqlite3",
    "lzma",
    "bz2",
    "zlib",
    "ctypes",
    "decimal",
    "readline",
    "curses",
    "uuid",
    "dbm",
    "dbm.gnu",
    "dbm.ndbm",
    "zoneinfo",
]


def test_build_json_and_binary(build_x86_64):
    result, _ = build_x86_64
    binary = Path(result["binary"])
    assert binary.is_absolute() and binary.is_file()
    assert result["version"] == VERSION and result["target"] == "x86_64-linux-musl"
    assert result["duration_s"] >= 0
    elf = read_elf(binary)
    assert elf.interpreter is None and elf.needed == []
    assert {
        "_ssl",
        "_sqlite3",
        "_lzma",
        "_bz2",
        "zlib",
        "_ctypes",
        "_decimal",
        "readline",
        "_curses",
        "_uuid",
        "_gdbm",
        "_dbm",
    } <= set(result["modules"])


def test_build_verified_every_check(build_x86_64):
    result, _ = build_x86_64
    report = result["verify"]
    assert report["ok"], [c for c in report["checks"] if not c["ok"]]
    names = {c["name"] for c in report["checks"]}
    assert REQUIRED_CHECKS <= names, REQUIRED_CHECKS - names


def test_verify_command_agrees(build_x86_64):
    result, _ = build_x86_64
    res = run_cli("verify", result["binary"], "--json")
    report = json.loads(res.stdout)
    assert res.returncode == 0 and report["ok"] and report["version"] == VERSION


def test_imports_without_the_host(build_x86_64, tmp_path):
    result, _ = build_x86_64
    code = "import " + ", ".join(IMPORTS) + "; from zoneinfo import ZoneInfo; print(ZoneInfo('Europe/Paris'))"
    out = subprocess.run(
        [result["binary"], "-I", "-c", code],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "Europe/Paris"


def test_second_build_reuses_everything(build_x86_64, dist):
    res = run_cli("build", VERSION, *FULL, "--json", "--out", str(dist), "--no-verify")
    assert res.returncode == 0, res.stderr[-3000:]
    again = json.loads(res.stdout)
    assert again["interpreter_cached"] is True
    assert again["libraries"] and all(l["cached"] for l in again["libraries"].values()), again["libraries"]
    assert again["binary"] == build_x86_64[0]["binary"]
