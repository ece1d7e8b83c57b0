"""`verify` proves the start-up hook loaded and did its work: on the published one file
it passes; on a copy whose hook raises at start-up, and on the cache's hook-less install
tree, it fails naming the hook (the interpreter itself still runs: main.c only prints)."""

import json
import os
import subprocess
import zipfile
from pathlib import Path

from .conftest import run_cli

BROKEN = 'raise RuntimeError("start-up hook broken on purpose by the test")\n'


def _with_broken_hook(onefile: Path, dest: Path) -> Path:
    """``onefile``'s interpreter with its archive rewritten: the hook raises."""
    with zipfile.ZipFile(onefile) as old:
        infos = old.infolist()
        start = min(i.header_offset for i in infos)  # where the appended archive begins
        rewritten = dest.with_suffix(".zip")
        with zipfile.ZipFile(rewritten, "w") as new:
            for info in infos:
                if info.filename == "_cpython_static.pyc":
                    continue  # the source is then what zipimport compiles
                data = BROKEN.encode() if info.filename == "_cpython_static.py" else old.read(info)
                new.writestr(info, data)
    with open(onefile, "rb") as src, open(dest, "wb") as out:
        out.write(src.read(start))
        out.write(rewritten.read_bytes())
    os.chmod(dest, 0o755)
    return dest


def _hook_check(binary: Path) -> tuple[dict, dict]:
    res = run_cli("verify", str(binary), "--json")
    report = json.loads(res.stdout)
    assert res.returncode == (0 if report["ok"] else 1)
    return report, next(c for c in report["checks"] if c["name"] == "hook")


def test_published_file_has_a_working_hook(build_x86_64):
    report, hook = _hook_check(Path(build_x86_64[0]["binary"]))
    assert report["ok"] and hook["ok"]
    assert "zip-filenames" in hook["detail"] and "ssl: applied" in hook["detail"]
    # 3.13.15 carries patches/0004: ensurepip keeps the wheel's name itself, the hook's
    # workaround stays unused, and what pip is handed parses (version() reads its name).
    assert "ensurepip: not needed: ensurepip keeps the bundled wheel's name itself" in hook["detail"]
    assert "ensurepip.version() 26.2.1" in hook["detail"]


def test_broken_hook_fails_verify_naming_it(build_x86_64, tmp_path):
    broken = _with_broken_hook(Path(build_x86_64[0]["binary"]), tmp_path / "python3.13")
    run = subprocess.run([broken, "-I", "-c", "print(6 * 7)"], capture_output=True, text=True, timeout=60)
    assert run.stdout.strip() == "42" and "start-up hook failed" in run.stderr  # it carries on
    report, hook = _hook_check(broken)
    assert not report["ok"] and not hook["ok"]
    assert "the start-up hook failed" in hook["detail"] and "broken on purpose" in hook["detail"]


def test_cache_tree_without_hook_is_not_what_ships(build_x86_64, cache):
    """The interpreter in the cache (no archive, no hook beside it) is not verified as
    shipped: the hook check says the hook is not loaded."""
    result = build_x86_64[0]
    interpreter = next(
        Path(e)
        for e in (cache.root / "cpython").glob("*/install/bin/python3.13")
        if Path(e).stat().st_size == result["unstripped_size_bytes"]
    )
    _, hook = _hook_check(interpreter)
    assert not hook["ok"] and "not loaded" in hook["detail"]


def test_linecache_reads_standard_library_paths_from_the_archive(build_x86_64):
    """linecache.getline(path) of a stdlib file (no module globals: a code object's
    co_filename, `traceback` of a frame summary) finds the source in the archive."""
    binary = build_x86_64[0]["binary"]
    probe = (
        "import linecache, os, json; f = os.path.join(os.path.dirname(linecache.__file__), 'abc.py'); "
        "first = linecache.getline(f, 1); linecache.clearcache(); "
        "print(json.dumps([f.startswith(__import__('sys').executable + '/'), first.startswith('#'), f in linecache.cache]))"
    )
    res = subprocess.run(["env", "-i", binary, "-c", probe], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout) == [True, True, False]
