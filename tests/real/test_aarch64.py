"""The aarch64 cross build: a static aarch64 ELF, verified under qemu-user by `build`
itself (every check of `verify`).  The empty-root proofs of test_anywhere.py run for it
too (its `root` fixture covers both targets)."""

from pathlib import Path

from cpython_static.verify.elf import read_elf

from .conftest import VERSION, run_cli


def test_cross_build_is_static_aarch64_and_verified(build_aarch64):
    result, _ = build_aarch64
    assert result["target"] == "aarch64-linux-musl" and result["version"] == VERSION
    elf = read_elf(Path(result["binary"]))
    assert elf.machine == "aarch64" and elf.interpreter is None and elf.needed == []
    report = result["verify"]
    assert report["ok"] and report["target"] == "aarch64-linux-musl", [c for c in report["checks"] if not c["ok"]]
    assert {"ssl", "zoneinfo", "curses", "ctypes", "multiprocessing"} <= {c["name"] for c in report["checks"]}


def test_verify_command_agrees_under_qemu(build_aarch64):
    result, _ = build_aarch64
    res = run_cli("verify", result["binary"], "--json", "--only", "builtin_modules", "--only", "ssl")
    assert res.returncode == 0, res.stderr[-3000:]
