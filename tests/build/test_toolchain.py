"""Toolchains: which one a target gets, what each can do, and the optimisations the
version table gives each (the real compilers run in the real tier)."""

import shutil

import pytest

from cpython_static.build import toolchain as tc
from cpython_static.core.arch import host_arch, target_arch
from cpython_static.core.cache import Cache
from cpython_static.core.runner import Runner
from cpython_static.versions import get_series

NATIVE = next(t.name for t in tc.TARGETS.values() if t.arch == host_arch())
FOREIGN = next(t.name for t in tc.TARGETS.values() if t.arch != host_arch())


@pytest.mark.parametrize("name", sorted(tc.TARGETS))
def test_a_target_is_named_by_its_triple_and_its_arch_is_the_triple_s(name):
    """The arch is what verify compares the ELF machine with and what picks the emulator
    (qemu-<arch>-static); it must be the triple's own CPU part."""
    target = tc.get_target(name)
    assert target.name == name and target.arch == target_arch(name)
    assert target.zig == f"{target.arch}-linux-musl"


def test_the_targets_include_x86_64_aarch64_and_riscv64():
    assert {"x86_64", "aarch64", "riscv64"} <= {t.arch for t in tc.TARGETS.values()}
    assert tc.get_target("riscv64-linux-musl").zig == "riscv64-linux-musl"


def test_default_toolchain_is_gcc_here_and_zig_for_foreign_targets():
    assert tc.default_toolchain(NATIVE) == "gcc"
    assert tc.default_toolchain(FOREIGN) == "zig"


def test_gcc_refuses_a_foreign_target(tmp_path):
    with pytest.raises(tc.ToolchainError, match="this machine's architecture.*--toolchain zig"):
        tc.make_toolchain("gcc", FOREIGN, Cache(tmp_path / "cache"), Runner(tmp_path / "logs"))


def test_unknown_toolchain_names_the_known_ones(tmp_path):
    with pytest.raises(tc.ToolchainError, match="known: gcc, zig"):
        tc.make_toolchain("icc", NATIVE, Cache(tmp_path / "cache"), Runner(tmp_path / "logs"))


@pytest.mark.skipif(shutil.which("musl-gcc") is None, reason="needs Debian's musl-tools (.ci/setup installs it)")
@pytest.mark.parametrize(
    ("optimize", "env", "expected"),
    [(None, None, {"pgo", "lto"}), (None, "quick", set()), ("full", "quick", {"pgo", "lto"}), ("quick", None, set())],
)
def test_optimize_follows_the_option_then_the_environment(tmp_path, monkeypatch, optimize, env, expected):
    if env is None:
        monkeypatch.delenv(tc.OPTIMIZE_ENV, raising=False)
    else:
        monkeypatch.setenv(tc.OPTIMIZE_ENV, env)
    gcc = tc.make_toolchain(None, NATIVE, Cache(tmp_path / "cache"), Runner(tmp_path / "logs"), optimize=optimize)
    assert gcc.name == "gcc" and gcc.cc == "gcc"  # configure picks gcc's PGO/LTO flags by this name
    assert set(gcc.capabilities) == expected
    # The compiler's identity (library cache keys) does not depend on the level:
    # libraries are shared between full and quick builds.
    other = tc.make_toolchain(
        None, NATIVE, Cache(tmp_path / "cache"), Runner(tmp_path / "logs"), optimize="quick" if expected else "full"
    )
    assert gcc.identity() == other.identity()


def test_an_unknown_optimisation_level_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv(tc.OPTIMIZE_ENV, "ludicrous")
    with pytest.raises(tc.ToolchainError, match="'ludicrous'.*full or quick"):
        tc.make_toolchain("zig", NATIVE, Cache(tmp_path / "cache"), Runner(tmp_path / "logs"))


@pytest.mark.parametrize(
    ("version", "capabilities", "expected"),
    [
        ("3.13.15", {"pgo", "lto"}, ["--enable-optimizations", "PROFILE_TASK", "--with-lto"]),
        ("3.13.15", {"lto"}, ["--with-lto"]),
        ("3.11.2", {"pgo", "lto"}, ["--enable-optimizations", "PROFILE_TASK", "--with-lto"]),
        ("3.13.15", {"tail_call"}, []),  # no tail-calling interpreter before 3.14
        ("3.14.7", {"tail_call"}, ["--with-tail-call-interp"]),
        ("3.15.0rc1", {"pgo", "lto"}, ["--enable-optimizations", "PROFILE_TASK", "--with-lto"]),
    ],
)
def test_optimisations_follow_the_toolchains_capabilities(version, capabilities, expected):
    series = get_series(version)
    chosen = series.optimize_args(capabilities)
    assert [o.value.split("=")[0] for o in chosen] == expected
    assert all(o.why for o in chosen)


@pytest.mark.skipif(shutil.which("musl-gcc") is None, reason="needs Debian's musl-tools (.ci/setup installs it)")
def test_a_series_needing_what_gcc_s_libc_lacks_gets_zig_by_default_and_an_error_when_asked(tmp_path):
    cache, runner = Cache(tmp_path / "cache"), Runner(tmp_path / "logs")
    gcc = tc.make_toolchain("gcc", NATIVE, cache, runner)
    if "crypt" not in gcc.libc_lacks:
        pytest.skip("this machine's musl has crypt()")
    needs = get_series("3.11.2").libc_needs
    assert needs == ("crypt",) and get_series("3.13.15").libc_needs == ()
    chosen = tc.make_toolchain(None, NATIVE, cache, runner, libc_needs=needs)
    assert chosen.name == "zig" and "crypt" in chosen.chosen_because
    with pytest.raises(tc.ToolchainError, match=r"no crypt\(\).*--toolchain zig"):
        tc.make_toolchain("gcc", NATIVE, cache, runner, libc_needs=needs)
    assert tc.make_toolchain(None, NATIVE, cache, runner).name == "gcc"


@pytest.mark.skipif(shutil.which("musl-gcc") is None, reason="needs Debian's musl-tools (.ci/setup installs it)")
@pytest.mark.parametrize("name", ["gcc", "zig"])
def test_where_the_cache_is_changes_neither_keys_nor_what_the_compiler_records(tmp_path, name):
    """The cache root is mapped to a fixed name in the wrappers (-ffile-prefix-map), and
    the toolchain's identity, the root of every cache key, does not depend on it."""
    made = []
    for root in ("a", "elsewhere/b"):
        made.append(
            tc.make_toolchain(name, NATIVE, Cache(tmp_path / root), Runner(tmp_path / "logs"), optimize="quick")
        )
    assert made[0].identity() == made[1].identity()
    for toolchain, root in zip(made, ("a", "elsewhere/b")):
        wrapper = (toolchain.bindir / toolchain.cc).read_text()
        assert f"-ffile-prefix-map={tmp_path / root}={tc.MAPPED_ROOT}" in wrapper
        assert "-fstack-protector-strong" in wrapper
