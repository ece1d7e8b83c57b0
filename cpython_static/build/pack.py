"""``cpython-static pack``: an app, its dependencies and their C extensions in one static
executable that runs the app.

1. **The interpreter**: built (or taken from the cache) exactly as ``build`` would.
2. **Resolve** under that interpreter, with the pip it bundles (ensurepip's wheel, run
   in place) and the user's pip configuration (index, find-links, constraints,
   certificates): ``pip install --dry-run --ignore-installed --report``.  A static
   interpreter's platform tags admit pure wheels only (it has no loader for a
   manylinux ``.so``), so every package with a C extension resolves to its sdist.
   Requirement files (``-r``, with ``--hash`` lines when they are a lock) go to pip as
   they are; a PEP 751 ``pylock.toml`` is turned into one (exact versions and hashes).
3. **Install**, into scratch space: pure wheels with pip (``--no-deps``, the digest the
   resolution saw), the app's own directory with pip from a copy (its build backend
   writes into the source tree: the user's is never touched), and each sdist through
   build/extensions.py: its C extensions compiled to objects for this interpreter, or
   its files when it has none.  Every result is a cache entry, so packing again after
   an app change rebuilds nothing of the dependencies.
4. **The entry point** becomes the archive's ``__main__.py``: a console script of the
   app (the default when it declares one), any distribution's console script by name,
   ``module:function``, or a script file.
5. **Link and publish**: the interpreter relinked with the extensions' objects and the
   app launcher (launcher/app.c: argv goes to the app; ``CPYTHON_STATIC_PYTHON=1`` is
   the escape to Python's own options), the archive = the standard library + every
   installed tree + ``__main__.py``; written beside the output path, verified there
   (``verify``'s checks through the escape, plus the entry point), then renamed onto
   it.  Whatever fails, the output path and the user's files are left as they were.

Reproducible: nothing that names a scratch path or a time goes into the archive
(``direct_url.json`` and console-script wrappers are dropped, ``RECORD`` is kept), the
archive writer fixes dates and order, and the link is of the same objects: the same
inputs give the same bytes (a test proves it).
"""

from __future__ import annotations

import ast
import dataclasses
import json
import os
import re
import shutil
import time
import tomllib
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

from cpython_static.build import sbom
from cpython_static.build.cpython import BuiltPython, CPythonBuilder, Request
from cpython_static.build.extensions import (
    BuiltExtension,
    CannotCompileIn,
    ExtensionBuilder,
    ExtensionError,
    OtherBackend,
    UnknownPackage,
    load_table,
    refusal,
)
from cpython_static.build.publish import archive_with_packages, publish_onefile, stdlib_archive
from cpython_static.build.relink import Relinked, Relinker
from cpython_static.core.cache import digest_of, sha256_file
from cpython_static.core.errors import UsageError, WorkFailed
from cpython_static.core.runner import Runner, StepFailed
from cpython_static.verify.checks import Check, VerifyReport, resolve_emulator, verify

FORMAT = 1  # bump to redo every cached resolution and wheel set after a change here
# How long a resolution is reused when nothing it depends on changed (the index may
# have new releases: `--refresh` resolves again at once).
RESOLUTION_TTL_S = 24 * 3600
# pip's --report: "1" since pip 23.0, which only declared stable the fields pip 22.2-22.3
# wrote as the experimental "0" (3.11.2's ensurepip bundles pip 22.3.1).
REPORT_VERSIONS = ("0", "1")
PIP_CONFIG_FILES = ("/etc/pip.conf", "/etc/xdg/pip/pip.conf", "~/.config/pip/pip.conf", "~/.pip/pip.conf")
ESCAPE = "CPYTHON_STATIC_PYTHON"  # launcher/app.c's: the packed file as the plain interpreter
# Left out of installed trees: they name the scratch directory or the build machine's
# interpreter (and would make two packs of the same inputs differ).
DROPPED = ("direct_url.json", "INSTALLER", "REQUESTED")


class PackError(WorkFailed, RuntimeError):
    """A step of pack failed; the message says which and what to do."""


class ResolutionFailed(UsageError, RuntimeError):
    """pip could not resolve what was asked (unknown package, conflict): pip's words."""


class EntryPointError(UsageError, RuntimeError):
    """The entry point names nothing the packed distributions provide."""


@dataclass(frozen=True)
class Resolved:
    """One distribution of pip's resolution."""

    name: str
    version: str
    url: str
    sha256: str | None
    requested: bool
    kind: str  # "wheel", "sdist" or "directory" (the app's own source tree)

    @property
    def pure_wheel(self) -> bool:
        return self.kind == "wheel" and wheel_is_pure(self.url)

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "version": self.version,
            "kind": self.kind,
            "sha256": self.sha256,
            "requested": self.requested,
        }


@dataclass
class Entry:
    """What the packed file runs: ``module:function``, or a script's text."""

    spec: str  # as resolved: statool.cli:main, or script:path
    module: str | None = None
    function: str | None = None
    script: str | None = None  # a script's source

    def main_py(self) -> str:
        """The archive's __main__.py (a script's own text, as it is)."""
        if self.script is not None:
            return self.script
        head = f"# Written by cpython-static pack: the packed file runs {self.spec}.\n"
        if self.function is None:  # a module: run as `python -m module` would
            return head + f"import runpy\n\nrunpy.run_module({self.module!r}, run_name='__main__', alter_sys=True)\n"
        # module:function, or module:Class.method as console scripts allow
        return head + f"import sys\n\nimport {self.module} as _app\n\nsys.exit(_app.{self.function}())\n"

    def probe(self) -> str:
        """Python that fails unless the entry point resolves in the packed file."""
        if self.module is None:
            return "pass"
        check = f"import {self.module} as _app\n"
        if self.function:
            check += f"assert callable(_app.{self.function}), {self.spec!r}\n"
        return check


@dataclass
class Packed:
    output: Path
    built: BuiltPython
    interpreter: Relinked
    entry: Entry
    distributions: list[Resolved]
    extensions: list[BuiltExtension]
    report: VerifyReport | None
    duration_s: float
    steps: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.report is None or self.report.ok

    def to_json(self) -> dict:
        by_name = {e.sdist.name: e for e in self.extensions}
        return {
            "ok": self.ok,
            "output": str(self.output),
            "size_bytes": self.output.stat().st_size,
            "entry": self.entry.spec,
            "version": self.built.version,
            "target": self.built.target,
            "interpreter_key": self.built.key,
            "linked": {"key": self.interpreter.key, "cached": self.interpreter.reused},
            "modules": self.interpreter.modules,
            "distributions": [
                {
                    **d.to_json(),
                    **(
                        {"modules": [m.name for m in by_name[d.name].modules], "cached": by_name[d.name].reused}
                        if d.name in by_name
                        else {}
                    ),
                }
                for d in self.distributions
            ],
            "duration_s": round(self.duration_s, 1),
            "steps_s": self.steps,
            "verify": self.report.to_json() if self.report else None,
            "escape": f"{ESCAPE}=1",
            "sbom": str(sbom.sbom_path(self.output)),
            "licenses": str(sbom.licenses_path(self.output)),
        }


# -- pure functions (the unit tier's) ---------------------------------------------------
def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def wheel_is_pure(url: str) -> bool:
    """Whether a wheel's file name says it runs on any platform (…-none-any.whl)."""
    name = urllib.parse.unquote(urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1])
    return name.endswith(".whl") and name[:-4].split("-")[-1] == "any" and name[:-4].split("-")[-2] == "none"


def parse_report(report: dict) -> list[Resolved]:
    """pip's installation report (``--report``, format 1) as what pack needs."""
    if str(report.get("version")) not in REPORT_VERSIONS:
        raise PackError(
            f"pip's installation report has version {report.get('version')!r}; pack reads versions "
            + ", ".join(REPORT_VERSIONS)
        )
    out = []
    for item in report.get("install", []):
        info = item["download_info"]
        url = info["url"]
        archive = info.get("archive_info")
        if "dir_info" in info:
            kind = "directory"
        elif archive is not None and urllib.parse.urlsplit(url).path.endswith(".whl"):
            kind = "wheel"
        elif archive is not None:
            kind = "sdist"
        else:  # vcs_info: a git URL
            raise PackError(
                f"{item['metadata']['name']}: from {url} (a version-control checkout); pack takes index "
                "packages, sdist/wheel files and local directories: check it out and give its directory"
            )
        hashes = (archive or {}).get("hashes") or {}
        sha256 = hashes.get("sha256")
        if sha256 is None and (h := (archive or {}).get("hash", "")).startswith("sha256="):
            sha256 = h.split("=", 1)[1]
        out.append(
            Resolved(
                normalise(item["metadata"]["name"]),
                item["metadata"]["version"],
                url,
                sha256,
                bool(item.get("requested")),
                kind,
            )
        )
    return sorted(out, key=lambda r: r.name)


def pylock_requirements(text: str) -> str:
    """A PEP 751 lock file as a requirements file pip honours: each package at its exact
    version with every artifact's sha256 (pip then refuses anything else)."""
    data = tomllib.loads(text)
    if not str(data.get("lock-version", "")).startswith("1"):
        raise UsageError(f"pylock.toml: lock-version {data.get('lock-version')!r}; pack reads 1.x")
    lines = []
    for pkg in data.get("packages", []):
        if "version" not in pkg:
            raise UsageError(f"pylock.toml: package {pkg.get('name')!r} has no version (directory or VCS entries)")
        hashes = [w["hashes"]["sha256"] for w in pkg.get("wheels", []) if "sha256" in w.get("hashes", {})]
        if "sha256" in pkg.get("sdist", {}).get("hashes", {}):
            hashes.append(pkg["sdist"]["hashes"]["sha256"])
        marker = f" ; {pkg['marker']}" if pkg.get("marker") else ""
        lines.append(f"{pkg['name']}=={pkg['version']}{marker}" + "".join(f" --hash=sha256:{h}" for h in hashes))
    return "\n".join(lines) + "\n"


def console_scripts(trees: list[Path]) -> dict[str, tuple[str, str]]:
    """Every console script the installed trees declare: name -> (distribution, value)."""
    found: dict[str, tuple[str, str]] = {}
    for tree in trees:
        for eps in sorted(tree.glob("*.dist-info/entry_points.txt")) + sorted(tree.glob("*.egg-info/entry_points.txt")):
            section = None
            for raw in eps.read_text().splitlines():
                line = raw.strip()
                if line.startswith("["):
                    section = line.strip("[]").strip()
                elif section == "console_scripts" and "=" in line:
                    name, value = (p.strip() for p in line.split("=", 1))
                    found.setdefault(name, (eps.parent.name.split("-")[0], value))
    return found


def module_file(trees: list[Path], module: str) -> Path | None:
    rel = Path(*module.split("."))
    for tree in trees:
        for candidate in (tree / rel.with_suffix(".py"), tree / rel / "__init__.py", tree / rel / "__main__.py"):
            if candidate.is_file():
                return candidate
    return None


def defines(source: str, name: str) -> bool:
    """Whether a module's top level binds ``name`` (def, class, assignment, import)."""
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == name:
            return True
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                return True
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            if any((a.asname or a.name.split(".")[0]) == name for a in node.names):
                return True
    return False


def resolve_entry(
    given: str | None, app: str | None, trees: list[Path], *, pending: list[str] = (), builtin: bool = False
) -> Entry:
    """The entry point, from ``--entry`` (or, without it, the app's one console script).

    ``app``: the distribution named first; ``pending``: sdists whose trees are not
    built yet (a name not found may be theirs: only then is the check left to the
    packed file's own test)."""
    scripts = console_scripts(trees)
    if given is None:
        own = {n: v for n, (dist, v) in scripts.items() if app and normalise(dist) == normalise(app)}
        if len(own) == 1:
            ((name, value),) = own.items()
            return resolve_entry(value, app, trees, pending=pending)
        choices = sorted(own or scripts)
        raise EntryPointError(
            (f"{app} declares {len(own)} console scripts" if own else f"{app or 'the app'} declares no console script")
            + (f"; choose one with --entry ({', '.join(choices)})" if choices else "")
            + "; or give --entry module:function or --entry path/to/script.py"
        )
    if given.endswith(".py") and Path(given).is_file():
        return Entry(f"script:{Path(given).name}", script=Path(given).read_text())
    if given in scripts:
        return resolve_entry(scripts[given][1], app, trees, pending=pending)
    m = re.fullmatch(r"\s*([A-Za-z_][\w.]*)\s*(?::\s*([A-Za-z_][\w.]*))?\s*(\[.*\])?\s*", given)
    if not m:
        raise EntryPointError(
            f"--entry {given!r}: not a console script of the packed distributions "
            f"({', '.join(sorted(scripts)) or 'none'}), module:function, or an existing .py file"
        )
    module, function = m.group(1), m.group(2)
    spec = f"{module}:{function}" if function else module
    found = module_file(trees, module)
    if found is None:
        if pending or builtin:
            return Entry(spec, module, function)
        raise EntryPointError(
            f"--entry {given!r}: no module {module!r} in the packed distributions"
            + (f"; their console scripts: {', '.join(sorted(scripts))}" if scripts else "")
        )
    if function and not defines(found.read_text(encoding="utf-8", errors="replace"), function.split(".")[0]):
        raise EntryPointError(f"--entry {given!r}: {module} ({found.name}) defines no {function.split('.')[0]!r}")
    return Entry(spec, module, function)


def is_directory_spec(spec: str) -> bool:
    p = Path(spec).expanduser()
    return p.is_dir() and ((p / "pyproject.toml").is_file() or (p / "setup.py").is_file())


def pip_configuration(env: dict) -> dict:
    """What pip's answer depends on besides its arguments: PIP_* variables and the
    configuration files (and whatever those name, such as a constraints file)."""
    files = [os.path.expanduser(f) for f in PIP_CONFIG_FILES]
    if env.get("PIP_CONFIG_FILE"):
        files.append(env["PIP_CONFIG_FILE"])
    contents = {f: Path(f).read_text(errors="replace") for f in files if Path(f).is_file()}
    named = re.findall(r"^\s*(?:constraint|requirement)s?\s*=\s*(\S+)", "\n".join(contents.values()), flags=re.M)
    named += [v for k, v in env.items() if k in ("PIP_CONSTRAINT", "PIP_REQUIREMENT")]
    for f in named:
        for part in f.split():
            if Path(part).is_file():
                contents[part] = Path(part).read_text(errors="replace")
    return {"env": {k: v for k, v in sorted(env.items()) if k.startswith("PIP_")}, "files": contents}


def _spec_identity(spec: str) -> str | dict:
    """A requirement as it is; a directory as the digest of the files that declare its
    metadata (its code may change without changing the resolution)."""
    if not is_directory_spec(spec):
        return spec
    root = Path(spec).expanduser().resolve()
    return {n: sha256_file(root / n) for n in ("pyproject.toml", "setup.cfg", "setup.py") if (root / n).is_file()}


def unbuildable_in_resolution(log: str, table: dict) -> str | None:
    """Why resolution failed when it did on a package pack cannot compile in: pip
    prepares an sdist's metadata with its build backend, which for a Rust extension
    needs cargo and maturin (orjson, pydantic-core).  The package is the last one pip
    was collecting; the answer is extensions.toml's, or a Rust one from the log."""
    collecting = re.findall(r"^Collecting ([A-Za-z0-9][A-Za-z0-9._-]*)", log, flags=re.M)
    if not collecting:
        return None
    name = normalise(collecting[-1])
    if why := refusal(name, table):
        return why
    if re.search(r"\b(cargo|maturin|setuptools[-_]rust|rustc)\b", log.split(f"Collecting {collecting[-1]}")[-1]):
        return (
            f"{name}: its extension is Rust (pip's metadata step ran cargo/maturin); a Rust toolchain for static "
            "musl is not part of cpython-static. Use a pure-Python alternative"
        )
    return None


def app_name(spec: str) -> str:
    """The project a directory or requirement names (the default output's name)."""
    if is_directory_spec(spec):
        return _project_name(Path(spec).expanduser().resolve())
    m = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", spec)
    if not m:
        raise UsageError(f"{spec!r}: not a project directory or a requirement (e.g. ./mytool, 'httpie==3.*')")
    return normalise(m.group(1))


def clean_tree(tree: Path) -> None:
    """What pip --target writes that names a machine, a scratch path or a time goes,
    and each RECORD (kept: importlib.metadata lists files from it) no longer lists it."""
    shutil.rmtree(tree / "bin", ignore_errors=True)  # console-script wrappers: the archive has __main__
    for info in tree.glob("*.dist-info"):
        for name in DROPPED:
            (info / name).unlink(missing_ok=True)
        record = info / "RECORD"
        if record.is_file():
            gone = {f"{info.name}/{n}" for n in DROPPED}
            lines = record.read_text().splitlines()
            kept = [l for l in lines if l.split(",", 1)[0] not in gone and not l.startswith(("bin/", "../"))]
            record.write_text("".join(f"{l}\n" for l in kept))
    for cache in tree.rglob("__pycache__"):
        shutil.rmtree(cache, ignore_errors=True)


# -- the pipeline -----------------------------------------------------------------------
class Packer:
    def __init__(self, builder: CPythonBuilder, progress=None, *, refresh: bool = False):
        self.builder = builder
        self.refresh = refresh
        self.cache, self.runner = builder.cache, builder.runner
        self.progress = progress or (lambda msg: None)
        self.steps: dict[str, float] = {}

    def _timed(self, name: str, started: float) -> None:
        self.steps[name] = round(time.monotonic() - started, 1)

    def pack(
        self,
        request: Request,
        specs: list[str],
        output: Path,
        *,
        requirements: list[Path] = (),
        entry: str | None = None,
        check: bool = True,
    ) -> Packed:
        started = time.monotonic()
        if not specs and not requirements:
            raise UsageError("pack: name the app (a project directory or a requirement) or give -r FILE")
        if output.is_dir():
            raise UsageError(f"-o {output}: is a directory; give the executable's path (e.g. {output}/mytool)")
        if entry and entry.endswith(".py") and not Path(entry).is_file():
            raise EntryPointError(f"--entry {entry}: no such file")
        t = time.monotonic()
        built = self.builder.build(request)
        self._timed("interpreter", t)
        work = self.cache.scratch("pack")
        try:
            return self._pack(built, request, specs, output, requirements, entry, check, work, started)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _pip(self, built: BuiltPython, work: Path) -> list[str]:
        # A cross pack resolves with the same release built for this machine (pip starts
        # its build backends as sys.executable, which must run here); platform-specific
        # markers are evaluated for this machine then.
        built = built.build_python or built
        lib = built.prefix / "lib" / f"python{_mm(built.version)}"
        wheels = sorted((lib / "ensurepip" / "_bundled").glob("pip-*.whl"))
        if not wheels:
            raise PackError(f"{lib}/ensurepip/_bundled: no pip wheel (the interpreter was built without ensurepip)")
        # -I: no PYTHON* variables or user site of this machine in the resolution; pip's
        # own configuration (PIP_*, pip.conf) is the user's and is honoured.
        return [str(built.binary), "-I", f"{wheels[-1]}/pip", "--disable-pip-version-check", "--no-input"]

    def _pack(
        self,
        built: BuiltPython,
        request: Request,
        specs: list[str],
        output: Path,
        requirements: list[Path],
        entry_given: str | None,
        check: bool,
        work: Path,
        started: float,
    ) -> Packed:
        pip = self._pip(built, work)
        # The app's directory is copied: its build backend writes egg-info and build/
        # into the source tree, and the user's tree stays as it was.
        args, app = [], None
        for n, spec in enumerate(specs):
            if is_directory_spec(spec):
                src = Path(spec).expanduser().resolve()
                copy = work / "apps" / f"{n}-{src.name}"
                shutil.copytree(src, copy, symlinks=True, ignore=shutil.ignore_patterns(".git", "*.egg-info", "build"))
                args.append(str(copy))
            else:
                args.append(spec)
            app = app or app_name(spec)
        for req in requirements:
            if not req.is_file():
                raise UsageError(f"-r {req}: no such file")
            if req.name == "pylock.toml" or re.fullmatch(r"pylock\.[^.]+\.toml", req.name):
                converted = work / f"{req.stem}.txt"
                converted.write_text(pylock_requirements(req.read_text()))
                req = converted
            args += ["-r", str(req)]

        t = time.monotonic()
        resolved = [
            # The apps' directories are this run's copies (a kept resolution names an earlier run's).
            dataclasses.replace(r, url=(work / "apps" / Path(urllib.parse.urlsplit(r.url).path).name).as_uri())
            if r.kind == "directory"
            else r
            for r in self._resolve(built, pip, specs, args, requirements, work)
        ]
        self._timed("resolve", t)
        self.progress(
            "resolved: "
            + ", ".join(f"{r.name} {r.version} ({'pure wheel' if r.pure_wheel else r.kind})" for r in resolved)
        )
        odd = [r for r in resolved if r.kind == "wheel" and not r.pure_wheel]
        if odd:  # a platform wheel: only a locally built one can match a static interpreter's tags
            raise PackError(
                f"{', '.join(f'{r.name} ({r.url})' for r in odd)}: a platform wheel; a static interpreter "
                "cannot load its shared objects. Pack builds C extensions from sdists: remove the wheel "
                "from the index or find-links directory"
            )

        # Pure wheels (one cache entry for the set) and the app's directory (every time).
        t = time.monotonic()
        trees = []
        wheels = [r for r in resolved if r.pure_wheel]
        if wheels:
            trees.append(self._wheels(built, pip, wheels))
        site = work / "site"
        apps = [r for r in resolved if r.kind == "directory"]
        if apps:
            self._pip_target(pip, apps, site, "pack: install the app (pip install --target)")
            trees.append(site)
        self._timed("install", t)

        # Sdists: C extensions compiled in (or their pure files).
        t = time.monotonic()
        ext_builder = ExtensionBuilder(
            self.cache,
            self.builder.fetcher,
            self.builder.lock,
            self.builder.toolchain,
            self.runner,
            jobs=self.builder.jobs,
            progress=self.progress,
            emulator=self._emulator(built),
        )
        sdists = [r for r in resolved if r.kind == "sdist"]
        entry = None
        if entry_given is None or not sdists:
            entry = resolve_entry(entry_given, app, trees, pending=[r.name for r in sdists])
        extensions: list[BuiltExtension] = []
        for r in sdists:
            extensions.append(self._sdist(ext_builder, r, built, work))
        self._timed("extensions", t)
        trees += [e.pure for e in extensions]
        if entry is None or entry.module and module_file(trees, entry.module) is None:
            entry = resolve_entry(entry_given, app, trees)
        self.progress(f"entry point: {entry.spec}")

        # The interpreter with the objects and the app launcher; the archive.
        t = time.monotonic()
        linked = Relinker(self.builder, self.progress).relink(request, built, extensions, app=True)
        main_tree = work / "main"
        main_tree.mkdir()
        (main_tree / "__main__.py").write_text(entry.main_py())
        archive = stdlib_archive(
            self.cache, self.builder.fetcher, self.builder.lock, self.runner, built, progress=self.progress
        )
        pack_trees = [
            (f"tree:{_tree_digest(tree)}", tree) for tree in trees if tree not in [e.pure for e in extensions]
        ]
        pack_trees += [(e.key, e.pure) for e in extensions]
        pack_trees.append((f"main:{digest_of(entry.main_py())}", main_tree))
        archive = archive_with_packages(self.cache, self.runner, built, archive, pack_trees, progress=self.progress)
        self._timed("link", t)

        # Written and verified beside the output, then renamed onto it.
        t = time.monotonic()
        staged = publish_onefile(
            linked.binary,
            archive,
            output.with_name(f".{output.name}.pack-{os.getpid()}"),
            strip=self.builder.toolchain.strip,
        )
        by_name = {e.sdist.name: e for e in extensions}
        distributions = [
            {
                **r.to_json(),
                "license": by_name[r.name].license if r.name in by_name else _license_of(trees, r.name),
                "modules": [m.name for m in by_name[r.name].modules] if r.name in by_name else [],
            }
            for r in resolved
        ]
        doc = sbom.document(
            built,
            self.builder.lock,
            distributions=distributions,
            libraries=[l for e in extensions for l in e.libraries],
            name=f"{output.name} (cpython-static pack)",
        )
        staged_sbom = sbom.write(staged, doc)
        texts = sbom.gather_licenses(
            self.cache,
            self.builder.fetcher,
            self.builder.lock,
            built,
            libraries=[l for e in extensions for l in e.libraries],
            sdists={e.sdist.name: e.sdist.path for e in extensions},
            trees=trees,
        )
        staged_licenses = sbom.write_licenses(staged, sbom.licenses_text(doc, texts))
        try:
            report = self._verify(staged, built, linked, entry) if check else None
            if report is not None and not report.ok:
                failed = [f"{c.name}: {c.detail}" for c in report.checks if not c.ok]
                raise PackError(f"the packed file failed verification ({'; '.join(failed)}); {output} left as it was")
            os.replace(staged, output)
            os.replace(staged_sbom, sbom.sbom_path(output))
            os.replace(staged_licenses, sbom.licenses_path(output))
        except BaseException:
            for path in (staged, staged_sbom, staged_licenses):
                path.unlink(missing_ok=True)
            raise
        self._timed("verify", t)
        return Packed(
            output, built, linked, entry, resolved, extensions, report, time.monotonic() - started, dict(self.steps)
        )

    def _resolve(
        self,
        built: BuiltPython,
        pip: list[str],
        specs: list[str],
        args: list[str],
        requirements: list[Path],
        work: Path,
    ) -> list[Resolved]:
        """pip's resolution; kept for RESOLUTION_TTL_S (as pip's HTTP cache keeps an
        index page) when nothing it depends on changed: the interpreter, the arguments,
        the requirement files, the apps' metadata files and the pip configuration."""
        key = digest_of(
            {
                "format": FORMAT,
                "interpreter": built.key,
                "specs": [_spec_identity(s) for s in specs],
                "requirements": [sha256_file(r) for r in requirements],
                "pip": pip_configuration(self.runner.base_env),
            }
        )
        entry = self.cache.lookup("pack-resolution", key)
        if entry is not None and time.time() - entry.manifest.get("created", 0) < RESOLUTION_TTL_S and not self.refresh:
            self.progress(f"resolution: cached ({key[:12]}; --refresh resolves again)")
            return parse_report(entry.manifest["report"])
        self.progress(f"resolving {' '.join(specs + [f'-r {r}' for r in requirements])} for CPython {built.version}")
        report_file = work / "report.json"
        try:
            self.runner.run(
                "pack: resolve (pip install --dry-run)",
                [*pip, "install", "--dry-run", "--ignore-installed", "--report", str(report_file), *args],
                env={"PIP_REQUIRE_VIRTUALENV": None},
            )
        except StepFailed as exc:
            if why := unbuildable_in_resolution(exc.log.read_text(errors="replace"), load_table()):
                raise CannotCompileIn(f"{why} (pip stopped while preparing it; its log: {exc.log})") from None
            asked = " ".join([*specs, *(f"-r {r}" for r in requirements)])
            raise ResolutionFailed(_pip_words(exc, f"pip could not resolve {asked}")) from None
        report = json.loads(report_file.read_text())
        resolved = parse_report(report)  # refused before it is kept
        if entry is not None:
            shutil.rmtree(entry.path)  # expired: replaced
        self.cache.build("pack-resolution", key, lambda stage, final: {"report": report})
        return resolved

    def _pip_target(self, pip: list[str], items: list[Resolved], target: Path, step: str) -> None:
        try:
            self.runner.run(
                step,
                [*pip, "install", "--no-deps", "--no-compile", "--quiet", "--target", str(target)]
                + [_installable(r) for r in items],
                env={"PIP_REQUIRE_VIRTUALENV": None},
            )
        except StepFailed as exc:
            raise PackError(_pip_words(exc, f"pip could not install {', '.join(r.name for r in items)}")) from None
        clean_tree(target)
        shared = sorted(str(p.relative_to(target)) for p in target.rglob("*.so"))
        if shared:
            raise PackError(
                f"{', '.join(r.name for r in items)}: the build made shared objects ({', '.join(shared[:5])}); a "
                "static interpreter cannot load them. pack compiles the C extensions of dependencies from their "
                "sdists, not those of the app itself"
            )

    def _wheels(self, built: BuiltPython, pip: list[str], wheels: list[Resolved]) -> Path:
        """The pure wheels installed as site-packages is, one cache entry per set."""
        key = digest_of(
            {
                "format": FORMAT,
                "python": built.version,
                "wheels": sorted((r.url.rsplit("/", 1)[-1], r.sha256 or r.url) for r in wheels),
            }
        )

        def produce(stage: Path, final: Path) -> dict:
            self._pip_target(pip, wheels, stage / "site", "pack: install pure wheels (pip install --target)")
            return {"wheels": [r.to_json() for r in wheels]}

        entry = self.cache.build("pack-wheels", key, produce)
        self.progress(f"pure wheels: {'cached' if entry.reused else 'installed'} ({len(wheels)})")
        return entry.path / "site"

    def _sdist(self, ext_builder: ExtensionBuilder, r: Resolved, built: BuiltPython, work: Path) -> BuiltExtension:
        try:
            sdist = ext_builder.cached_sdist(r.name, r.version, r.url, r.sha256) or ext_builder.fetch(
                f"{r.name}=={r.version}"
            )
        except OtherBackend as exc:
            raise CannotCompileIn(
                f"{exc} (pack needs {r.name} {r.version} from its sdist: the index has no pure wheel of it)"
            ) from None
        except UnknownPackage as exc:
            raise PackError(str(exc)) from None
        if r.sha256 and sdist.sha256 != r.sha256:
            raise PackError(
                f"{r.name} {r.version}: the sdist pip resolved has sha256 {r.sha256}, the one downloaded "
                f"{sdist.sha256}: the index changed between the two; pack again"
            )
        try:
            return ext_builder.build(sdist, built, pure_ok=True)
        except ExtensionError as exc:
            raise ExtensionError(f"{exc} (needed by the app: {r.name} {r.version})", step=exc.step) from None

    def _emulator(self, built: BuiltPython) -> list[str]:
        return resolve_emulator(built.target, None, self.runner.base_env.get("PATH", os.defpath))

    def _verify(self, staged: Path, built: BuiltPython, linked: Relinked, entry: Entry) -> VerifyReport:
        """``verify``'s checks on the packed file through the escape, and the entry point
        importable from it."""
        self.progress("verifying the packed file")
        runner = Runner(
            self.runner.log_dir / "verify-packed",
            base_env={**self.runner.base_env, ESCAPE: "1"},
            on_step=self.runner.on_step,
        )
        report = verify(
            staged,
            runner=runner,
            version=built.version,
            target=built.target,
            added_modules=linked.modules,
            variant=built.variant,
        )
        res = runner.run(
            "pack: entry point importable",
            [*self._emulator(built), str(staged), "-I", "-c", entry.probe()],
            check=False,
            capture=True,
        )
        report.checks.append(
            Check("entry_point", res.returncode == 0, "" if res.returncode == 0 else f"{entry.spec}: see {res.log}")
        )
        report.ok = report.ok and res.returncode == 0
        return report


def _pip_words(exc: StepFailed, what: str) -> str:
    errors = [l.strip() for l in exc.tail.splitlines() if l.startswith(("ERROR", "  ", "The conflict"))]
    errors = [e for e in errors if e] or exc.tail.splitlines()[-3:]
    return f"{what}:\n  " + "\n  ".join(errors[:12]) + f"\n  pip's log: {exc.log}"


def _license_of(trees: list[Path], name: str) -> str | None:
    """A distribution's licence statement from its METADATA in the installed trees."""
    for tree in trees:
        for info in tree.glob("*.dist-info/METADATA"):
            if normalise(info.parent.name.split("-")[0]) != name:
                continue
            return sbom.metadata_licence(info.read_text(errors="replace"))
    return None


def _installable(r: Resolved) -> str:
    """What pip install is given for ``r``: the directory's path, or the file's URL with
    the digest the resolution saw (pip refuses a file that does not match)."""
    if r.kind == "directory":
        return urllib.parse.unquote(urllib.parse.urlsplit(r.url).path)
    return r.url + (f"#sha256={r.sha256}" if r.sha256 and "#" not in r.url else "")


def _project_name(directory: Path) -> str:
    pyproject = directory / "pyproject.toml"
    if pyproject.is_file():
        name = tomllib.loads(pyproject.read_text()).get("project", {}).get("name")
        if name:
            return normalise(name)
    return normalise(directory.name)


def _tree_digest(tree: Path) -> str:
    """The content of an installed tree (names and bytes), its cache key for the archive."""
    files = sorted(p for p in tree.rglob("*") if p.is_file())
    return digest_of({str(p.relative_to(tree)): sha256_file(p) for p in files})


def _mm(version: str) -> str:
    return ".".join(version.split(".")[:2])
