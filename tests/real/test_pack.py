"""`cpython-static pack`: statool (tests/real/apps/statool: click, rich, PyYAML's C loader,
psutil, MarkupSafe's speedups) packed into one static executable on the cached quick
3.13.15, then copied alone into an empty root and run there as a uid with no passwd
entry, with an empty environment, on a read-only root with no /tmp (only /proc mounted,
for psutil's calls that read it).  Packing again gives the same bytes; wrong inputs fail
by name and leave the output path and the cache as they were."""

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import VERSION, run_cli
from .roots import GID, UID, Root

APP = Path(__file__).parent / "apps" / "statool"
MODULES = {"psutil._psutil_linux", "yaml._yaml", "markupsafe._speedups"}


@pytest.fixture(scope="module")
def packed(tmp_path_factory):
    out = tmp_path_factory.mktemp("pack") / "statool"
    before = _tree_state(APP)
    res = run_cli("pack", str(APP), "--python", VERSION, "-o", str(out), "--json")
    assert res.returncode == 0, res.stderr[-6000:]
    # The user's tree is not written to (pip's setuptools build runs on a copy).
    assert _tree_state(APP) == before
    return json.loads(res.stdout), out


def _tree_state(tree: Path) -> dict:
    return {str(p.relative_to(tree)): p.stat().st_mtime_ns for p in tree.rglob("*")}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _cache_listing(cache) -> set[str]:
    """Every cache entry and source (logs and scratch space aside)."""
    skip = {"logs", "tmp", "locks"}
    return {
        f"{kind.name}/{entry.name}"
        for kind in cache.root.iterdir()
        if kind.name not in skip
        for entry in kind.iterdir()
    }


@contextlib.contextmanager
def read_only(root: Root, proc: bool = False):
    """``root`` bind-mounted read-only onto itself (and /proc mounted inside when
    ``proc``), in this process's mount namespace; everything unmounted after."""
    if os.geteuid() != 0:
        pytest.skip("read-only bind mounts need root")
    mounted = []
    if proc:
        (root.path / "proc").mkdir(exist_ok=True)
    try:
        subprocess.run(["mount", "--bind", str(root.path), str(root.path)], check=True)
        mounted.append(root.path)
        subprocess.run(["mount", "-o", "remount,bind,ro", str(root.path)], check=True)
        if proc:  # on top of the read-only bind mount (a bind would not carry it)
            subprocess.run(["mount", "-t", "proc", "proc", str(root.path / "proc")], check=True)
            mounted.append(root.path / "proc")
        yield root
    finally:
        for m in reversed(mounted):
            subprocess.run(["umount", "-l", str(m)], check=False)


def test_pack_result(packed):
    result, out = packed
    assert result["ok"] and result["entry"] == "statool.cli:main"
    assert set(result["modules"]) == MODULES
    kinds = {d["name"]: d["kind"] for d in result["distributions"]}
    assert kinds["statool"] == "directory" and kinds["click"] == "wheel" and kinds["rich"] == "wheel"
    assert {n for n, k in kinds.items() if k == "sdist"} == {"psutil", "pyyaml", "markupsafe"}
    checks = {c["name"]: c["ok"] for c in result["verify"]["checks"]}
    assert checks["added_modules"] and checks["entry_point"] and checks["static"] and all(checks.values())
    assert out.stat().st_size == result["size_bytes"]
    # The SPDX document beside it lists every component, checked by verify against the file.
    assert checks["sbom"] and checks["hardening"]
    doc = json.loads(Path(result["sbom"]).read_text())
    listed = {p["name"] for p in doc["packages"]}
    assert {"CPython", "openssl", "libyaml", "pip", "tzdata", "statool", "click", "psutil", "pyyaml"} <= listed
    texts = Path(result["licenses"]).read_text()
    assert texts.count("\n==== ") == len(doc["packages"]) and "---- psutil-7.2.2/LICENSE" in texts


def test_runs_alone_read_only_as_nobody(packed, tmp_path):
    _, out = packed
    root = Root(tmp_path / "root", out, python="/statool")
    with read_only(root):
        help_ = root.run("--help")
        assert help_.returncode == 0, help_.stderr
        assert "Usage: statool [OPTIONS] COMMAND" in help_.stdout and "procs" in help_.stdout
        info = root.run("info", "--help")
        assert info.returncode == 0 and "The C extensions in use" in info.stdout
        res = root.run("info")
        assert res.returncode == 0, res.stderr
        got = json.loads(res.stdout)
        assert got["argv"] == ["info"] and got["isolated"] == 1 and got["executable"] == "/statool"
        assert got["with_libyaml"] is True and got["cloader"] == {"a": [1, {"b": "c"}]}
        assert got["speedups"] is True and set(got["builtins"]) == MODULES
        table = root.run("table", "name: statool\ncount: 3")
        assert table.returncode == 0, table.stderr
        assert "┃ key   ┃ value   ┃" in table.stdout and "│ count │ 3       │" in table.stdout
        html = root.run("html", "<a href='x'>")
        assert html.stdout.strip() == "&lt;a href=&#39;x&#39;&gt;"
        # argv is the app's: Python's options reach click, which refuses them.
        opt = root.run("-c", "print(1)")
        assert opt.returncode == 2 and "No such option '-c'" in opt.stderr
        # The documented escape: the plain interpreter, every option working.
        escape = root.run(
            "-c", "import sys, statool; print(sys.flags.isolated, statool.__name__)", env={"CPYTHON_STATIC_PYTHON": "1"}
        )
        assert escape.returncode == 0 and escape.stdout.split() == ["0", "statool"], escape.stderr
        # No writable directory anywhere: the root is mounted read-only and has no /tmp.
        assert os.statvfs(root.path).f_flag & os.ST_RDONLY and not (root.path / "tmp").exists()


def test_psutil_with_only_proc(packed, tmp_path):
    _, out = packed
    root = Root(tmp_path / "root", out, python="/statool")
    with read_only(root, proc=True):
        res = root.run("procs")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout) == {
        "pid_is_ours": True,
        "rss_positive": True,
        "cpu_count": os.cpu_count(),
        "pids": True,
        "boot_time_positive": True,
    }
    assert (UID, GID) == (54321, 54321)


def test_pack_again_same_bytes(packed, tmp_path):
    result, out = packed
    again = tmp_path / "statool"
    res = run_cli("pack", str(APP), "--python", VERSION, "-o", str(again), "--json")
    assert res.returncode == 0, res.stderr[-4000:]
    second = json.loads(res.stdout)
    assert second["linked"]["cached"] and all(d.get("cached", True) for d in second["distributions"])
    assert _sha256(again) == _sha256(out)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        ((str(APP), "--entry", "statool.cli:nope"), "defines no 'nope'"),
        ((str(APP), "--entry", "nosuchmodule:main"), "no module 'nosuchmodule'"),
        (
            ("cpython-static-no-such-package-xyz",),
            "No matching distribution found for cpython-static-no-such-package-xyz",
        ),
        (("click==8.1.7", "click==8.1.6", "--entry", "click"), "ResolutionImpossible"),
        (("orjson", "--entry", "orjson"), "orjson: its extension needs Rust"),
    ],
    ids=["function", "module", "unknown", "conflict", "rust"],
)
def test_errors_leave_everything_alone(packed, cache, tmp_path, args, says):
    out = tmp_path / "existing"
    out.write_text("the user's file\n")
    before = _cache_listing(cache)
    res = run_cli("pack", *args, "--python", VERSION, "-o", str(out))
    assert res.returncode == 2, res.stderr[-3000:]
    assert says in res.stderr and "Traceback" not in res.stderr
    assert out.read_text() == "the user's file\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["existing"]
    assert _cache_listing(cache) == before


def test_pip_install_of_a_c_extension_points_at_pack(tmp_path):
    """In a venv of the plain one file, `pip install psutil` says what works instead of
    failing on a missing Python.h."""
    res = run_cli("build", VERSION, "--json", "--out", str(tmp_path / "dist"), "--no-verify")
    assert res.returncode == 0, res.stderr[-4000:]
    binary = json.loads(res.stdout)["binary"]
    venv = tmp_path / "venv"
    made = subprocess.run([binary, "-m", "venv", str(venv)], capture_output=True, text=True, timeout=300)
    assert made.returncode == 0, made.stderr
    pip = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--no-cache-dir", "psutil"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    said = pip.stdout + pip.stderr
    assert pip.returncode != 0
    assert f"cpython-static build {VERSION} --with psutil" in said and "cpython-static pack" in said, said[-3000:]
    assert "Python.h" not in said


def test_aarch64_pack_runs_under_qemu(tmp_path):
    """An app packed for aarch64 (its sdists built under the aarch64 interpreter through
    qemu-user), run alone in an empty root under qemu.  tests/real/apps/armtool: psutil and
    MarkupSafe's speedups (PyYAML's Cython under qemu would take minutes; statool's x86_64
    pack covers it)."""
    qemu = shutil.which("qemu-aarch64-static")
    assert qemu, "qemu-aarch64-static is needed (Debian package qemu-user-static; .ci/setup installs it)"
    out = tmp_path / "armtool"
    app = Path(__file__).parent / "apps" / "armtool"
    res = run_cli("pack", str(app), "--python", VERSION, "--target", "aarch64-linux-musl", "-o", str(out), "--json")
    assert res.returncode == 0, res.stderr[-6000:]
    result = json.loads(res.stdout)
    arm_modules = {"psutil._psutil_linux", "markupsafe._speedups"}
    assert result["ok"] and result["target"] == "aarch64-linux-musl" and set(result["modules"]) == arm_modules
    root = Root(tmp_path / "root", out, python="/armtool", emulator=qemu)
    got = root.run("x", "y", timeout=120)
    assert got.returncode == 0, got.stderr
    info = json.loads(got.stdout)
    assert info["machine"] == "aarch64" and info["argv"] == ["x", "y"] and info["speedups"] is True
    assert info["escaped"] == "&lt;a&amp;b&gt;" and set(info["builtins"]) == arm_modules
