"""build/pack.py's pure parts: pip's report, lock files, entry points, installed trees."""

import ast
import textwrap

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cpython_static.build.extensions import load_table
from cpython_static.build.pack import (
    Entry,
    EntryPointError,
    PackError,
    app_name,
    clean_tree,
    console_scripts,
    normalise,
    parse_report,
    pip_configuration,
    pylock_requirements,
    resolve_entry,
    unbuildable_in_resolution,
    wheel_is_pure,
)
from cpython_static.core.errors import UsageError


def item(name, url, *, archive=True, sha="ab" * 32, requested=False):
    info = {"url": url}
    if archive:
        info["archive_info"] = {"hashes": {"sha256": sha}}
    else:
        info["dir_info"] = {}
    return {"download_info": info, "metadata": {"name": name, "version": "1.0"}, "requested": requested}


def test_wheel_is_pure():
    assert wheel_is_pure("https://x/click-8.1.7-py3-none-any.whl")
    assert wheel_is_pure("file:///w/six-1.16.0-py2.py3-none-any.whl#sha256=00")
    assert not wheel_is_pure("https://x/psutil-7.0-cp36-abi3-manylinux_2_17_x86_64.whl")
    assert not wheel_is_pure("https://x/psutil-7.0.tar.gz")
    assert not wheel_is_pure("https://x/foo-1.0-cp313-none-linux_x86_64.whl")


def test_parse_report_kinds_and_order():
    report = {
        "version": "1",
        "install": [
            item("PyYAML", "https://x/pyyaml-6.0.tar.gz"),
            item("statool", "file:///tmp/a/0-statool", archive=False, requested=True),
            item("click", "https://x/click-8.1.7-py3-none-any.whl"),
        ],
    }
    got = parse_report(report)
    assert [(r.name, r.kind) for r in got] == [("click", "wheel"), ("pyyaml", "sdist"), ("statool", "directory")]
    assert got[0].pure_wheel and got[0].sha256 == "ab" * 32 and got[2].requested and got[2].sha256 is None


def test_parse_report_refuses_vcs_and_other_versions():
    vcs = {
        "version": "1",
        "install": [
            {"download_info": {"url": "git+https://x/y", "vcs_info": {}}, "metadata": {"name": "y", "version": "1"}}
        ],
    }
    with pytest.raises(PackError, match="version-control checkout"):
        parse_report(vcs)
    with pytest.raises(PackError, match="version '2'"):
        parse_report({"version": "2", "install": []})


def test_pylock_requirements():
    text = textwrap.dedent("""
        lock-version = "1.0"
        created-by = "test"
        [[packages]]
        name = "click"
        version = "8.1.7"
        wheels = [{ name = "click-8.1.7-py3-none-any.whl", hashes = { sha256 = "aa" } }]
        [[packages]]
        name = "psutil"
        version = "7.2.2"
        marker = "sys_platform == 'linux'"
        sdist = { name = "psutil-7.2.2.tar.gz", hashes = { sha256 = "bb" } }
    """)
    assert pylock_requirements(text).splitlines() == [
        "click==8.1.7 --hash=sha256:aa",
        "psutil==7.2.2 ; sys_platform == 'linux' --hash=sha256:bb",
    ]
    with pytest.raises(UsageError, match="lock-version"):
        pylock_requirements('lock-version = "2.0"\n')
    with pytest.raises(UsageError, match="no version"):
        pylock_requirements('lock-version = "1.0"\n[[packages]]\nname = "x"\n')


def make_tree(tmp_path, scripts: dict[str, str], modules: dict[str, str], dist="statool-1.0"):
    tree = tmp_path / "site"
    info = tree / f"{dist}.dist-info"
    info.mkdir(parents=True)
    info.joinpath("entry_points.txt").write_text(
        "[console_scripts]\n" + "".join(f"{k} = {v}\n" for k, v in scripts.items()) + "[other]\nx = y:z\n"
    )
    for rel, text in modules.items():
        path = tree / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tree


def test_default_entry_is_the_apps_one_console_script(tmp_path):
    tree = make_tree(
        tmp_path, {"statool": "statool.cli:main"}, {"statool/__init__.py": "", "statool/cli.py": "def main(): pass\n"}
    )
    assert console_scripts([tree]) == {"statool": ("statool", "statool.cli:main")}
    entry = resolve_entry(None, "statool", [tree])
    assert (entry.module, entry.function, entry.spec) == ("statool.cli", "main", "statool.cli:main")
    assert resolve_entry("statool", "statool", [tree]).spec == "statool.cli:main"


def test_entry_errors_name_the_choices(tmp_path):
    tree = make_tree(
        tmp_path,
        {"a": "statool.cli:main", "b": "statool.cli:other"},
        {"statool/__init__.py": "", "statool/cli.py": "import sys\nfrom x import other\ndef main(): pass\n"},
    )
    with pytest.raises(EntryPointError, match=r"declares 2 console scripts; choose one with --entry \(a, b\)"):
        resolve_entry(None, "statool", [tree])
    with pytest.raises(EntryPointError, match="defines no 'nope'"):
        resolve_entry("statool.cli:nope", "statool", [tree])
    with pytest.raises(EntryPointError, match="no module 'missing'"):
        resolve_entry("missing:main", "statool", [tree])
    with pytest.raises(EntryPointError, match="not a console script"):
        resolve_entry("not a spec!", "statool", [tree])
    # imported names count as defined; an unbuilt sdist may hold the module
    assert resolve_entry("statool.cli:other", "statool", [tree]).function == "other"
    assert resolve_entry("psutil.tests:main", "statool", [tree], pending=["psutil"]).module == "psutil.tests"


def test_main_py_for_each_kind(tmp_path):
    for entry in (Entry("m:f", "m", "f"), Entry("m:C.run", "m", "C.run"), Entry("pkg.mod", "pkg.mod")):
        ast.parse(entry.main_py())
        ast.parse(entry.probe())
    assert "sys.exit(_app.C.run())" in Entry("m:C.run", "m", "C.run").main_py()
    assert "runpy.run_module('pkg.mod', run_name='__main__', alter_sys=True)" in Entry("pkg.mod", "pkg.mod").main_py()
    script = tmp_path / "tool.py"
    script.write_text("print('hi')\n")
    entry = resolve_entry(str(script), None, [])
    assert entry.main_py() == "print('hi')\n" and entry.spec == "script:tool.py"


def test_clean_tree_drops_machine_paths_and_fixes_record(tmp_path):
    tree = tmp_path / "site"
    info = tree / "statool-1.0.dist-info"
    info.mkdir(parents=True)
    (tree / "bin").mkdir()
    (tree / "bin" / "statool").write_text("#!/cache/bin/python3.13\n")
    for name in ("direct_url.json", "INSTALLER", "REQUESTED", "METADATA"):
        (info / name).write_text("x")
    (tree / "statool" / "__pycache__").mkdir(parents=True)
    (info / "RECORD").write_text(
        "statool/__init__.py,sha256=a,1\n"
        "statool-1.0.dist-info/direct_url.json,sha256=b,103\n"
        "statool-1.0.dist-info/INSTALLER,sha256=c,4\n"
        "../../bin/statool,sha256=d,200\n"
        "bin/statool,sha256=d,200\n"
        "statool-1.0.dist-info/RECORD,,\n"
    )
    clean_tree(tree)
    assert sorted(p.name for p in info.iterdir()) == ["METADATA", "RECORD"]
    assert not (tree / "bin").exists() and not (tree / "statool" / "__pycache__").exists()
    assert (info / "RECORD").read_text() == "statool/__init__.py,sha256=a,1\nstatool-1.0.dist-info/RECORD,,\n"


def test_unbuildable_in_resolution():
    table = load_table()
    log = "Collecting click\nCollecting orjson\n  Downloading orjson-3.tar.gz\nerror: cargo metadata failed\n"
    assert unbuildable_in_resolution(log, table).startswith("orjson: its extension needs Rust (maturin)")
    log = "Collecting rusty-thing\n  Preparing metadata (pyproject.toml): started\n  maturin failed\n"
    assert "rusty-thing: its extension is Rust" in unbuildable_in_resolution(log, table)
    assert unbuildable_in_resolution("Collecting click\nERROR: No matching distribution\n", table) is None
    assert unbuildable_in_resolution("ERROR: nothing collected\n", table) is None


def test_pip_configuration_reads_variables_and_named_files(tmp_path):
    constraints = tmp_path / "c.txt"
    constraints.write_text("click<9\n")
    conf = tmp_path / "pip.conf"
    conf.write_text(f"[global]\nconstraint = {constraints}\n")
    got = pip_configuration({"PIP_CONFIG_FILE": str(conf), "PIP_INDEX_URL": "https://i/simple", "HOME": "/h"})
    assert got["env"] == {"PIP_CONFIG_FILE": str(conf), "PIP_INDEX_URL": "https://i/simple"}
    assert got["files"][str(conf)].startswith("[global]") and got["files"][str(constraints)] == "click<9\n"


def test_app_name(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "My_Tool"\n')
    assert app_name(str(tmp_path)) == "my-tool"
    assert app_name("httpie==3.*") == "httpie" and app_name("PyYAML>=6") == "pyyaml"
    with pytest.raises(UsageError):
        app_name("==3")


@given(st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9._-]{0,20}[A-Za-z0-9])?", fullmatch=True))
def test_normalise_is_idempotent_and_pep503(name):
    once = normalise(name)
    assert normalise(once) == once and once == once.lower() and "_" not in once and "." not in once
