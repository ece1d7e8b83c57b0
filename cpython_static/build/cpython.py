"""Building CPython itself: configure, make, install, into the cache.

The input is a release from the lock or a source tree the user names (copied, never
touched).  Patches from ``patches/`` whose version range covers the release are applied
to the copy and ``configure`` is regenerated from ``configure.ac`` with the autoconf
release the shipped ``configure`` was made with.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from cpython_static.build import autoconf, own_symbols, patches
from cpython_static.build.libraries import BuiltLibrary, LibraryBuilder
from cpython_static.build.sources import Fetcher, Lock, extract
from cpython_static.core.cache import Cache, digest_of, sha256_file
from cpython_static.core.runner import Runner
from cpython_static.versions import (
    DEFAULT_VARIANT,
    Series,
    Variant,
    VersionError,
    get_series,
    get_variant,
    parse_release,
    version_of_tree,
)

FORMAT = 2  # bump to rebuild every interpreter after a change in this module
# cpython-static's main() (launcher/main.c): it adds the one-file layout's path
# configuration, the start-up hook and the allocator default (see the file).  It replaces
# Programs/python.c in the build's copy of the source, so CPython's own build links it
# into `python`: one link (with LTO, the long step), trained by PGO like the rest.
LAUNCHER = resources.files("cpython_static.runtime").joinpath("launcher")
# Baked into sysconfig only; the interpreter finds its library relative to itself.
INSTALL_PREFIX = "/opt/cpython-static"
# Bulky and only for CPython's own test suite; the pruned tree is what dist/ gets.
PRUNE = ("test",)
# How a PGO build trains (bump when it changes): CPython's PROFILE_TASK, run by the
# interpreter with our main(), so under the allocator it ships with.
PGO_TRAINING = 1
# {cflags:PKG} / {libs:PKG} in versions.toml's setup_local variables
_PKG_CONFIG_REF = re.compile(r"\{(cflags|libs):([^}]+)\}")


def makefile_var(makefile: Path, name: str) -> str:
    """A variable as configure wrote it into a Makefile (``NAME=\tvalue``), or ''."""
    m = re.search(rf"^{re.escape(name)}=[ \t]*(.*?)[ \t]*$", makefile.read_text(errors="replace"), re.M)
    return m.group(1) if m else ""


@dataclass
class Request:
    version: str
    tree: Path | None = None  # a user's source tree; None: the pinned release tarball
    # Patches of the series the tree already carries (a rebase worktree, a PR branch), so
    # configure gets the options they add (versions.toml by_patch `with`), not stand-ins.
    applied: tuple[str, ...] = ()


def resolve_request(what: str, lock: Lock) -> Request:
    """'3.13.15', 'v3.13.15' or a path to a CPython source tree."""
    path = Path(what).expanduser()
    if path.exists():
        if not path.is_dir():
            raise VersionError(f"{what} is a file; give a release (e.g. 3.13.15) or a CPython source directory")
        return Request(version_of_tree(path), tree=path.resolve())
    version = parse_release(what)
    available = lock.cpython_versions()
    if version is None or version not in available:
        hint = (
            f"'{what}' is not a release in the lock"
            if version
            else f"'{what}' is neither a release nor an existing directory"
        )
        raise VersionError(
            f"{hint}; available releases: {', '.join(available)} (or give a path to a CPython source tree)"
        )
    return Request(version)


@dataclass
class BuiltPython:
    version: str
    target: str
    prefix: Path  # the installed tree inside the cache
    key: str
    reused: bool
    patches: list[str]
    libraries: list[BuiltLibrary] = field(default_factory=list)
    build_python: BuiltPython | None = None  # cross builds: the same release for this machine
    # The cache entry's manifest: configure arguments, autoconf used, libraries.
    manifest: dict = field(default_factory=dict)
    variant: str = DEFAULT_VARIANT  # versions.toml [variant.*]: build --no-gpl

    @property
    def binary(self) -> Path:
        major_minor = ".".join(self.version.split(".")[:2])
        return self.prefix / "bin" / f"python{major_minor}"


class CPythonBuilder:
    def __init__(
        self,
        cache: Cache,
        fetcher: Fetcher,
        lock: Lock,
        toolchain,
        runner: Runner,
        patches_dir: Path | None,
        *,
        use_series: bool = True,
        jobs: int | None = None,
        autoconf_program: str | None = None,
        regenerate: bool = True,
        progress=None,
        variant: str = DEFAULT_VARIANT,
    ):
        self.cache, self.fetcher, self.lock = cache, fetcher, lock
        self.variant = variant
        self.toolchain, self.runner = toolchain, runner
        self.patches_dir = patches_dir
        self.use_series = use_series
        self.autoconf_program = autoconf_program
        self.regenerate = regenerate
        self.jobs = jobs or os.cpu_count() or 1
        self.progress = progress or (lambda msg: None)

    def build(self, request: Request) -> BuiltPython:
        series = get_series(request.version, self.variant)
        variant = get_variant(self.variant)
        libs = LibraryBuilder(
            self.cache, self.fetcher, self.lock, self.toolchain, self.runner, self.jobs, self.progress
        ).build_all(list(series.libraries))
        selected = self._patches(request.version)
        own = self._variant_patches(variant, request.version)
        optimize = [o.value for o in series.optimize_args(self.toolchain.capabilities)]
        build_python = self._build_python(request) if self.toolchain.cross else None
        if request.tree is not None:
            # What the tree holds, not where: a copy is built, so the same tree elsewhere
            # (a PR branch's worktree, say) is the same build.
            source_id = {"digest": _tree_digest(request.tree)}
        else:
            src = self.lock.get("cpython", request.version)
            source_id = {"sha256": src.sha256}
        key = digest_of(
            {
                "format": FORMAT,
                "version": request.version,
                "source": source_id,
                "patches": [(p.name, p.path.read_text()) for p in selected],
                "applied": sorted(request.applied),
                "series": repr(series),
                "toolchain": self.toolchain.identity(),
                "libs": {l.recipe.name: l.key for l in libs},
                "build_python": build_python.key if build_python else None,
                # main(), and the dlopen(NULL) table linked beside it
                "launcher": [
                    LAUNCHER.joinpath("main.c").read_text(),
                    own_symbols.SOURCE.read_text(),
                    own_symbols.FORMAT,
                ],
                # Only when there are any: builds without optimisations keep their keys.
                **({"optimize": optimize, "training": PGO_TRAINING} if optimize else {}),
                # Only for a variant: the default build keeps its key.
                **({"variant": self.variant} if self.variant != DEFAULT_VARIANT else {}),
                # Only for a variant that has them (not in Series: its repr is keyed above).
                **({"variant_patches": [(p.name, p.path.read_text()) for p in own]} if own else {}),
                **({"install": [a.value for a in variant.install]} if variant.install else {}),
            }
        )
        entry = self.cache.lookup("cpython", key)
        if entry is None:
            self.progress(f"building CPython {request.version}")
            entry = self.cache.build(
                "cpython",
                key,
                lambda stage, final: self._produce(
                    request, series, selected + own, optimize, libs, stage, build_python, variant.install
                ),
            )
        return BuiltPython(
            request.version,
            self.toolchain.target.name,
            entry.path / "install",
            key,
            entry.reused,
            [p.name for p in selected],
            libs,
            build_python,
            dict(entry.manifest),
            self.variant,
        )

    def source_tree(self, request: Request, selected: list | None, dest: Path) -> Path:
        """``request``'s source at ``dest`` (the pinned tarball, or a copy of the user's
        tree: never written to) with ``selected`` patches applied (None: the build's own)."""
        if request.tree is not None:
            shutil.copytree(
                request.tree, dest, symlinks=True, ignore=shutil.ignore_patterns(".git", "*.o", "*.a", "__pycache__")
            )
        else:
            extract(self.fetcher.fetch(self.lock.get("cpython", request.version)), dest)
        selected = self._patches(request.version) if selected is None else selected
        if selected:
            patches.apply(selected, dest, self.runner)
        return dest

    def _patches(self, version: str) -> list:
        if not self.use_series or self.patches_dir is None:
            return []
        selected = patches.select(patches.load_series(self.patches_dir), version)
        if self.regenerate:
            return selected
        # --no-regen: leave out the patches whose configure change the version table can
        # reach with cache variables instead; any other configure change needs autoconf.
        replaceable = {e.patch for e in get_series(version).by_patch if e.without}
        kept = [p for p in selected if p.name not in replaceable]
        for p in kept:
            if p.changes_configure_inputs:
                raise VersionError(
                    f"{p.name} changes configure.ac and has no configure cache "
                    "variable equivalent: it needs regeneration (drop --no-regen)"
                )
        return kept

    def _variant_patches(self, variant: Variant, version: str) -> list:
        """The variant's own patches (patches/<variant.patches>/series) for ``version``."""
        if variant.patches is None:
            return []
        own = self.patches_dir / variant.patches if self.patches_dir is not None else None
        if own is None or not (own / patches.SERIES_FILE).is_file():
            raise VersionError(
                f"the {variant.name} build needs its own patches ({variant.patches}/series beside the "
                f"patch series, {self.patches_dir or 'none found'}): pass --patches DIR"
            )
        return patches.select(patches.load_series(own), version)

    def _build_python(self, request: Request) -> BuiltPython:
        """A cross build runs the same CPython version on the build machine to generate
        code (--with-build-python): the static build for the host's own arch, cached."""
        from cpython_static.build.toolchain import TARGETS, make_toolchain
        from cpython_static.core.arch import host_arch

        native = next((t for t in TARGETS.values() if t.arch == host_arch()), None)
        if native is None:
            raise VersionError(f"cross builds need a native target for this machine ({host_arch()})")
        # This machine's default toolchain, quick, and the default variant (no variant is
        # passed on): a code generator needs no speed and ships nothing, and it shares the
        # libraries and interpreter of a native build.
        toolchain = make_toolchain(
            None,
            native.name,
            self.cache,
            self.runner,
            optimize="quick",
            libc_needs=get_series(request.version).libc_needs,
        )
        self.progress(f"building CPython {request.version} for {native.name} first (--with-build-python)")
        return CPythonBuilder(
            self.cache,
            self.fetcher,
            self.lock,
            toolchain,
            self.runner,
            self.patches_dir,
            use_series=self.use_series,
            jobs=self.jobs,
            autoconf_program=self.autoconf_program,
            regenerate=self.regenerate,
            progress=self.progress,
        ).build(request)

    def _produce(
        self,
        request: Request,
        series: Series,
        selected: list,
        optimize: list[str],
        libs: list[BuiltLibrary],
        stage: Path,
        build_python: BuiltPython | None,
        install: tuple = (),
    ) -> dict:
        work = self.cache.scratch(f"work-cpython-{request.version}")
        try:
            src = self.source_tree(request, selected, work / "src")
            regenerated = None
            if selected:
                # configure is generated: regenerate it whenever its inputs changed.
                if any(p.changes_configure_inputs for p in selected):
                    program = self.autoconf_program
                    if program is None:  # the exact release, the system's or built from the lock
                        from cpython_static.build.autoconf import autoconf_for

                        program = autoconf_for(
                            src, self.cache, self.fetcher, self.lock, self.runner, progress=self.progress
                        ).program
                    regenerated = autoconf.regenerate(src, self.runner, autoconf=program)
            (src / "Programs" / "python.c").write_text(LAUNCHER.joinpath("main.c").read_text())
            env = self.toolchain.env([l.prefix for l in libs])
            env["LDFLAGS"] = " ".join([*self.toolchain.static_ldflags(), env["LDFLAGS"]]).strip()
            args = ["./configure", f"--prefix={INSTALL_PREFIX}", *self.toolchain.configure_args()]
            args += [a.value for a in series.configure]
            openssl = next((l for l in libs if l.recipe.name == "openssl"), None)
            if openssl:
                args.append(f"--with-openssl={openssl.prefix}")
            args += [a.value for a in series.cache_vars]
            if build_python is not None:
                args += [f"--with-build-python={build_python.binary}"]
                args += [a.value for a in series.cross_cache_vars]
            args += [a.value for a in series.patch_args({p.name for p in selected} | set(request.applied))]
            args += optimize
            self.runner.run("cpython:configure", args, cwd=src, env=env)
            if series.setup_local:
                self._write_setup_local(series.setup_local, src, env)
            link = self._own_symbols_link(src, stage / "own-symbols", work / "own-symbols", env)
            self.runner.run("cpython:make", ["make", f"-j{self.jobs}", link], cwd=src, env=env)
            destdir = work / "destdir"
            self.runner.run(
                "cpython:install",
                ["make", "install", f"DESTDIR={destdir}", link, *(a.value for a in install)],
                cwd=src,
                env=env,
            )
            os.rename(destdir / INSTALL_PREFIX.lstrip("/"), stage / "install")
            mm = series.name
            for name in PRUNE:
                shutil.rmtree(stage / "install" / "lib" / f"python{mm}" / name, ignore_errors=True)
            # Kept for whoever debugs a build: what configure decided and which modules
            # the build system considered (and why some were not built).
            for f in ("config.log", "Modules/Setup.stdlib", "pyconfig.h"):
                if (src / f).exists():
                    (stage / "build-info").mkdir(exist_ok=True)
                    shutil.copy2(src / f, stage / "build-info" / Path(f).name)
            return {
                "version": request.version,
                "target": self.toolchain.target.name,
                "patches": [p.name for p in selected],
                "autoconf_regenerated_with": regenerated,
                "configure_args": args,
                "libraries": {l.recipe.name: l.key for l in libs},
                "variant": self.variant,
            }
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _own_symbols_link(self, src: Path, keep: Path, work: Path, env: dict) -> str:
        """``LINKFORSHARED=…`` for make: configure's value plus the dlopen(NULL) table
        (build/own_symbols.py; kept in ``keep`` for relinks) and its --wrap flags.
        LINKFORSHARED is only on the programs' links (python, _testembed), and given to
        make rather than written into the Makefile, sysconfig records configure's value:
        no path of this build ships."""
        keep.mkdir(parents=True)
        table = keep / own_symbols.HEADER
        table.write_text(own_symbols.header(own_symbols.names(src / "Include", src / "Misc" / "stable_abi.toml")))
        obj = own_symbols.compile_object(
            table, work, shlex.split(env["CC"]), shlex.split(env.get("CFLAGS", "")), self.runner, env
        )
        configured = makefile_var(src / "Makefile", "LINKFORSHARED")
        return "LINKFORSHARED=" + " ".join([configured, str(obj), *own_symbols.LINK_FLAGS]).strip()

    def _write_setup_local(self, spec, src: Path, env: dict) -> None:
        """Modules/Setup.local = the rendered Setup.stdlib, every module enabled, plus the
        flag variables of the modules only setup.py used to build (versions.toml says why)."""

        def pkg_config(match: re.Match) -> str:
            flag = "--cflags" if match.group(1) == "cflags" else "--libs"
            res = self.runner.run(
                f"pkg-config {flag} {match.group(2)}", [env["PKG_CONFIG"], flag, match.group(2)], env=env, capture=True
            )
            return res.output.strip()

        lines = ["# Written by cpython-static after configure: every stdlib module built in."]
        for var, template in spec.vars:
            lines.append(f"{var}={_PKG_CONFIG_REF.sub(pkg_config, template)}")
        stdlib = (src / "Modules" / "Setup.stdlib").read_text()
        for module in spec.enable:
            stdlib, found = re.subn(rf"^#@MODULE_{module.upper()}_TRUE@", "", stdlib, flags=re.M)
            if not found:
                raise VersionError(
                    f"Modules/Setup.stdlib has no commented-out line for {module}; "
                    "the setup_local table of versions.toml needs updating"
                )
        (src / "Modules" / "Setup.local").write_text("\n".join(lines) + "\n" + stdlib)


# Not build inputs: configure, make and make install never read Doc/ (only the regen-*,
# check-* and docclean targets do) nor Misc/NEWS.d/, so a tree differing there builds the same.
_NOT_BUILD_INPUTS = ("Doc", "Misc/NEWS.d")


def _tree_digest(tree: Path) -> str:
    """Digest of a source tree's build inputs, so an edited tree is rebuilt."""
    entries = []
    for root, dirs, files in os.walk(tree):
        rel = Path(root).relative_to(tree)
        dirs[:] = sorted(
            d
            for d in dirs
            if d not in (".git", "__pycache__", "build") and (rel / d).as_posix() not in _NOT_BUILD_INPUTS
        )
        for f in sorted(files):
            if f == ".git":  # a worktree's pointer to its repository: where, not what
                continue
            p = Path(root) / f
            if p.is_file() and not p.is_symlink() and p.suffix not in (".o", ".a", ".pyc"):
                entries.append((str(p.relative_to(tree)), sha256_file(p)))
    return digest_of(entries)
