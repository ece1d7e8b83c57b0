"""The ELF reader against real binaries built here, cross-checked with binutils' readelf."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cpython_static.build.toolchain import TARGETS
from cpython_static.core.runner import Runner
from cpython_static.verify.elf import ElfError, ElfInfo, parse_elf, read_elf

HELLO_C = '#include <stdio.h>\nint main(void) { puts("hello"); return 0; }\n'
# For targets whose libc we do not want to build: no libc, an entry point, one call
# into a shared library so that the executable gets a DT_NEEDED.
START_C = "int foo(int);\nvoid _start(void) { foo(1); for (;;) {} }\n"
FOO_C = "int foo(int x) { return x + 1; }\n"

# 32-bit big-endian, 32-bit little-endian, 64-bit big-endian, 64-bit little-endian.
NOLIBC_TARGETS = {
    "mips-linux-musl": ("mips", 32, "big"),
    "x86-linux-musl": ("x86", 32, "little"),
    "powerpc64-linux-musl": ("powerpc64", 64, "big"),
    "riscv64-linux-musl": ("riscv64", 64, "little"),
}

needs_readelf = pytest.mark.skipif(
    shutil.which("readelf") is None, reason="binutils' readelf is the independent reference"
)


class Builder:
    """Compiles test programs through the project's Runner, so failures leave a log."""

    def __init__(self, root: Path):
        self.root = root
        self.runner = Runner(root / "logs")
        (root / "hello.c").write_text(HELLO_C)
        (root / "start.c").write_text(START_C)
        (root / "foo.c").write_text(FOO_C)

    def zig(self, name: str, target: str, *args: str) -> Path:
        out = self.root / name
        self.runner.run(
            f"zig cc {name}",
            [sys.executable, "-m", "ziglang", "cc", "-target", target, "-O2", *args, "-o", out],
            cwd=self.root,
        )
        return out

    def gcc(self, name: str, *args: str) -> Path:
        out = self.root / name
        self.runner.run(f"gcc {name}", ["gcc", "-O2", *args, "hello.c", "-o", out], cwd=self.root)
        return out


@pytest.fixture(scope="session")
def builder(tmp_path_factory) -> Builder:
    return Builder(tmp_path_factory.mktemp("elf-bins"))


@pytest.fixture(scope="session")
def musl_x86_64(builder) -> Path:
    return builder.zig("hello-x86_64", "x86_64-linux-musl", "-static", "hello.c")


@pytest.fixture(scope="session")
def musl_aarch64(builder) -> Path:
    return builder.zig("hello-aarch64", "aarch64-linux-musl", "-static", "hello.c")


@pytest.fixture(scope="session")
def gcc_dynamic(builder) -> Path:
    return builder.gcc("hello-gcc")


@pytest.fixture(scope="session")
def gcc_static_pie(builder) -> Path:
    return builder.gcc("hello-gcc-static-pie", "-static-pie")


@pytest.fixture(scope="session")
def nolibc(builder) -> dict[str, dict[str, Path]]:
    built = {}
    for target in NOLIBC_TARGETS:
        lib = builder.zig(
            f"libfoo-{target}.so", target, "-nostdlib", "-shared", f"-Wl,-soname,libfoo-{target}.so", "foo.c"
        )
        # -e _start: on MIPS the default entry is __start, and lld would drop _start
        # together with the only reference to libfoo.
        dyn = builder.zig(
            f"dyn-{target}",
            target,
            "-nostdlib",
            "start.c",
            str(lib),
            "-Wl,-dynamic-linker,/lib/ld-musl-test.so.1",
            "-Wl,-e,_start",
        )
        static = builder.zig(f"static-{target}", target, "-nostdlib", "-static", "-Wl,-e,_start", "start.c", "foo.c")
        built[target] = {"dyn": dyn, "static": static, "lib": lib}
    return built


def readelf_view(path: Path) -> tuple[str | None, list[str]]:
    """(interpreter, needed) according to binutils."""
    out = subprocess.run(
        ["readelf", "-W", "-l", "-d", str(path)],
        capture_output=True,
        text=True,
        check=True,
        env={"LC_ALL": "C", "PATH": "/usr/bin:/bin"},
    ).stdout
    interp = re.search(r"\[Requesting program interpreter: (.*)\]", out)
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[(.*)\]", out)
    return (interp.group(1) if interp else None), needed


def host_python_binary() -> Path:
    # pyenv and venvs put shims and symlinks in front; the real ELF is what we want.
    return Path(sys.executable).resolve()


# ------------------------------------------------------------ real binaries
def test_static_musl_x86_64(musl_x86_64):
    info = read_elf(musl_x86_64)
    assert (info.machine, info.bits, info.endian) == ("x86_64", 64, "little")
    assert info.interpreter is None and info.needed == []
    assert info.is_static


def test_static_musl_aarch64(musl_aarch64):
    info = read_elf(musl_aarch64)
    assert (info.machine, info.bits, info.endian) == ("aarch64", 64, "little")
    assert info.is_static


def test_gcc_dynamic_is_not_static(gcc_dynamic):
    info = read_elf(gcc_dynamic)
    assert info.interpreter is not None and info.interpreter.startswith("/")
    assert any(name.startswith("libc.so") for name in info.needed)
    assert not info.is_static


def test_static_pie_is_static_despite_dynamic_segment(gcc_static_pie):
    # The case a naive "has PT_DYNAMIC" test gets wrong: static-pie self-relocates.
    info = read_elf(gcc_static_pie)
    assert info.elf_type == "DYN" and info.has_dynamic
    assert info.is_static


def test_bin_sh_is_dynamic():
    info = read_elf("/bin/sh")
    assert info.interpreter and info.needed
    assert not info.is_static


@pytest.mark.parametrize("target", sorted(NOLIBC_TARGETS))
def test_word_size_endianness_and_machine(nolibc, target):
    machine, bits, endian = NOLIBC_TARGETS[target]
    if target in TARGETS:  # the reader's name is the target table's arch (verify compares them)
        assert machine == TARGETS[target].arch
    dyn, static = (read_elf(nolibc[target][k]) for k in ("dyn", "static"))
    for info in (dyn, static):
        assert (info.machine, info.bits, info.endian) == (machine, bits, endian)
    assert dyn.interpreter == "/lib/ld-musl-test.so.1"
    assert dyn.needed == [f"libfoo-{target}.so"]
    assert static.is_static and not dyn.is_static


@needs_readelf
def test_agrees_with_readelf(nolibc, musl_x86_64, musl_aarch64, gcc_dynamic, gcc_static_pie):
    paths = [musl_x86_64, musl_aarch64, gcc_dynamic, gcc_static_pie, Path("/bin/sh"), host_python_binary()]
    paths += [p for group in nolibc.values() for p in group.values()]
    for path in paths:
        info = read_elf(path)
        assert (info.interpreter, info.needed) == readelf_view(path), path


# ------------------------------------------------------------ bad input
def test_not_elf(tmp_path):
    text = tmp_path / "script.sh"
    text.write_text("#!/bin/sh\necho hi\n")
    with pytest.raises(ElfError, match="not an ELF file") as err:
        read_elf(text)
    assert str(text) in str(err.value)


def test_empty_file(tmp_path):
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    with pytest.raises(ElfError, match="not an ELF file"):
        read_elf(empty)


def test_bad_class_and_encoding():
    with pytest.raises(ElfError, match="class"):
        parse_elf(b"\x7fELF\x03\x01" + bytes(58))
    with pytest.raises(ElfError, match="data encoding"):
        parse_elf(b"\x7fELF\x02\x07" + bytes(58))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.floats(min_value=0.0, max_value=1.0, exclude_max=True))
def test_any_truncation_is_detected(musl_x86_64, gcc_dynamic, cut):
    # Section headers sit at the end of these files, so every cut must be noticed.
    for path in (musl_x86_64, gcc_dynamic):
        data = path.read_bytes()
        with pytest.raises(ElfError):
            parse_elf(data[: int(len(data) * cut)])


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=512))
def test_random_bytes_only_raise_elf_error(data):
    try:
        assert isinstance(parse_elf(data), ElfInfo)
    except ElfError:
        pass


@st.composite
def plausible_headers(draw):
    """Valid identification, random everything else: reaches the deeper parsing code."""
    ident = b"\x7fELF" + bytes([draw(st.sampled_from([1, 2])), draw(st.sampled_from([1, 2])), 1])
    ident = ident.ljust(16, b"\0")
    return ident + draw(st.binary(min_size=0, max_size=1024))


@settings(max_examples=300, deadline=None)
@given(plausible_headers())
def test_random_headers_only_raise_elf_error(data):
    try:
        assert isinstance(parse_elf(data), ElfInfo)
    except ElfError:
        pass


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(flips=st.lists(st.tuples(st.integers(0, 1023), st.integers(1, 255)), min_size=1, max_size=8))
def test_corrupted_real_headers_only_raise_elf_error(gcc_dynamic, flips):
    data = bytearray(gcc_dynamic.read_bytes())
    for offset, mask in flips:
        data[offset] ^= mask
    try:
        assert isinstance(parse_elf(bytes(data)), ElfInfo)
    except ElfError:
        pass


# ------------------------------------------------------------------ hardening (verify)
def test_hardening_of_real_static_binaries(builder):
    """gcc -static (the host's ld makes RELRO by default), and the same with each
    protection taken away; the real tier checks every CPython build (x86_64, aarch64)."""
    from cpython_static.verify.checks import check_hardening

    def verdict(name, *flags):
        binary = builder.gcc(name, "-static", *flags)
        return check_hardening(read_elf(binary), binary.read_bytes())

    good = verdict("hardened")
    assert good.ok, good.detail
    assert "stack not executable" in good.detail and "RELRO" in good.detail and "no symbol exported" in good.detail
    exec_stack = verdict("execstack", "-Wl,-z,execstack")
    assert not exec_stack.ok and "executable stack" in exec_stack.detail
    no_relro = verdict("norelro", "-Wl,-z,norelro")
    assert not no_relro.ok and "no PT_GNU_RELRO" in no_relro.detail


@needs_readelf
def test_stack_and_relro_agree_with_readelf(musl_x86_64, gcc_dynamic):
    for binary in (musl_x86_64, gcc_dynamic):
        out = subprocess.run(["readelf", "-lW", str(binary)], capture_output=True, text=True, check=True).stdout
        info = read_elf(binary)
        assert info.relro == ("GNU_RELRO" in out)
        stack = re.search(r"GNU_STACK(?:\s+\S+){5}\s+(\S+)", out)
        assert (info.stack_flags is not None) == bool(stack)
        if stack:
            assert bool(info.stack_flags & 1) == ("E" in stack.group(1))
