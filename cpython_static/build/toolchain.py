"""C toolchains that produce fully static musl binaries.

Recipes never name a compiler: they get a Toolchain's ``env()`` (CC, AR, CFLAGS, an
isolated pkg-config …) and its ``configure_args()`` (``--host`` when cross-compiling).
A second toolchain (say gcc + musl for PGO) is one more class here, nothing else.
"""

from __future__ import annotations

import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

from cpython_static.core.arch import host_arch
from cpython_static.core.cache import Cache, digest_of
from cpython_static.core.errors import UsageError
from cpython_static.core.runner import Runner

# Fixed build date (the CPython convention is the release's, but one constant keeps
# builds of every version comparable): 2000-01-01T00:00:00Z.
SOURCE_DATE_EPOCH = "946684800"


@dataclass(frozen=True)
class Target:
    name: str  # our name, also the GNU triple configure scripts get
    arch: str  # uname -m / ELF machine name
    zig: str  # zig's -target


TARGETS = {
    t.name: t
    for t in (
        Target("x86_64-linux-musl", "x86_64", "x86_64-linux-musl"),
        Target("aarch64-linux-musl", "aarch64", "aarch64-linux-musl"),
    )
}
DEFAULT_TARGET = "x86_64-linux-musl"


class ToolchainError(UsageError, RuntimeError):
    """An unknown toolchain or target, or a host tool missing (the message says which package)."""


def get_target(name: str) -> Target:
    try:
        return TARGETS[name]
    except KeyError:
        raise ToolchainError(f"unsupported target '{name}'; supported targets: {', '.join(sorted(TARGETS))}") from None


class ZigToolchain:
    """zig cc from the ``ziglang`` wheel: one hermetic compiler for every musl target."""

    name = "zig"

    def __init__(self, target: Target, cache: Cache, runner: Runner):
        self.target = target
        self.cache = cache
        self.runner = runner
        self.zig = self._find_zig()
        self.version = runner.run("zig version", [self.zig, "version"], capture=True).output.strip()
        self.bindir = self._wrappers()

    @staticmethod
    def _find_zig() -> str:
        try:
            import ziglang  # the PyPI wheel ships the zig binary inside the package
        except ImportError:
            found = shutil.which("zig")
            if found:
                return found
            raise ToolchainError(
                "zig not found: install it with `pip install ziglang` (the default toolchain)"
            ) from None
        return str(Path(ziglang.__file__).parent / "zig")

    @property
    def cross(self) -> bool:
        return self.target.arch != host_arch()

    def identity(self) -> dict:
        """Everything about the compiler that changes its output: part of cache keys."""
        return {
            "toolchain": self.name,
            "zig": self.version,
            "target": self.target.zig,
            "flags": self._flags(),
            "ldflags": self._ldflags(),
            "wrappers": _WRAPPER_VERSION,
        }

    def _ldflags(self) -> list[str]:
        # No -static for libraries: zig links musl statically anyway, and OpenSSL's
        # Configure silently disables threads when it sees -static.  The interpreter's
        # final link adds it (static_ldflags).
        return []

    def static_ldflags(self) -> list[str]:
        return ["-static"]

    def strip(self, binary: Path) -> None:
        """Remove symbols and debug information (CPython builds with -g) in place.

        zig's objcopy cannot strip a binary this size ("unimplemented"), so GNU strip
        from binutils does it: the host's own for the host's arch, Debian's
        binutils-<arch>-linux-gnu cross strip otherwise (ELF stripping is libc-agnostic)."""
        tool = "strip" if not self.cross else f"{self.target.arch}-linux-gnu-strip"
        found = shutil.which(tool, path=self.runner.base_env.get("PATH"))
        if found is None:
            package = "binutils" if not self.cross else f"binutils-{self.target.arch.replace('_', '-')}-linux-gnu"
            raise ToolchainError(f"{tool} not found: install Debian's '{package}' package (or build with --no-strip)")
        tmp = binary.with_name(binary.name + ".stripped")
        self.runner.run(f"strip {binary.name}", [found, "--strip-all", "-o", tmp, binary])
        tmp.chmod(binary.stat().st_mode)
        os.replace(tmp, binary)

    def _flags(self) -> list[str]:
        # zig cc defaults to Debug, which turns UBSan traps on: optimise explicitly, and
        # keep sanitizers off even where a build system drops CFLAGS for a step.
        # zig makes __DATE__/__TIME__ an error; the wrapper pins SOURCE_DATE_EPOCH, which
        # makes them reproducible, so they may expand (CPython's build info uses them).
        return ["-O2", "-fno-sanitize=undefined", "-Wno-error=date-time"]

    def _wrappers(self) -> Path:
        """Single-file compiler commands: some build systems (OpenSSL's Configure,
        libtool) mangle a CC that has arguments in it."""
        key = digest_of({"zig": self.zig, "id": self.identity()})

        def produce(stage: Path, final: Path) -> dict:
            bindir = stage / "bin"
            bindir.mkdir()
            flags = " ".join(self._flags())
            epoch = f"SOURCE_DATE_EPOCH={SOURCE_DATE_EPOCH}; export SOURCE_DATE_EPOCH; "
            tools = {
                "cc": epoch + f'exec "{self.zig}" cc -target {self.target.zig} {flags} "$@"',
                "c++": epoch + f'exec "{self.zig}" c++ -target {self.target.zig} {flags} "$@"',
                "ar": f'exec "{self.zig}" ar "$@"',
                "ranlib": f'exec "{self.zig}" ranlib "$@"',
                "objcopy": f'exec "{self.zig}" objcopy "$@"',
                # Every query answers for a static link (Libs.private included).
                "pkg-config": f'exec "{_host_pkg_config()}" --static "$@"',
            }
            for tool, body in tools.items():
                path = bindir / tool
                path.write_text(f"#!/bin/sh\n{body}\n")
                path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
            return {"zig": self.zig}

        return self.cache.build("toolchains", key, produce).path / "bin"

    def env(self, deps: list[Path] = ()) -> dict[str, str]:
        """Build environment for libraries living under the prefixes ``deps``."""
        b = self.bindir
        cppflags = " ".join(f"-I{d}/include" for d in deps)
        ldflags = " ".join(f"-L{d}/lib" for d in deps)
        pc_dirs = ":".join(f"{d}/lib/pkgconfig" for d in deps)
        env = {
            "CC": str(b / "cc"),
            "CXX": str(b / "c++"),
            "AR": str(b / "ar"),
            "RANLIB": str(b / "ranlib"),
            "CFLAGS": " ".join(self._flags()),
            "CPPFLAGS": cppflags,
            "LDFLAGS": " ".join([*self._ldflags(), ldflags]).strip(),
            # pkg-config sees our libraries and nothing of the host's.
            "PKG_CONFIG": str(b / "pkg-config"),
            "PKG_CONFIG_LIBDIR": pc_dirs or "/nonexistent",
            "PKG_CONFIG_PATH": "",
            "SOURCE_DATE_EPOCH": SOURCE_DATE_EPOCH,
            # One zig cache for every build: compiler-rt and musl are built once.
            "ZIG_GLOBAL_CACHE_DIR": str(self.cache.root / "zig-cache"),
            "ZIG_LOCAL_CACHE_DIR": str(self.cache.root / "zig-cache"),
        }
        return env

    def configure_args(self) -> list[str]:
        """``--host`` for a foreign target; nothing for the host's own arch, where the
        static musl test programs configure compiles run fine natively."""
        if not self.cross:
            return []
        # --build too: with --host alone, autoconf only guesses that this is a cross build.
        return [f"--build={host_arch()}-pc-linux-gnu", f"--host={self.target.name}"]


_WRAPPER_VERSION = 2


def _host_pkg_config() -> str:
    found = shutil.which("pkg-config") or shutil.which("pkgconf")
    if not found:
        raise ToolchainError("pkg-config not found: install Debian's 'pkgconf' package")
    return found


TOOLCHAINS = {"zig": ZigToolchain}


def make_toolchain(name: str, target: str, cache: Cache, runner: Runner):
    try:
        cls = TOOLCHAINS[name]
    except KeyError:
        raise ToolchainError(f"unknown toolchain '{name}'; known: {', '.join(TOOLCHAINS)}") from None
    return cls(get_target(target), cache, runner)
