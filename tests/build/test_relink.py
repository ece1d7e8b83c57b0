"""The relink's pieces: the inittab (config.c) generated from CPython's own config.c.in
(the real 3.13.15 file, compiled by the host's C compiler), init symbols, MODLIBS."""

import re
import subprocess
import sysconfig
import tarfile

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cpython_static.build import relink as R
from cpython_static.build.extensions import ExtensionError, ExtensionModule


@pytest.fixture(scope="module")
def config_c_in(release_tarball):
    with tarfile.open(release_tarball("3.13.15")) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith("/Modules/config.c.in"))
        return tar.extractfile(member).read().decode()


ADDED = ["psutil._psutil_linux", "yaml._yaml", "markupsafe._speedups"]


def test_the_inittab_gets_the_full_dotted_names(config_c_in):
    out = R.generate_config_c(config_c_in, ADDED)
    for name in ADDED:
        assert f'{{"{name}", {R.init_symbol(name)}}},' in out
        assert f"extern PyObject* {R.init_symbol(name)}(void);" in out
    # Everything the original had is still there, in its order, and the sentinel last.
    assert re.sub(
        r"^(extern PyObject\* PyInit_cpython_static_.*|    \{\"[^\"]+\", PyInit_cpython_static_.*)\n",
        "",
        out,
        flags=re.M,
    ).replace("\n\n", "\n") == config_c_in.replace("\n\n", "\n")
    assert out.index(R.init_symbol(ADDED[-1])) < out.index("/* Sentinel */")


def test_the_generated_config_c_compiles(config_c_in, tmp_path):
    (tmp_path / "config.c").write_text(R.generate_config_c(config_c_in, ADDED))
    include = sysconfig.get_paths()["include"]  # any Python.h: the table's types are the C API's
    res = subprocess.run(
        ["cc", "-fsyntax-only", "-Wall", "-Werror", f"-I{include}", "config.c"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stderr


def test_a_module_the_interpreter_already_has_is_refused(config_c_in):
    base = R.generate_config_c(config_c_in, ["a._b"])
    with pytest.raises(ExtensionError, match="already built-in modules of this interpreter: a._b"):
        R.generate_config_c(base, ["a._b"])
    with pytest.raises(ExtensionError, match="given twice"):
        R.generate_config_c(config_c_in, ["x._y", "x._y"])
    with pytest.raises(ExtensionError, match="MARKER 1"):
        R.generate_config_c("int x;", ["x._y"])


NAMES = st.lists(st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True), min_size=1, max_size=4).map(".".join)


@given(NAMES, NAMES)
def test_init_symbols_are_c_identifiers_unique_per_name(a, b):
    assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", R.init_symbol(a))
    assert (R.init_symbol(a) == R.init_symbol(b)) == (a == b)


def test_what_the_objects_define_is_pyinit_of_the_last_component():
    assert ExtensionModule("psutil._psutil_linux", ()).init_symbol == "PyInit__psutil_linux"
    assert ExtensionModule("yaml._yaml", ()).init_symbol == "PyInit__yaml"


def test_build_tree_archives_are_the_relative_ones():
    modlibs = "-lm Modules/_decimal/libmpdec/libmpdec.a -L/x/lib -lz Modules/_hacl/libHacl_Hash_SHA2.a /abs/libq.a Modules/expat/libexpat.a -lm Modules/expat/libexpat.a"
    assert R.build_tree_archives(modlibs) == [
        "Modules/_decimal/libmpdec/libmpdec.a",
        "Modules/_hacl/libHacl_Hash_SHA2.a",
        "Modules/expat/libexpat.a",
    ]
