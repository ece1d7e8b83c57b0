"""Real builds beyond the default: CPython 3.11 (setup.py-era build system, no-regeneration
route), published as one file like every build.  (The aarch64 cross build: test_aarch64.py.)
One build per run, shared through the cache."""

import json

import pytest

from .conftest import run_cli


@pytest.fixture(scope="session")
def build_311(dist):
    res = run_cli("build", "3.11.2", "--no-regen", "--json", "--out", str(dist))
    assert res.returncode == 0, res.stderr[-6000:]
    return json.loads(res.stdout)


def test_311_every_module_built_in_and_verified(build_311):
    report = build_311["verify"]
    assert report["ok"], [c for c in report["checks"] if not c["ok"]]
    assert build_311["version"] == "3.11.2"
    # the five modules 3.11 leaves to setup.py, built in through Setup.local
    assert {"_ctypes", "_curses", "_curses_panel", "readline", "_dbm"} <= set(build_311["modules"])
    # 0001 was replaced by cache variables, 0002 still applied
    assert build_311["patches"] == ["0002-ctypes-importable-without-dlopen.patch"]


def test_311_one_file_runs_alone(build_311, tmp_path):
    """The launcher and the archive are version-independent: 3.11's file needs nothing
    beside it either."""
    import shutil
    import subprocess

    exe = tmp_path / "bin" / "python3.11"
    exe.parent.mkdir()
    shutil.copy2(build_311["binary"], exe)
    res = subprocess.run(
        [
            exe,
            "-I",
            "-c",
            "import sys, json, ssl, zoneinfo; print(sys.prefix, json.__file__); "
            "print(zoneinfo.ZoneInfo('Europe/Paris'))",
        ],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert res.returncode == 0 and res.stderr == "", res.stderr
    assert res.stdout.splitlines() == [f"{tmp_path} {exe}/json/__init__.py", "Europe/Paris"]


def test_311_venv_gets_a_working_pip(build_311, tmp_path):
    """3.11.2's ensurepip bundles pip 22.3.1, which probes glibc with ctypes.CDLL(None)
    unguarded; in a static binary that raised OSError and every venv's pip died.  The
    interpreter answers dlopen(NULL) from its own table of the C API (build/own_symbols.py),
    where glibc's function is not: AttributeError, which pip takes for "not glibc"."""
    import subprocess

    env_dir = tmp_path / "venv"
    made = subprocess.run([build_311["binary"], "-m", "venv", env_dir], capture_output=True, text=True, timeout=300)
    assert made.returncode == 0, made.stderr
    pip = subprocess.run(
        [env_dir / "bin" / "python", "-m", "pip", "--version"], capture_output=True, text=True, timeout=120
    )
    assert pip.returncode == 0 and pip.stdout.startswith("pip 22.3.1 "), pip.stderr
    # what pip asked of ctypes, answered as "not glibc"
    probe = subprocess.run(
        [
            env_dir / "bin" / "python",
            "-c",
            "from pip._internal.utils.glibc import glibc_version_string as g; print(g())",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert probe.returncode == 0 and probe.stdout.strip() == "None", probe.stderr


def test_311_pack_with_c_extensions(build_311, tmp_path):
    """`pack --python 3.11.2` of tests/real/apps/armtool (psutil, MarkupSafe's speedups):
    the resolution runs pip 22.3.1 under the cache's interpreter (its glibc probe needs
    dlopen(NULL), its --report is format "0"), and 3.11's BuiltinImporter finds no
    submodule, which the start-up hook's builtin-submodules finder asks again."""
    import subprocess
    from pathlib import Path

    out = tmp_path / "armtool"
    app = Path(__file__).parent / "apps" / "armtool"
    res = run_cli("pack", str(app), "--python", "3.11.2", "-o", str(out), "--json")
    assert res.returncode == 0, res.stderr[-6000:]
    result = json.loads(res.stdout)
    modules = {"psutil._psutil_linux", "markupsafe._speedups"}
    assert result["ok"] and set(result["modules"]) == modules
    got = subprocess.run([out, "a"], capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin"})
    assert got.returncode == 0, got.stderr
    info = json.loads(got.stdout)
    assert info["argv"] == ["a"] and info["speedups"] is True and set(info["builtins"]) == modules
    assert info["escaped"] == "&lt;a&amp;b&gt;"
