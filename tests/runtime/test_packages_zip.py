"""packages_zip.py, run by the host's Python on an archive stdlib_zip.py wrote: the
packages land beside the stdlib, importable, their sources in the one sources member."""

import subprocess
import sys
import zipfile
from pathlib import Path

from cpython_static.runtime import packages_zip, stdlib_zip

RUNTIME = Path(packages_zip.__file__).parent


def _write(root: Path, files: dict) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def _base(tmp_path) -> Path:
    lib = _write(tmp_path / "lib", {"alpha.py": "A = 1\n", "pkg/__init__.py": ""})
    out = tmp_path / "stdlib.zip"
    subprocess.run([sys.executable, "-I", RUNTIME / "stdlib_zip.py", "--stdlib", lib, "--out", out], check=True)
    return out


def _run(*args):
    return subprocess.run(
        [sys.executable, "-I", RUNTIME / "packages_zip.py", *map(str, args)], capture_output=True, text=True
    )


def test_packages_are_added_beside_the_stdlib(tmp_path):
    site = _write(
        tmp_path / "site",
        {
            "mypkg/__init__.py": "from mypkg.sub import f\n",
            "mypkg/sub.py": "def f():\n    return 42\n",
            "mypkg/data.txt": "resource",
            "mypkg-1.0.dist-info/METADATA": "Name: mypkg\nVersion: 1.0\n",
        },
    )
    out = tmp_path / "with.zip"
    res = _run("--base", _base(tmp_path), "--out", out, "--tree", site)
    assert res.returncode == 0, res.stderr
    names = set(zipfile.ZipFile(out).namelist())
    assert {"alpha.pyc", "pkg/__init__.pyc", "mypkg/__init__.pyc", "mypkg/sub.pyc", "mypkg/data.txt"} <= names
    assert "mypkg-1.0.dist-info/METADATA" in names and "mypkg/sub.py" not in names
    with zipfile.ZipFile(out) as z, zipfile.ZipFile(z.open(stdlib_zip.SOURCES_MEMBER)) as sources:
        assert {"alpha.py", "mypkg/sub.py"} <= set(sources.namelist())
    probe = "import mypkg, alpha, importlib.metadata as m; print(mypkg.f(), alpha.A, m.version('mypkg'))"
    res = subprocess.run(
        [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(out)!r}); {probe}"],
        capture_output=True,
        text=True,
    )
    assert res.stdout.split() == ["42", "1", "1.0"], res.stderr
    again = tmp_path / "again.zip"
    assert _run("--base", tmp_path / "stdlib.zip", "--out", again, "--tree", site).returncode == 0
    assert again.read_bytes() == out.read_bytes()  # reproducible


def test_a_name_the_stdlib_has_is_an_error(tmp_path):
    site = _write(tmp_path / "site", {"alpha.py": "A = 2\n"})
    res = _run("--base", _base(tmp_path), "--out", tmp_path / "x.zip", "--tree", site)
    assert res.returncode != 0 and "alpha.pyc given twice" in res.stderr
