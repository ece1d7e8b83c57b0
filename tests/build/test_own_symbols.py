"""build/own_symbols.py: the table a static interpreter answers dlopen(NULL)/dlsym() from.

The C half is proven for real: a static musl program linked the way the interpreter is
(own_symbols.o, the --wrap flags) looks up what it defines, and fails as musl does for
what it does not."""

import shutil
import subprocess

import pytest

from cpython_static.build import own_symbols
from cpython_static.core.runner import Runner

HEADER = """\
/* PyAPI_FUNC(int) PyCommented_Out(void); */
#define PyAPI_FUNC(RTYPE) Py_EXPORTED_SYMBOL RTYPE
#ifndef Py_LIMITED_API
PyAPI_FUNC(PyObject *) PyObject_Answer(void);
#endif
PyAPI_FUNC(void) _Py_NO_RETURN Py_Stops(const char *msg);
PyAPI_FUNC(const char *)
Py_MultiLine(
    int n);
Py_DEPRECATED(3.12) PyAPI_FUNC(int) PyOld_Thing(int);
PyAPI_DATA(long) Py_AnswerData;
PyAPI_DATA(int (*)(void)) PyOS_Hook;
PyAPI_DATA(_Py_thread_local long) _Py_tls_value;
PyAPI_FUNC(int) not_the_api(void);  // a macro's parameter would look like this
PyAPI_FUNC(int) PyDeclared_NotDefined(void);
"""


def test_names_are_the_exported_api_sorted_as_strcmp_orders(tmp_path):
    (tmp_path / "cpython").mkdir()
    (tmp_path / "Python.h").write_text(HEADER)
    (tmp_path / "cpython" / "more.h").write_text("PyAPI_FUNC(int) _PyPrivate_Exported(void);\n")
    assert own_symbols.names(tmp_path) == [
        "PyDeclared_NotDefined",
        "PyOS_Hook",
        "PyObject_Answer",
        "PyOld_Thing",
        "Py_AnswerData",
        "Py_MultiLine",
        "Py_Stops",
        "_PyPrivate_Exported",
    ]


def test_the_stable_abi_adds_what_only_the_abi_keeps(tmp_path):
    (tmp_path / "Include").mkdir()
    (tmp_path / "Include" / "Python.h").write_text("PyAPI_FUNC(int) PyObject_Answer(void);\n")
    (tmp_path / "stable_abi.toml").write_text(
        "[function.PyCFunction_Call]\nadded = '3.2'\nabi_only = true\n"
        "[data.PyExc_TypeError]\nadded = '3.2'\n[struct.PyObject]\nadded = '3.2'\n"
        "[const.Py_TPFLAGS_HEAPTYPE]\nadded = '3.2'\n"
    )
    got = own_symbols.names(tmp_path / "Include", tmp_path / "stable_abi.toml")
    assert got == ["PyCFunction_Call", "PyExc_TypeError", "PyObject_Answer"]  # no struct, no const
    assert own_symbols.names(tmp_path / "Include", tmp_path / "missing.toml") == ["PyObject_Answer"]


def test_headers_without_the_api_are_refused(tmp_path):
    (tmp_path / "stdio.h").write_text("int printf(const char *, ...);\n")
    with pytest.raises(ValueError, match="not CPython's headers"):
        own_symbols.header(own_symbols.names(tmp_path))


PROGRAM = r"""
#include <dlfcn.h>
#include <stdio.h>
long Py_AnswerData = 42;
int PyObject_Answer(void) { return 7; }
int main(void) {
    void *self = dlopen(NULL, RTLD_NOW);
    if (!self) { printf("dlopen(NULL): %s\n", dlerror()); return 1; }
    int (*f)(void) = (int (*)(void))dlsym(self, "PyObject_Answer");
    long *d = dlsym(self, "Py_AnswerData");
    printf("%d %ld\n", f ? f() : -1, d ? *d : -1L);
    printf("%s\n", dlsym(self, "PyDeclared_NotDefined") ? "found" : dlerror());
    printf("%s\n", dlsym(RTLD_DEFAULT, "printf") ? "found" : dlerror());
    printf("%s\n", dlopen("libc.so.6", RTLD_NOW) ? "loaded" : dlerror());
    printf("%d\n", dlclose(self));
    return 0;
}
"""


@pytest.mark.skipif(shutil.which("musl-gcc") is None, reason="needs Debian's musl-tools (.ci/setup installs it)")
def test_a_static_musl_program_finds_its_own_api(tmp_path):
    include = tmp_path / "include"
    include.mkdir()
    (include / "Python.h").write_text(HEADER)
    runner = Runner(tmp_path / "logs")
    table = tmp_path / own_symbols.HEADER
    table.write_text(own_symbols.header(own_symbols.names(include)))
    obj = own_symbols.compile_object(table, tmp_path / "own", ["musl-gcc"], ["-O2"], runner, {})
    (tmp_path / "main.c").write_text(PROGRAM)
    subprocess.run(
        ["musl-gcc", "-static", "-O2", "-o", "prog", "main.c", str(obj), *own_symbols.LINK_FLAGS],
        cwd=tmp_path,
        check=True,
    )
    out = subprocess.run([tmp_path / "prog"], capture_output=True, text=True, check=True).stdout.splitlines()
    assert out == [
        "7 42",  # a function and data the program defines, by name
        "Symbol not found: PyDeclared_NotDefined",  # declared, never defined: absent
        "Symbol not found: printf",  # not the C API: musl's stub answers
        "Dynamic loading not supported",  # any real file still cannot be loaded
        "0",
    ]
