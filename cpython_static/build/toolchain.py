"""C toolchains that produce fully static musl binaries.

Recipes never name a compiler: they get a Toolchain's ``env()`` (CC, AR, CFLAGS, an
isolated pkg-config …) and its ``configure_args()`` (``--host`` when cross-compiling).
Two toolchains: zig (every target) and gcc + musl (this machine's own arch, with PGO
and LTO); what each can do for the interpreter is its ``capabilities``.
"""

from __future__ import annotations

import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

from cpython_static.core.arch import host_arch
from cpython_static.core.cache import MAPPED_ROOT, Cache, digest_of, sha256_file
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
        Target("riscv64-linux-musl", "riscv64", "riscv64-linux-musl"),
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


class _Toolchain:
    """What every toolchain shares: wrapper commands in the cache, the build environment,
    ``--host`` for foreign targets, stripping.  Subclasses say which compiler and flags.

    ``capabilities`` is what the compiler can do for the interpreter's build, matched
    against versions.toml's ``optimize`` table (``needs``): "pgo" (a profile runtime
    that writes profiles), "lto", "tail_call" (clang >= 19's preserve_none/musttail)."""

    name = ""
    capabilities: frozenset[str] = frozenset()
    libc_lacks: frozenset[str] = frozenset()  # libc functions a series may need that are missing
    cc = "cc"  # the C compiler wrapper's name, what CC points at
    chosen_because = ""  # why the default toolchain was not taken, when it was not

    def __init__(self, target: Target, cache: Cache, runner: Runner, *, optimize: str = "full"):
        self.target = target
        self.cache = cache
        self.runner = runner
        if optimize == "quick":
            self.capabilities = self.capabilities - SLOW_TO_BUILD
        self.version = self._version()
        self.bindir = self._wrappers()

    @property
    def cross(self) -> bool:
        return self.target.arch != host_arch()

    def identity(self) -> dict:
        """Everything about the compiler that changes its output: part of cache keys."""
        return {
            "toolchain": self.name,
            self.name: self.version,
            "target": self.target.zig,
            "flags": self._flags(),
            "ldflags": self._ldflags(),
            "wrappers": _WRAPPER_VERSION,
        }

    def _version(self) -> str:
        raise NotImplementedError

    def _flags(self) -> list[str]:
        raise NotImplementedError

    def _ldflags(self) -> list[str]:
        return []

    def _tools(self, stage: Path) -> dict[str, str]:
        """Wrapper name -> shell body (after the SOURCE_DATE_EPOCH export)."""
        raise NotImplementedError

    def static_ldflags(self) -> list[str]:
        return ["-static"]

    def symbol_objcopy(self) -> str:
        """GNU objcopy for renaming symbols in target objects (relink.py): the host's for
        the host's arch, Debian's binutils-<arch>-linux-gnu one otherwise (zig's objcopy
        has no --redefine-sym)."""
        tool = "objcopy" if not self.cross else f"{self.target.arch}-linux-gnu-objcopy"
        found = shutil.which(tool, path=self.runner.base_env.get("PATH"))
        if found is None:
            package = "binutils" if not self.cross else f"binutils-{self.target.arch.replace('_', '-')}-linux-gnu"
            raise ToolchainError(f"{tool} not found: install Debian's '{package}' package")
        return found

    def strip(self, binary: Path) -> None:
        """Remove symbols and debug information (CPython builds with -g) in place, with
        GNU strip from binutils: the host's own for the host's arch, Debian's
        binutils-<arch>-linux-gnu cross strip otherwise (ELF stripping is libc-agnostic;
        zig's objcopy cannot strip a binary this size: "unimplemented")."""
        tool = "strip" if not self.cross else f"{self.target.arch}-linux-gnu-strip"
        found = shutil.which(tool, path=self.runner.base_env.get("PATH"))
        if found is None:
            package = "binutils" if not self.cross else f"binutils-{self.target.arch.replace('_', '-')}-linux-gnu"
            raise ToolchainError(f"{tool} not found: install Debian's '{package}' package (or build with --no-strip)")
        tmp = binary.with_name(binary.name + ".stripped")
        self.runner.run(f"strip {binary.name}", [found, "--strip-all", "-o", tmp, binary])
        tmp.chmod(binary.stat().st_mode)
        os.replace(tmp, binary)

    def _wrappers(self) -> Path:
        """Single-file compiler commands: some build systems (OpenSSL's Configure,
        libtool) mangle a CC that has arguments in it."""
        # The wrappers' own text is part of the key (a fixed wrapper is a new entry).
        key = digest_of({"id": self.identity(), "inputs": self._wrapper_inputs(), "tools": self._tools(Path("@"))})

        def produce(stage: Path, final: Path) -> dict:
            bindir = stage / "bin"
            bindir.mkdir()
            epoch = f"SOURCE_DATE_EPOCH={SOURCE_DATE_EPOCH}; export SOURCE_DATE_EPOCH; "
            tools = {
                **self._tools(final),
                # Every query answers for a static link (Libs.private included).
                "pkg-config": f'exec "{_host_pkg_config()}" --static "$@"',
            }
            for tool, body in tools.items():
                path = bindir / tool
                path.write_text(f"#!/bin/sh\n{epoch}{body}\n")
                path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
            self._populate(stage)
            return {"toolchain": self.name}

        return self.cache.build("toolchains", key, produce).path / "bin"

    def _wrapper_inputs(self) -> dict:
        return {}

    def _populate(self, stage: Path) -> None:
        """Anything else the wrappers refer to, inside the toolchain's cache entry."""

    def env(self, deps: list[Path] = ()) -> dict[str, str]:
        """Build environment for libraries living under the prefixes ``deps``."""
        b = self.bindir
        cppflags = " ".join(f"-I{d}/include" for d in deps)
        ldflags = " ".join(f"-L{d}/lib" for d in deps)
        pc_dirs = ":".join(f"{d}/lib/pkgconfig" for d in deps)
        return {
            "CC": str(b / self.cc),
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
            **self._extra_env(),
        }

    def _extra_env(self) -> dict[str, str]:
        return {}

    def configure_args(self) -> list[str]:
        """``--host`` for a foreign target; nothing for the host's own arch, where the
        static musl test programs configure compiles run fine natively."""
        if not self.cross:
            return []
        # --build too: with --host alone, autoconf only guesses that this is a cross build.
        return [f"--build={host_arch()}-pc-linux-gnu", f"--host={self.target.name}"]


class ZigToolchain(_Toolchain):
    """zig cc from the ``ziglang`` wheel: one hermetic compiler for every musl target.

    No "pgo": zig ships no profile runtime, so ``-fprofile-instr-generate`` links but the
    program writes no profile (measured with zig 0.17 / clang 22.1.8).  "tail_call":
    zig's clang is >= 19, which CPython 3.14's --with-tail-call-interp needs."""

    name = "zig"
    capabilities = frozenset({"tail_call"})

    def _version(self) -> str:
        self.zig = self._find_zig()
        return self.runner.run("zig version", [self.zig, "version"], capture=True).output.strip()

    @staticmethod
    def _find_zig() -> str:
        try:
            import ziglang  # the PyPI wheel ships the zig binary inside the package
        except ImportError:
            found = shutil.which("zig")
            if found:
                return found
            raise ToolchainError(
                "zig not found: install it with `pip install ziglang` (the toolchain for foreign targets)"
            ) from None
        return str(Path(ziglang.__file__).parent / "zig")

    def _wrapper_inputs(self) -> dict:
        return {"zig": self.zig}

    def _flags(self) -> list[str]:
        # zig cc defaults to Debug, which turns UBSan traps on: optimise explicitly, and
        # keep sanitizers off even where a build system drops CFLAGS for a step.
        # zig makes __DATE__/__TIME__ an error; the wrapper pins SOURCE_DATE_EPOCH, which
        # makes them reproducible, so they may expand (CPython's build info uses them).
        return ["-O2", "-fno-sanitize=undefined", "-Wno-error=date-time", *HARDENING_FLAGS]

    # No -static for libraries: zig links musl statically anyway, and OpenSSL's Configure
    # silently disables threads when it sees -static.  The interpreter's final link adds
    # it (static_ldflags).

    def _tools(self, final: Path) -> dict[str, str]:
        flags = " ".join([*self._flags(), prefix_map(final)])
        return {
            "cc": f'exec "{self.zig}" cc -target {self.target.zig} {flags} "$@"',
            "c++": f'exec "{self.zig}" c++ -target {self.target.zig} {flags} "$@"',
            "ar": f'exec "{self.zig}" ar "$@"',
            "ranlib": f'exec "{self.zig}" ranlib "$@"',
            "objcopy": f'exec "{self.zig}" objcopy "$@"',
        }

    def _extra_env(self) -> dict[str, str]:
        # One zig cache for every build: compiler-rt and musl are built once.
        return {
            "ZIG_GLOBAL_CACHE_DIR": str(self.cache.root / "zig-cache"),
            "ZIG_LOCAL_CACHE_DIR": str(self.cache.root / "zig-cache"),
        }


class GccMuslToolchain(_Toolchain):
    """The host's gcc with musl's ``musl-gcc`` specs (Debian's ``musl-tools``), for the
    host's own architecture only.

    Why beside zig: gcc's profile runtime (libgcov) works in a static musl binary, so
    CPython's PGO (``--enable-optimizations``, trained with its own PROFILE_TASK) and
    gcc's LTO are available; zig has no profile runtime.  The LLVM route (zig's clang
    with compiler-rt's profile library and an llvm-profdata of exactly clang 22) needs
    both built from LLVM's sources, which are not in any registry this project uses."""

    name = "gcc"
    capabilities = frozenset({"pgo", "lto"})
    cc = "gcc"

    def __init__(self, target: Target, cache: Cache, runner: Runner, *, optimize: str = "full"):
        if target.arch != host_arch():
            raise ToolchainError(
                f"the gcc toolchain builds for this machine's architecture ({host_arch()}) only; "
                f"use --toolchain zig for {target.name}"
            )
        super().__init__(target, cache, runner, optimize=optimize)

    def _version(self) -> str:
        self.musl_gcc = shutil.which("musl-gcc", path=self.runner.base_env.get("PATH"))
        if self.musl_gcc is None:
            raise ToolchainError(
                "musl-gcc not found: install Debian's 'musl-tools' and 'musl-dev' packages "
                "(or build with --toolchain zig, without PGO)"
            )
        gnu = f"{self.target.arch}-linux-gnu"
        self.kernel_headers = {
            "linux": Path("/usr/include/linux"),
            "asm-generic": Path("/usr/include/asm-generic"),
            "asm": Path(f"/usr/include/{gnu}/asm"),
        }
        missing = [str(p) for p in self.kernel_headers.values() if not p.is_dir()]
        if missing:
            raise ToolchainError(
                f"Linux kernel headers missing ({', '.join(missing)}): install Debian's 'linux-libc-dev'"
            )
        gcc = self.runner.run("gcc version", ["gcc", "-dumpfullversion"], capture=True).output.strip()
        # musl's own files decide the output as much as gcc does: its specs and libc.a.
        specs = Path(f"/usr/lib/{self.target.arch}-linux-musl/musl-gcc.specs")
        libc = Path(f"/usr/lib/{self.target.arch}-linux-musl/libc.a")
        musl = digest_of(
            {
                "specs": specs.read_text() if specs.is_file() else "",
                "libc": sha256_file(libc) if libc.is_file() else None,
            }
        )[:16]
        # Debian's musl-dev builds libc.a without musl's crypt (zig's musl has it).
        members = self.runner.run("libc.a members", ["ar", "t", libc], capture=True).output.split()
        if not any(m.startswith("crypt") for m in members):
            self.libc_lacks = frozenset({"crypt"})
        return f"gcc {gcc}, musl {musl}"

    def _wrapper_inputs(self) -> dict:
        return {"musl-gcc": self.musl_gcc, "headers": {k: str(v) for k, v in self.kernel_headers.items()}}

    def identity(self) -> dict:
        # The wrappers' text too: what they pass decides what configure scripts see
        # (zig's wrappers are versioned by _WRAPPER_VERSION instead, keeping its keys).
        return {**super().identity(), "tools": digest_of(self._tools(Path("@")))}

    def _flags(self) -> list[str]:
        # -fno-pie/-no-pie: a static executable is not position independent anyway
        # (musl-gcc's specs start it with Scrt1.o, no static-pie), so PIE code would only
        # cost an indirection per global access; zig's static musl binaries are non-PIE too.
        # (-no-pie in the flags, not LDFLAGS: some build tools link without LDFLAGS.)
        return ["-O2", "-fno-pie", "-no-pie", *HARDENING_FLAGS]

    def _tools(self, final: Path) -> dict[str, str]:
        flags = " ".join([*self._flags(), prefix_map(final)])
        # musl ships no Linux headers; the host's linux-libc-dev ones, searched after
        # musl's own (-idirafter), are libc-independent (what Alpine's linux-headers are).
        headers = f"-idirafter {final / 'kernel-headers'}"
        gnu = f"{self.target.arch}-linux-gnu"
        return {
            # Debian's gcc answers --print-multiarch with its glibc triple, which CPython's
            # configure refuses beside the musl platform triplet; musl has no multiarch
            # (zig's clang prints nothing either).
            # Named gcc (CC points here): CPython's configure picks its PGO and LTO flags
            # by the compiler command's name (*gcc*), not by what it is.
            "gcc": f'[ "$1" = --print-multiarch ] && exit 0; exec "{self.musl_gcc}" {headers} {flags} "$@"',
            # musl-gcc is C only; no recipe builds C++ (ncurses: --without-cxx).
            "c++": 'echo "cpython-static: the gcc+musl toolchain has no C++ compiler" >&2; exit 1',
            # gcc-ar/gcc-ranlib: archives of LTO objects need gcc's linker plugin.
            "ar": f'exec "$(command -v {gnu}-gcc-ar || command -v gcc-ar)" "$@"',
            "ranlib": f'exec "$(command -v {gnu}-gcc-ranlib || command -v gcc-ranlib)" "$@"',
            "objcopy": 'exec objcopy "$@"',
        }

    def _populate(self, stage: Path) -> None:
        headers = stage / "kernel-headers"
        headers.mkdir()
        for name, path in self.kernel_headers.items():
            (headers / name).symlink_to(path)


_WRAPPER_VERSION = 3

# -fstack-protector-strong: canaries in every function with an array or an address-taken
# local, as Debian, Fedora and Alpine build; musl initialises the canary in a static binary
# too (both toolchains, measured: the checks are in the code and the program runs).
HARDENING_FLAGS = ("-fstack-protector-strong",)


def prefix_map(final: Path) -> str:
    """-ffile-prefix-map of the cache root (the toolchain entry ``final`` lives two levels
    under it) onto a fixed name, so __FILE__ and debug paths do not depend on where the
    cache is.  In the wrappers only, not CFLAGS: build systems record CFLAGS in what they
    install (sysconfig, OpenSSL's `compiler:` line), which would carry the path again."""
    return f"-ffile-prefix-map={final.parent.parent}={MAPPED_ROOT}"


def _host_pkg_config() -> str:
    found = shutil.which("pkg-config") or shutil.which("pkgconf")
    if not found:
        raise ToolchainError("pkg-config not found: install Debian's 'pkgconf' package")
    return found


TOOLCHAINS = {"gcc": GccMuslToolchain, "zig": ZigToolchain}
# "full" (the default): every optimisation the toolchain has.  "quick": none of those that
# make a build long: PGO (a second build and a training run) and LTO (whole-program links
# of ~10 minutes on 2 cores); for trying a change, and for CI's tests but one.
OPTIMIZE_LEVELS = ("full", "quick")
OPTIMIZE_ENV = "CPYTHON_STATIC_OPTIMIZE"
SLOW_TO_BUILD = frozenset({"pgo", "lto"})


def default_toolchain(target: str) -> str:
    """gcc for this machine's own architecture (PGO and LTO: the fastest interpreter,
    measured in the README), zig for foreign ones (one compiler for every target)."""
    return "gcc" if get_target(target).arch == host_arch() else "zig"


def make_toolchain(
    name: str | None,
    target: str,
    cache: Cache,
    runner: Runner,
    *,
    optimize: str | None = None,
    libc_needs: tuple[str, ...] = (),
):
    """``name`` None: the target's default, unless its libc lacks one of ``libc_needs``
    (the series' versions.toml entry), then zig (``chosen_because`` says why).
    ``optimize`` None: $CPYTHON_STATIC_OPTIMIZE, else "full"."""
    optimize = optimize or os.environ.get(OPTIMIZE_ENV) or "full"
    if optimize not in OPTIMIZE_LEVELS:
        raise ToolchainError(f"optimisation level '{optimize}' (from --optimize or ${OPTIMIZE_ENV}): use full or quick")
    chosen = name or default_toolchain(target)
    try:
        cls = TOOLCHAINS[chosen]
    except KeyError:
        raise ToolchainError(f"unknown toolchain '{chosen}'; known: {', '.join(TOOLCHAINS)}") from None
    toolchain = cls(get_target(target), cache, runner, optimize=optimize)
    missing = sorted(set(libc_needs) & toolchain.libc_lacks)
    if missing and name:
        raise ToolchainError(
            f"the {chosen} toolchain's C library has no {', '.join(missing)}(), which this CPython series needs "
            "(versions.toml libc_needs); use --toolchain zig"
        )
    if missing:
        toolchain = ZigToolchain(get_target(target), cache, runner, optimize=optimize)
        toolchain.chosen_because = f"{chosen}'s C library has no {', '.join(missing)}(), which this series needs"
    return toolchain
