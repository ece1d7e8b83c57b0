"""Third-party C extensions for ``build --with PKG``: the sdist, and its objects.

1. **Fetch**: ``python -m pip download --no-binary :all: --no-deps SPEC`` from whatever
   index the user's pip is configured with, into scratch space; the sdist is pinned by
   the sha256 computed here (recorded in the result) and kept in the cache's sources
   under that digest.
2. **Classify, before anything is built**: ``extensions.toml``'s ``cannot`` table and the
   sdist's build system (Rust through maturin/setuptools-rust/Cargo, or a build backend
   other than setuptools) give a named error with what works instead.
3. **Build**: the sdist's own ``setup.py build`` runs under the interpreter the objects
   are for (``runtime/setup_driver.py``: that interpreter's headers and sysconfig, our
   toolchain's compiler), setuptools and Cython from pinned pure wheels; what would have
   been linked into a shared object is kept instead: its objects, libraries and flags,
   plus the package's pure-Python files.  An extension the sdist declares but that never
   reached the link (PyYAML without libyaml, MarkupSafe's fallback) fails the build, as
   does a C++ one.  Each sdist's result is a cache entry keyed by the sdist's digest,
   the toolchain, the target and the interpreter (``relink.py`` links them in).
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import sys
import tarfile
import time
import tomllib
import urllib.parse
import zipfile
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from cpython_static.build.libraries import BuiltLibrary, LibraryBuilder
from cpython_static.build.sbom import metadata_licence
from cpython_static.build.sources import Fetcher, Lock, extract
from cpython_static.core.cache import Cache, digest_of, sha256_file
from cpython_static.core.errors import UsageError, WorkFailed
from cpython_static.core.runner import Runner, StepFailed

FORMAT = 1  # bump to rebuild every extension after a change in this module
TABLE = resources.files("cpython_static").joinpath("extensions.toml")
DRIVER = resources.files("cpython_static.runtime").joinpath("setup_driver.py")
# The build tools the driver runs with (pure wheels pinned in the lock).
BUILD_TOOLS = ("setuptools", "cython")
# Build backends that are setuptools underneath (PyYAML wraps it in an in-tree backend).
SETUPTOOLS_BACKENDS = ("setuptools.build_meta", "setuptools.build_meta:__legacy__")
# What a backend or build requirement means, for the error that refuses it.
RUST_MARKERS = ("maturin", "setuptools-rust", "setuptools_rust")


class ExtensionError(WorkFailed, RuntimeError):
    """A package that cannot be compiled in: the message names it, what it needs and
    what works instead (or the failing step's log)."""


class UnknownPackage(UsageError, RuntimeError):
    """pip found no sdist for the name given (the message carries pip's error and log)."""


class CannotCompileIn(UsageError, RuntimeError):
    """A package whose extension cannot be linked into a static interpreter here: said
    before anything is built, with what it needs and what works instead."""


class OtherBackend(CannotCompileIn):
    """An sdist built by a backend other than setuptools (flit, hatchling, meson…): its
    C extensions cannot be compiled in; ``pack`` still takes it if its wheel is pure."""


@dataclass(frozen=True)
class Sdist:
    spec: str  # as the user gave it (psutil, psutil==7.2.2)
    name: str  # the project name, normalised (pip's spelling, lower case)
    version: str
    file: str
    sha256: str
    path: Path  # in the cache's sources, under its digest

    def to_json(self) -> dict:
        return {"spec": self.spec, "name": self.name, "version": self.version, "file": self.file, "sha256": self.sha256}


@dataclass(frozen=True)
class ExtensionModule:
    name: str  # full dotted name: psutil._psutil_linux
    objects: tuple[Path, ...]
    libraries: tuple[str, ...] = ()
    extra_link_args: tuple[str, ...] = ()

    @property
    def init_symbol(self) -> str:
        """What the object files define: PyInit_ + the last component of the name."""
        return "PyInit_" + self.name.rsplit(".", 1)[-1]


@dataclass
class BuiltExtension:
    sdist: Sdist
    modules: list[ExtensionModule]
    pure: Path  # the package's pure-Python files (and its .dist-info), as in site-packages
    libraries: list[BuiltLibrary] = field(default_factory=list)
    key: str = ""
    reused: bool = False

    @property
    def license(self) -> str | None:
        """The distribution's own licence statement, as the SBOM lists it."""
        for info in self.pure.glob("*.dist-info/METADATA"):
            return metadata_licence(info.read_text(errors="replace"))
        return None

    def to_json(self) -> dict:
        return {
            **self.sdist.to_json(),
            "modules": [m.name for m in self.modules],
            "libraries": {l.recipe.name: l.key for l in self.libraries},
            "key": self.key,
            "cached": self.reused,
        }


def load_table(text: str | None = None) -> dict:
    data = tomllib.loads(text if text is not None else TABLE.read_text())
    for name, entry in data.get("cannot", {}).items():
        if not entry.get("needs") or not entry.get("instead"):
            raise ValueError(f"extensions.toml: cannot.{name} needs both 'needs' and 'instead'")
    return data


def project_name(spec: str) -> str:
    """The project a requirement names, normalised as PEP 503 does (PyYAML -> pyyaml)."""
    m = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", spec)
    if not m:
        raise UsageError(f"--with {spec!r}: not a package name or requirement (e.g. psutil, 'psutil==7.2.2')")
    return re.sub(r"[-_.]+", "-", m.group(1)).lower()


def refusal(name: str, table: dict) -> str | None:
    """The reason ``name`` cannot be compiled in, from the table, or None."""
    entry = table.get("cannot", {}).get(name)
    if entry is None:
        return None
    return f"{name}: its extension needs {entry['needs']}, which cannot be linked into a static interpreter here; instead: {entry['instead']}"


def classify_tree(name: str, tree: Path) -> str | None:
    """Why an unpacked sdist cannot be built here, from its build system, or None."""
    pyproject = tree / "pyproject.toml"
    build_system = tomllib.loads(pyproject.read_text()).get("build-system", {}) if pyproject.is_file() else {}
    backend = build_system.get("build-backend", "")
    requires = " ".join(build_system.get("requires", [])).lower()
    # A Cargo.toml beside declared build requirements that name no Rust tool is an
    # optional Rust backend (zstandard's --rust-backend); alone, it is the extension.
    cargo = (tree / "Cargo.toml").is_file() and not build_system.get("requires")
    if cargo or any(m in backend or m in requires for m in RUST_MARKERS):
        return (
            f"{name}: its extension is Rust (build backend {backend or 'setuptools'}, requires: {requires or '-'}); "
            "a Rust toolchain for static musl is not part of cpython-static. Use a pure-Python "
            "alternative, or the package's pure-Python mode if it has one"
        )
    in_tree = bool(build_system.get("backend-path"))
    if backend and backend not in SETUPTOOLS_BACKENDS and not (in_tree and (tree / "setup.py").is_file()):
        return (
            f"{name}: built with '{backend}', and only setuptools builds (setup.py or pyproject "
            "with setuptools.build_meta) can be compiled in"
        )
    return None


def no_init_function(plan: dict) -> str | None:
    """A linked "extension" whose objects define no ``PyInit_<name>``: a plain C library
    the package loads at run time with ctypes or cffi (pycryptodome), which a static
    interpreter cannot dlopen and the inittab cannot name."""
    bad = []
    for ext in plan["linked"]:
        symbol = ("PyInit_" + ext["name"].rsplit(".", 1)[-1]).encode()
        if not any(symbol in Path(o).read_bytes() for o in ext["objects"]):
            bad.append(ext["name"])
    if not bad:
        return None
    return (
        f"{plan.get('name') or 'the package'}: {', '.join(bad[:5])}{' …' if len(bad) > 5 else ''} define no "
        "PyInit_ function: they are C libraries the package loads at run time with ctypes or cffi, which a "
        "static interpreter cannot load (no dlopen) and cannot register as built-in modules"
    )


def build_requirements(tree: Path) -> list[str]:
    """What an sdist's build needs besides the pinned build tools (setuptools, Cython):
    its pyproject's ``build-system.requires`` (setuptools_scm, packaging, …)."""
    pyproject = tree / "pyproject.toml"
    if not pyproject.is_file():
        return []
    requires = tomllib.loads(pyproject.read_text()).get("build-system", {}).get("requires", [])
    return [r for r in requires if project_name(r) not in (*BUILD_TOOLS, "wheel")]


def problems_after_build(name: str, plan: dict, pure_ok: bool = False) -> str | None:
    """What the driver's plan shows went wrong: a declared extension never linked (the
    sdist fell back to pure Python), a C++ one, or none at all (unless ``pure_ok``:
    ``pack`` takes pure-Python sdists the same way)."""
    linked = {e["name"]: e for e in plan["linked"]}
    cxx = sorted(
        {n for n, e in linked.items() if e["language"] != "c"}
        | {n for n, lang in plan.get("languages", {}).items() if lang != "c"}
    )
    if cxx:
        return (
            f"{name}: {', '.join(cxx)} is C++; the gcc+musl toolchain has no C++ compiler and "
            "no C++ runtime is linked into the interpreter. C extensions work (psutil, pyyaml, markupsafe, msgpack)"
        )
    missing = [n for n in plan["declared"] if n not in linked]
    if missing:
        return (
            f"{name}: the sdist declares {', '.join(missing)} but its build never linked it (it fell "
            "back to pure Python: see the log for the compile error, e.g. a missing C library header; "
            "a library the package needs belongs in extensions.toml's 'libraries')"
        )
    if not plan["declared"] and not pure_ok:
        return (
            f"{name}: has no C extension; --with is for C extensions (pure-Python packages install "
            "with pip into a venv of the one file)"
        )
    return None


class ExtensionBuilder:
    def __init__(
        self,
        cache: Cache,
        fetcher: Fetcher,
        lock: Lock,
        toolchain,
        runner: Runner,
        *,
        jobs: int | None = None,
        progress=None,
        table: dict | None = None,
        emulator: list[str] | None = None,
    ):
        self.emulator = list(emulator or [])  # runs the target's interpreter here ([] when native)
        self.cache, self.fetcher, self.lock = cache, fetcher, lock
        self.toolchain, self.runner = toolchain, runner
        self.jobs = jobs
        self.progress = progress or (lambda msg: None)
        self.table = table if table is not None else load_table()

    # -- 1 + 2: before any long build ----------------------------------------------------
    def prepare(self, specs: list[str]) -> list[Sdist]:
        """Each ``--with`` fetched and classified; raises before anything is built, and
        then nothing of it is kept (an sdist enters the cache once it is classified)."""
        seen: dict[str, str] = {}
        for spec in specs:
            name = project_name(spec)
            if name in seen:
                raise UsageError(f"--with {spec!r} and --with {seen[name]!r} name the same package")
            seen[name] = spec
            if why := refusal(name, self.table):
                raise CannotCompileIn(why)
        return [self.fetch(spec) for spec in specs]

    def fetch(self, spec: str) -> Sdist:
        scratch = self.cache.scratch("sdist")
        try:
            what = f"pip download {spec} (sdist)"
            try:
                self.runner.run(
                    what,
                    [
                        sys.executable,
                        "-m",
                        "pip",
                        "download",
                        "--no-binary",
                        ":all:",
                        "--no-deps",
                        "--disable-pip-version-check",
                        "--dest",
                        str(scratch / "got"),
                        spec,
                    ],
                )
            except StepFailed as exc:
                errors = [l for l in exc.tail.splitlines() if l.startswith("ERROR")] or exc.tail.splitlines()[-1:]
                if "No matching distribution" in exc.tail or "Could not find a version" in exc.tail:
                    raise UnknownPackage(
                        f"--with {spec}: pip found no source distribution: {' '.join(errors)}\n  pip's log: {exc.log}"
                    ) from None
                # The sdist was found, but preparing it (its metadata, run by its build
                # backend) failed: mysqlclient without a MySQL client library, say.
                said = [l.strip() for l in exc.tail.splitlines() if re.match(r"\s*(\w*(Error|Exception)\b|ERROR)", l)]
                errors = said[-3:] or errors
                raise ExtensionError(
                    f"--with {spec}: pip found the sdist but could not prepare it (its build backend failed, "
                    f"often a C library it looks for with pkg-config): {' '.join(errors)}\n  pip's log: {exc.log}",
                    step=what,
                ) from None
            got = list((scratch / "got").iterdir())
            # PEP 625: an sdist is a .tar.gz; an old zip sdist is refused, not converted
            # (its digest would no longer be the file's).
            if len(got) != 1 or not got[0].name.endswith(".tar.gz"):
                raise ExtensionError(
                    f"--with {spec}: pip gave {[p.name for p in got]}, not one .tar.gz source distribution", step=what
                )
            name, version = _name_version(got[0], spec)
            if why := refusal(name, self.table):
                raise CannotCompileIn(why)
            if why := classify_tree(name, extract(got[0], scratch / "src")):
                raise (CannotCompileIn if "Rust" in why else OtherBackend)(why)
            digest = sha256_file(got[0])
            stored = self.cache.store_source(got[0], digest, got[0].name)
            self.progress(f"sdist {stored.name} sha256 {digest}")
            return Sdist(spec, name, version, stored.name, digest, stored)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def cached_sdist(self, name: str, version: str, url: str, sha256: str | None) -> Sdist | None:
        """The sdist at ``url`` when the cache's sources already hold that digest: it was
        classified when it entered (``fetch``), so nothing is downloaded again."""
        filename = urllib.parse.unquote(url.split("#", 1)[0].rsplit("/", 1)[-1])
        if not sha256 or not filename.endswith(".tar.gz"):
            return None
        path = self.cache.source_path(sha256, filename)
        if not path.is_file():
            return None
        self.progress(f"sdist {filename}: cached (sha256 {sha256})")
        return Sdist(f"{name}=={version}", name, version, filename, sha256, path)

    # -- 3: the objects ------------------------------------------------------------------
    def key(self, sdist: Sdist, built, libs: list[BuiltLibrary]) -> str:
        return digest_of(
            {
                "format": FORMAT,
                "sdist": sdist.sha256,
                "toolchain": self.toolchain.identity(),
                "target": self.toolchain.target.name,
                "interpreter": built.key,
                "driver": DRIVER.read_text(),
                "tools": {t: self.lock.get("wheel", t).sha256 for t in BUILD_TOOLS},
                "libs": {l.recipe.name: l.key for l in libs},
            }
        )

    def build(self, sdist: Sdist, built, *, pure_ok: bool = False) -> BuiltExtension:
        """The objects of ``sdist``'s extensions for the interpreter ``built`` (with
        ``pure_ok``, none for a pure-Python sdist: its files only)."""
        recipes = self.table.get("package", {}).get(sdist.name, {}).get("libraries", [])
        libs = LibraryBuilder(
            self.cache, self.fetcher, self.lock, self.toolchain, self.runner, self.jobs, self.progress
        ).build_all(list(recipes))
        key = self.key(sdist, built, libs)
        started = time.monotonic()
        entry = self.cache.lookup("extensions", key)
        if entry is None:
            self.progress(f"building the C extensions of {sdist.name} {sdist.version}")
            entry = self.cache.build(
                "extensions", key, lambda stage, final: self._produce(sdist, built, libs, stage, pure_ok)
            )
        modules = [
            ExtensionModule(
                m["name"],
                tuple(entry.path / o for o in m["objects"]),
                tuple(m["libraries"]),
                tuple(m["extra_link_args"]),
            )
            for m in entry.manifest["modules"]
        ]
        self.progress(
            f"extension {sdist.name}: {'cached' if entry.reused else 'built'} "
            f"({', '.join(m.name for m in modules) or 'pure Python'}; {time.monotonic() - started:.1f}s)"
        )
        return BuiltExtension(sdist, modules, entry.path / "site", libs, key, entry.reused)

    def _build_requirements(self, sdist: Sdist, built, requires: list[str], target: Path) -> Path:
        """The sdist's own build requirements as pure wheels for the interpreter's release
        (``pip install --target``, each on its own: one with no pure wheel, cffi say, is
        left out and the build says whether it was optional; the pinned tools come first
        on the path)."""
        mm = ".".join(built.version.split(".")[:2])
        for req in requires:
            res = self.runner.run(
                f"{sdist.name}: build requirement {req} (pure wheel)",
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "--no-compile",
                    "--target",
                    str(target),
                    "--only-binary",
                    ":all:",
                    "--platform",
                    "any",
                    "--implementation",
                    "py",
                    "--python-version",
                    mm,
                    req,
                ],
                check=False,
            )
            if res.returncode != 0:
                self.progress(f"{sdist.name}: build requirement {req!r} has no pure wheel; left out (log: {res.log})")
        if not _pure_only(target):
            raise ExtensionError(
                f"{sdist.name}: a build requirement installed a shared object", step="build requirements"
            )
        return target

    def _produce(self, sdist: Sdist, built, libs: list[BuiltLibrary], stage: Path, pure_ok: bool = False) -> dict:
        work = self.cache.scratch(f"work-ext-{sdist.name}")
        try:
            src = extract(sdist.path, work / "src")
            tools = work / "tools"
            for tool in BUILD_TOOLS:  # pure wheels: unpacking one is installing it
                with zipfile.ZipFile(self.fetcher.fetch(self.lock.get("wheel", tool))) as whl:
                    whl.extractall(tools)
            paths = ["--path", str(tools)]
            if extra := build_requirements(src):
                paths += ["--path", str(self._build_requirements(sdist, built, extra, work / "requires"))]
            # The interpreter the objects are for: its sysconfig and headers decide how
            # they are compiled.  A foreign one runs under its emulator (qemu-user).
            runs_here = [*self.emulator, str(built.binary)]
            wrapper = []
            if self.emulator:  # children started as sys.executable run under the emulator too
                script = work / "python-under-emulator"
                script.write_text("#!/bin/sh\nexec " + shlex.join(runs_here) + ' "$@"\n')
                script.chmod(0o755)
                wrapper = ["--executable", str(script)]
            env = {
                # Our toolchain's compiler; the interpreter's own flags come from its sysconfig.
                "CC": self.toolchain.env()["CC"],
                "CPPFLAGS": " ".join(f"-I{l.prefix}/include" for l in libs),
                "LDFLAGS": " ".join(f"-L{l.prefix}/lib" for l in libs),
            }
            plan_file, build_lib, build_temp = work / "plan.json", work / "lib", work / "temp"
            with resources.as_file(DRIVER) as driver:
                self.runner.run(
                    f"{sdist.name}: setup.py build (objects only)",
                    [
                        *runs_here,
                        "-I",
                        str(driver),
                        "--sdist",
                        str(src),
                        "--build-lib",
                        str(build_lib),
                        "--build-temp",
                        str(build_temp),
                        "--plan",
                        str(plan_file),
                        *paths,
                        *wrapper,
                    ],
                    env=env,
                )
            plan = json.loads(plan_file.read_text())
            if why := problems_after_build(sdist.name, plan, pure_ok) or no_init_function(plan):
                raise ExtensionError(why, step=f"{sdist.name}: setup.py build")
            modules = []
            for ext in plan["linked"]:
                objects = []
                for obj in ext["objects"]:
                    rel = Path("objects") / ext["name"] / Path(obj).relative_to(build_temp)
                    (stage / rel).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(obj, stage / rel)
                    objects.append(str(rel))
                modules.append(
                    {
                        "name": ext["name"],
                        "objects": objects,
                        "libraries": ext["libraries"],
                        "extra_link_args": ext["extra_link_args"],
                    }
                )
            site = stage / "site"
            shutil.copytree(build_lib, site, ignore=shutil.ignore_patterns("__pycache__", "*.so", "*.pyd"))
            if (src / "PKG-INFO").is_file():  # importlib.metadata finds the distribution
                info = site / f"{re.sub('-', '_', sdist.name)}-{plan['version']}.dist-info"
                info.mkdir()
                shutil.copy2(src / "PKG-INFO", info / "METADATA")
            return {
                "package": sdist.to_json(),
                "modules": modules,
                "built_for": built.key,
                "python": plan["python"],
                # From the index, unpinned: what the build had (name-version.dist-info).
                "build_requirements": sorted(p.name for p in (work / "requires").glob("*.dist-info")),
            }
        finally:
            shutil.rmtree(work, ignore_errors=True)


def _pure_only(target: Path) -> bool:
    return not any(target.rglob("*.so"))


def _name_version(sdist: Path, spec: str) -> tuple[str, str]:
    """Name and version from the sdist's PKG-INFO (its own word), else its file name."""
    with tarfile.open(sdist) as tar:
        for member in tar.getmembers():
            if member.name.count("/") == 1 and member.name.endswith("/PKG-INFO"):
                text = tar.extractfile(member).read().decode("utf-8", "replace")
                fields = dict(re.findall(r"^(Name|Version): *(.+)$", text, flags=re.M))
                if "Name" in fields and "Version" in fields:
                    return project_name(fields["Name"]), fields["Version"].strip()
    stem = re.sub(r"\.(tar\.gz|tar\.bz2|zip)$", "", sdist.name)
    name, _, version = stem.rpartition("-")
    return project_name(name or spec), version
