"""The one-file interpreter behaves like an installed CPython: paths, flags, tracebacks,
venv + pip, user installs; and it refuses what a static binary cannot do, clearly."""

import json
import re
import shutil
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest

from cpython_static.build import patches
from cpython_static.core.runner import Runner

from .conftest import FULL, VERSION

MM = ".".join(VERSION.split(".")[:2])
TAG = "cp" + MM.replace(".", "")


@pytest.fixture(scope="module")
def python(build_x86_64, tmp_path_factory) -> Path:
    """The single file, copied to <prefix>/bin/python3.X of a fresh prefix."""
    prefix = tmp_path_factory.mktemp("prefix")
    (prefix / "bin").mkdir()
    exe = prefix / "bin" / f"python{MM}"
    shutil.copy2(build_x86_64[0]["binary"], exe)
    return exe


def run(argv, env=None, **kw):
    base = {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"}
    res = subprocess.run(
        [str(a) for a in argv], capture_output=True, text=True, timeout=600, env={**base, **(env or {})}, **kw
    )
    return res


def test_paths_are_those_of_an_installed_python(python):
    res = run(
        [
            python,
            "-c",
            """
import json, sys, os, sysconfig
print(json.dumps({"executable": sys.executable, "prefix": sys.prefix, "base_prefix": sys.base_prefix,
  "path": sys.path, "os": os.__file__, "purelib": sysconfig.get_paths()["purelib"],
  "platform": sysconfig.get_platform()}))
""",
        ]
    )
    assert res.returncode == 0, res.stderr
    got = json.loads(res.stdout)
    prefix = str(python.parent.parent)
    assert got["executable"] == str(python) and got["prefix"] == got["base_prefix"] == prefix
    assert str(python) in got["path"]  # the archive is the stdlib entry
    assert got["purelib"] == f"{prefix}/lib/python{MM}/site-packages"
    assert res.stderr == ""  # no "Could not find platform independent libraries"


def test_pythonpath_and_flags(python, tmp_path):
    (tmp_path / "extra_mod.py").write_text("VALUE = 42\n")
    res = run([python, "-c", "import extra_mod; print(extra_mod.VALUE)"], env={"PYTHONPATH": str(tmp_path)})
    assert res.stdout.strip() == "42", res.stderr
    for flag in ("-E", "-I"):
        res = run([python, flag, "-c", "import extra_mod"], env={"PYTHONPATH": str(tmp_path)})
        assert res.returncode == 1 and "No module named 'extra_mod'" in res.stderr, flag
    res = run([python, "-S", "-c", "import sys; print('site' in sys.modules)"])
    assert res.stdout.strip() == "False"
    # Development mode and the debug allocator: their hooks refuse PyMem_Malloc before
    # initialisation, so the launcher must use only the raw allocator there.
    for argv, env in (((python, "-X", "dev"), None), ((python,), {"PYTHONMALLOC": "debug"})):
        res = run([*argv, "-c", "import sys; print(sys.flags.dev_mode)"], env=env)
        assert res.returncode == 0 and res.stdout.strip() in ("True", "False"), (argv, env, res.stderr)
    # Read once, as upstream's main reads it: a second read loses this -X option.
    res = run([python, "-X", "warn_default_encoding", "-c", "open('/dev/null').close()"])
    assert "EncodingWarning" in res.stderr, res.stderr
    res = run([python, "-m", "json.tool"], input='{"b": [1, 2]}')
    assert json.loads(res.stdout) == {"b": [1, 2]}, res.stderr


def test_prefix_stdlib_directory_follows_the_archive(python, tmp_path):
    """<prefix>/lib/python3.X, when it exists, is on sys.path after the archive, whatever
    the flags (where `verify --stdlib-tests` puts CPython's test package); the archive's
    own modules still win."""
    prefix = tmp_path / "prefix"
    (prefix / "bin").mkdir(parents=True)
    exe = prefix / "bin" / python.name
    shutil.copy2(python, exe)
    res = run([exe, "-I", "-c", "import sys; print(sys.path)"])
    assert str(prefix / "lib") not in res.stdout, res.stdout  # absent: not on sys.path
    stdlib_dir = prefix / "lib" / f"python{MM}"
    stdlib_dir.mkdir(parents=True)
    (stdlib_dir / "beside_mod.py").write_text("VALUE = 7\n")
    (stdlib_dir / "json").mkdir()
    (stdlib_dir / "json" / "__init__.py").write_text("raise SystemExit('the archive must win')\n")
    for flags in ((), ("-I",), ("-E", "-S")):
        res = run(
            [
                exe,
                *flags,
                "-c",
                "import beside_mod, json, sys; print(beside_mod.VALUE, sys.path.index(sys.executable) < sys.path.index(sys.argv[1]))",
                str(stdlib_dir),
            ]
        )
        assert res.stdout.split() == ["7", "True"], (flags, res.stdout, res.stderr)


def test_repl_reads_stdin(python):
    res = run([python, "-i", "-q"], input="x = 6 * 7\nprint('answer', x)\n", env={"TERM": "dumb"})
    assert "answer 42" in res.stdout, res.stderr


def test_tracebacks_and_inspect_show_stdlib_source(python):
    res = run([python, "-c", "import json; json.loads('{')"])
    assert res.returncode == 1
    assert f"{python}/json/decoder.py" in res.stderr and "obj, end = self.scan_once(s, idx)" in res.stderr, res.stderr
    res = run(
        [python, "-c", "import inspect, json.decoder; print(inspect.getsource(json.decoder.JSONDecoder.raw_decode))"]
    )
    assert res.returncode == 0 and "def raw_decode(self, s, idx=0):" in res.stdout, res.stderr


def test_resources_of_embedded_packages(python):
    res = run(
        [
            python,
            "-c",
            "import importlib.resources as r; "
            "print(any(p.name.startswith('pip-') for p in (r.files('ensurepip') / '_bundled').iterdir()))",
        ]
    )
    assert res.stdout.strip() == "True", res.stderr


def _pure_wheel(directory: Path, name: str, version: str, tag: str = "py3-none-any", body: str = "") -> Path:
    dist = f"{name}-{version}"
    path = directory / f"{dist}-{tag}.whl"
    with zipfile.ZipFile(path, "w") as whl:
        whl.writestr(f"{name}/__init__.py", body or f"VERSION = {version!r}\n")
        whl.writestr(f"{dist}.dist-info/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        whl.writestr(
            f"{dist}.dist-info/WHEEL", f"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: {tag}\n"
        )
        whl.writestr(f"{dist}.dist-info/RECORD", "")
    return path


@pytest.fixture(scope="module")
def venv(python, tmp_path_factory) -> Path:
    env_dir = tmp_path_factory.mktemp("venv") / "v"
    res = run([python, "-m", "venv", env_dir])
    assert res.returncode == 0, res.stdout + res.stderr
    return env_dir


def test_ensurepip_needs_no_workaround(python):
    """3.13.15 carries patches/0004: ensurepip itself keeps the bundled wheel's name, so
    the hook leaves it alone; the venv below (pip bootstrapped by that ensurepip) and
    `ensurepip --user` work through it."""
    res = run(
        [
            python,
            "-c",
            "import ensurepip, _cpython_static as h; "
            "print(ensurepip._get_pip_whl_path_ctx.__module__); print(h.REPORT['fixups']['ensurepip'])",
        ]
    )
    assert res.returncode == 0, res.stderr
    own, fixup = res.stdout.splitlines()
    assert own == "ensurepip" and fixup.startswith("not needed: ensurepip keeps the bundled wheel's name"), fixup


def test_cpython_test_ensurepip_passes(python, release_tarball, tmp_path):
    """CPython's own test_ensurepip, with the series' tests added to it (0004's fail
    without its fix), run by the one file: its stdlib is zipped, the case they cover.
    The one file carries no test package: it comes from the release tarball."""
    series = patches.select(patches.load_series(patches.default_patches_dir()), VERSION)
    wanted = [p for p in series if "Lib/test/test_ensurepip.py" in p.files]
    assert wanted, "no patch of the series adds to test_ensurepip"
    tree = tmp_path / "src"
    with tarfile.open(release_tarball(VERSION)) as tar:
        for m in tar:
            rel = m.name.partition("/")[2]
            if m.isfile() and (rel.startswith("Lib/test/") or any(rel in p.files for p in wanted)):
                out = tree / rel
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_bytes(tar.extractfile(m).read())
    patches.apply(wanted, tree, Runner(tmp_path / "logs"))
    shutil.rmtree(tree / "Lib" / "ensurepip", ignore_errors=True)  # the one file's own is under test
    res = run([python, "-m", "test", "test_ensurepip", "-v"], env={"PYTHONPATH": str(tree / "Lib")}, cwd=tmp_path)
    assert res.returncode == 0 and "Result: SUCCESS" in res.stdout, res.stdout[-3000:] + res.stderr
    for name in (
        "test_selected_wheel_path_from_zip_file",
        "test_version_from_zip_file",
        "test_bootstrapping_from_zip_file",
    ):
        assert re.search(rf"^{name} \(test\.test_ensurepip\.\w+\.{name}\) \.\.\. ok$", res.stdout, re.M), name


def test_venv_has_activate_scripts_and_a_copied_venv_its_base(venv, python, tmp_path):
    """The activate scripts are data files in the archive (the hook copies them out), and
    a `--copies` venv, whose interpreter is a copy of the file, still knows its base."""
    for script in ("activate", "activate.fish", "activate.csh"):
        assert (venv / "bin" / script).is_file(), script
    res = subprocess.run(
        ["bash", "-c", f". {venv}/bin/activate && python -c 'import sys; print(sys.prefix)'"],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert res.stdout.strip() == str(venv), res.stderr
    copied = tmp_path / "copied"
    res = run([python, "-m", "venv", "--copies", "--without-pip", copied])
    assert res.returncode == 0, res.stderr
    code = "import sys, sysconfig; print(sys.prefix, sys.base_prefix, sysconfig.get_preferred_scheme('prefix'))"
    res = run([copied / "bin" / "python", "-c", code])
    assert res.stdout.split() == [str(copied), str(python.parent.parent), "venv"], res.stderr


def test_venv_has_working_pip(venv, python):
    res = run([venv / "bin" / "python", "-c", "import sys; print(sys.prefix, sys.base_prefix)"])
    assert res.stdout.split() == [str(venv), str(python.parent.parent)], res.stderr
    res = run([venv / "bin" / "python", "-m", "pip", "--version"])
    assert res.returncode == 0 and str(venv) in res.stdout, res.stderr


def test_pip_installs_a_pure_wheel_into_the_venv(venv, python, tmp_path):
    wheel = _pure_wheel(tmp_path, "puredemo", "1.0")
    res = run([venv / "bin" / "python", "-m", "pip", "install", "--no-index", wheel])
    assert res.returncode == 0, res.stdout + res.stderr
    assert run([venv / "bin" / "python", "-c", "import puredemo; print(puredemo.VERSION)"]).stdout.strip() == "1.0"
    assert run([python, "-c", "import puredemo"]).returncode == 1  # the base is untouched


def test_pip_never_picks_binary_wheels(venv, tmp_path):
    """Given manylinux, musllinux and plain linux wheels of a newer release, pip must
    still take the pure wheel: none of them could load here."""
    links = tmp_path / "links"
    links.mkdir()
    _pure_wheel(links, "fastthing", "1.0")
    for plat in ("manylinux_2_17_x86_64.manylinux2014_x86_64", "musllinux_1_2_x86_64", "linux_x86_64"):
        _pure_wheel(links, "fastthing", "2.0", tag=f"{TAG}-{TAG}-{plat}")
    res = run([venv / "bin" / "python", "-m", "pip", "install", "--no-index", "--find-links", links, "fastthing"])
    assert res.returncode == 0, res.stdout + res.stderr
    res = run([venv / "bin" / "python", "-c", "import fastthing; print(fastthing.VERSION)"])
    assert res.stdout.strip() == "1.0"


def test_pip_install_user(python, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    env = {"HOME": str(home)}
    res = run([python, "-m", "ensurepip", "--user"], env=env)
    assert res.returncode == 0, res.stdout + res.stderr
    wheel = _pure_wheel(tmp_path, "userdemo", "3.1")
    res = run([python, "-m", "pip", "install", "--user", "--no-index", wheel], env=env)
    assert res.returncode == 0, res.stdout + res.stderr
    res = run([python, "-c", "import userdemo; print(userdemo.__file__)"], env=env)
    assert res.stdout.startswith(str(home / ".local" / "lib" / f"python{MM}" / "site-packages")), res.stderr


def test_importing_a_shared_object_says_why_not(python, tmp_path):
    # A real shared object from the host's C compiler: the refusal does not depend on it
    # being broken.
    src = tmp_path / "native.c"
    src.write_text("int native_answer(void) { return 42; }\n")
    # One with this interpreter's own suffix, one as a glibc build of CPython names it
    # (a suffix this interpreter does not even look for): both must say why.
    for name, suffix in (("native", ".so"), ("foreign", f".cpython-{TAG[2:]}-x86_64-linux-gnu.so")):
        ext = subprocess.run(
            ["cc", "-shared", "-fPIC", "-o", tmp_path / f"{name}{suffix}", src], capture_output=True, text=True
        )
        assert ext.returncode == 0, ext.stderr
        res = run([python, "-c", f"import {name}"], env={"PYTHONPATH": str(tmp_path)})
        assert res.returncode == 1
        assert f"cannot load the C extension module '{name}'" in res.stderr, res.stderr
        assert "statically linked" in res.stderr and "pure-Python" in res.stderr
    res = run([python, "-c", "import not_anywhere"], env={"PYTHONPATH": str(tmp_path)})
    assert "ModuleNotFoundError: No module named 'not_anywhere'" in res.stderr


def test_tree_layout(build_x86_64, tmp_path):
    from .conftest import run_cli

    res = run_cli("build", VERSION, *FULL, "--json", "--out", str(tmp_path), "--layout", "both", "--no-verify")
    assert res.returncode == 0, res.stderr[-3000:]
    result = json.loads(res.stdout)
    tree = Path(result["tree"])
    exe = tree / "bin" / f"python{MM}"
    assert (tree / "lib" / f"python{MM}" / "os.py").is_file() and Path(result["onefile"]).is_file()
    out = run([exe, "-c", "import sys, os, zoneinfo; print(sys.prefix); print(os.__file__)"])
    assert out.returncode == 0 and out.stderr == "", out.stderr
    assert out.stdout.splitlines() == [str(tree), str(tree / "lib" / f"python{MM}" / "os.py")]
    shutil.rmtree(tmp_path / "logs", ignore_errors=True)
