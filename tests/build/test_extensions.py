"""build --with: naming, the refusal rules and the setup.py driver on real sdists (pip
download from the configured index, the driver run by the host's Python with the
pinned setuptools and Cython wheels, compiled with the host's cc)."""

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cpython_static.build import extensions as X
from cpython_static.build.sources import Fetcher, extract, load_lock
from cpython_static.core.cache import Cache
from cpython_static.core.errors import UsageError
from cpython_static.core.runner import Runner


@pytest.mark.parametrize(
    "spec, name",
    [("PyYAML", "pyyaml"), ("psutil==7.2.2", "psutil"), ("pydantic_core>=2", "pydantic-core"), ("a.b_c", "a-b-c")],
)
def test_project_names_are_normalised(spec, name):
    assert X.project_name(spec) == name


@given(st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9._-]{0,20}[A-Za-z0-9])?", fullmatch=True))
def test_normalised_names_are_fixed_points(name):
    once = X.project_name(name)
    assert X.project_name(once) == once and once == once.lower() and "_" not in once and "." not in once


def test_a_spec_that_is_no_name_is_refused():
    with pytest.raises(UsageError, match="not a package name"):
        X.project_name("==1.0")


def test_the_table_says_what_works_instead():
    table = X.load_table()
    assert "libyaml" in table["package"]["pyyaml"]["libraries"]
    why = X.refusal("pydantic-core", table)
    assert "Rust" in why and "instead" in why and why.startswith("pydantic-core:")
    assert X.refusal("psutil", table) is None
    with pytest.raises(ValueError, match="needs both"):
        X.load_table('[cannot.x]\nneeds = "Rust"\n')


def _sdist(tmp_path, pyproject: str | None, files=()) -> Path:
    tree = tmp_path / "sdist"
    tree.mkdir()
    if pyproject is not None:
        (tree / "pyproject.toml").write_text(pyproject)
    for f in files:
        (tree / f).write_text("")
    return tree


@pytest.mark.parametrize(
    "pyproject, files, verdict",
    [
        ('[build-system]\nrequires = ["maturin>=1"]\nbuild-backend = "maturin"\n', (), "Rust"),
        ('[build-system]\nrequires = ["setuptools", "setuptools-rust"]\n', ("setup.py",), "Rust"),
        (None, ("setup.py", "Cargo.toml"), "Rust"),
        # zstandard: a C extension, with an optional Rust backend beside it
        (
            '[build-system]\nrequires = ["setuptools>=77", "packaging"]\nbuild-backend = "setuptools.build_meta"\n',
            ("setup.py", "Cargo.toml"),
            None,
        ),
        ('[build-system]\nrequires = ["meson-python"]\nbuild-backend = "mesonpy"\n', (), "only setuptools"),
        ('[build-system]\nrequires = ["setuptools>=43"]\nbuild-backend = "setuptools.build_meta"\n', (), None),
        (None, ("setup.py",), None),
        # PyYAML: an in-tree backend wrapping setuptools, with a setup.py
        (
            '[build-system]\nrequires = ["setuptools"]\nbackend-path = ["packaging"]\nbuild-backend = "_pyyaml_pep517"\n',
            ("setup.py",),
            None,
        ),
    ],
)
def test_build_systems_are_classified_before_building(tmp_path, pyproject, files, verdict):
    why = X.classify_tree("pkg", _sdist(tmp_path, pyproject, files))
    assert (why is None) if verdict is None else (verdict in why and why.startswith("pkg:"))


def _plan(declared, linked):
    return {"declared": declared, "linked": [{"name": n, "language": lang} for n, lang in linked]}


def test_after_the_build_a_pure_python_fallback_is_an_error():
    why = X.problems_after_build("pyyaml", _plan(["yaml._yaml"], []))
    assert "yaml._yaml" in why and "fell back to pure Python" in why
    assert "C++" in X.problems_after_build("pkg", _plan(["pkg._x"], [("pkg._x", "c++")]))
    assert "no C extension" in X.problems_after_build("pkg", _plan([], []))
    assert X.problems_after_build("psutil", _plan(["psutil._psutil_linux"], [("psutil._psutil_linux", "c")])) is None


def test_an_unknown_package_names_pip_and_its_log_and_keeps_nothing(tmp_path):
    cache = Cache(tmp_path / "cache")
    runner = Runner(tmp_path / "logs")
    builder = X.ExtensionBuilder(cache, Fetcher(cache, runner), load_lock(), None, runner, table={})
    with pytest.raises(X.UnknownPackage) as err:
        builder.prepare(["no-such-package-cpython-static-test"])
    assert "pip found no source distribution" in str(err.value) and "pip's log: " in str(err.value)
    log = Path(str(err.value).rsplit("pip's log: ", 1)[1].strip())
    assert log.is_file() and "no-such-package-cpython-static-test" in log.read_text()
    assert not list((tmp_path / "cache").glob("sources/*/*"))


def test_a_refused_package_is_refused_before_pip_runs(tmp_path):
    runner = Runner(tmp_path / "logs")
    builder = X.ExtensionBuilder(Cache(tmp_path / "cache"), None, load_lock(), None, runner)
    with pytest.raises(X.CannotCompileIn, match="pydantic-core: .*Rust.*instead"):
        builder.prepare(["psutil", "pydantic-core"])
    assert not list((tmp_path / "logs").iterdir())  # not even pip was asked


def test_the_same_package_twice_is_refused(tmp_path):
    builder = X.ExtensionBuilder(Cache(tmp_path / "c"), None, load_lock(), None, Runner(tmp_path / "l"))
    with pytest.raises(UsageError, match="same package"):
        builder.prepare(["PyYAML", "pyyaml==6.0.4"])


@pytest.fixture(scope="module")
def driver_env(tmp_path_factory):
    """The pinned build tools unpacked, and real sdists, through the real providers."""
    base = tmp_path_factory.mktemp("driver")
    cache, runner = Cache(), Runner(base / "logs")
    lock = load_lock()
    tools = base / "tools"
    for tool in X.BUILD_TOOLS:
        with zipfile.ZipFile(Fetcher(cache, runner).fetch(lock.get("wheel", tool))) as whl:
            whl.extractall(tools)

    def sdist(spec: str) -> Path:
        got = base / "got" / spec
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-binary", ":all:", "--no-deps", "-d", got, spec],
            check=True,
        )
        return extract(next(got.iterdir()), base / "src" / spec)

    return base, tools, sdist


def _drive(base, tools, src, env=None):
    out = base / f"out-{src.name}"
    shutil.rmtree(out, ignore_errors=True)
    res = subprocess.run(
        [sys.executable, "-I", str(Path(X.DRIVER)), "--sdist", src, "--build-lib", out / "lib"]
        + ["--build-temp", out / "tmp", "--plan", out / "plan.json", "--path", tools],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", **(env or {})},
    )
    assert res.returncode == 0, res.stderr[-3000:]
    return json.loads((out / "plan.json").read_text()), out


def test_the_driver_records_the_link_instead_of_linking(driver_env):
    base, tools, sdist = driver_env
    plan, out = _drive(base, tools, sdist("markupsafe==3.0.4"))
    assert plan["declared"] == ["markupsafe._speedups"] and plan["name"] == "MarkupSafe"
    [linked] = plan["linked"]
    assert linked["name"] == "markupsafe._speedups" and linked["language"] == "c"
    assert [Path(o).name for o in linked["objects"]] == ["_speedups.o"] and Path(linked["objects"][0]).is_file()
    assert (out / "lib" / "markupsafe" / "__init__.py").is_file()
    assert not list((out / "lib").rglob("*.so"))  # nothing was linked


def test_the_driver_shows_pyyaml_falling_back_when_its_c_part_fails(driver_env):
    """PyYAML's setup.py leaves yaml._yaml out when it does not compile (no yaml.h, here
    any compile error: a forced include that does not exist) and says nothing about it:
    the plan's declared-but-not-linked shows it."""
    base, tools, sdist = driver_env
    plan, _ = _drive(base, tools, sdist("pyyaml==6.0.4"), env={"CPPFLAGS": "-include /nonexistent/cpython-static.h"})
    assert plan["declared"] == ["yaml._yaml"] and plan["linked"] == []
    assert "fell back to pure Python" in X.problems_after_build("pyyaml", plan)


def test_build_requirements_beyond_the_pinned_tools(tmp_path):
    tree = _sdist(
        tmp_path,
        '[build-system]\nrequires = ["setuptools>=61", "Cython>=3", "wheel", "setuptools_scm[toml]>=8", '
        "\"packaging; python_version >= '3.8'\"]\n",
        (),
    )
    assert X.build_requirements(tree) == ["setuptools_scm[toml]>=8", "packaging; python_version >= '3.8'"]
    (tmp_path / "b").mkdir()
    assert X.build_requirements(_sdist(tmp_path / "b", None, ("setup.py",))) == []


def test_objects_without_an_init_function_are_refused(tmp_path):
    good, lib = tmp_path / "good.o", tmp_path / "lib.o"
    good.write_bytes(b"\x7fELF...PyInit__speedups\x00...")
    lib.write_bytes(b"\x7fELF...MD2_init\x00...")
    plan = {
        "name": "pycryptodome",
        "linked": [
            {"name": "markupsafe._speedups", "objects": [str(good)]},
            {"name": "Crypto.Hash._MD2", "objects": [str(lib)]},
        ],
    }
    why = X.no_init_function(plan)
    assert why.startswith("pycryptodome: Crypto.Hash._MD2 define no PyInit_ function") and "ctypes" in why
    assert X.no_init_function({"linked": plan["linked"][:1]}) is None


def test_a_declared_cxx_extension_is_named_cxx_even_unlinked():
    plan = {"declared": ["greenlet._greenlet"], "languages": {"greenlet._greenlet": "c++"}, "linked": []}
    assert "greenlet._greenlet is C++" in X.problems_after_build("greenlet", plan)
