"""A new interpreter with third-party C extensions built in (``build --with``).

Linked the way CPython's Makefile links ``python`` (``$(LINKCC) $(PY_CORE_LDFLAGS)
$(LINKFORSHARED) -o python Programs/python.o $(LINK_PYTHON_OBJS) $(LIBS) $(MODLIBS)
$(SYSLIBS)``), from what the cached install keeps in ``lib/pythonX.Y/config-X.Y-<triplet>/``
and with the values its sysconfig recorded:

* ``python.o``: our ``main()`` as the build compiled it; for ``pack``, the app launcher
  (``launcher/app.c``: main.c plus app mode) compiled here with the interpreter's CFLAGS
  and headers instead;
* ``config.o``: the install's ``config.c`` (the stdlib's inittab) with one entry per added
  module under its full dotted name, ``{"psutil._psutil_linux", PyInit_…}``, which
  ``BuiltinImporter`` finds for a package's submodule like any built-in;
* ``libpythonX.Y.a``, its own ``config.o`` removed, linked whole (``LINK_PYTHON_OBJS`` is
  every object of the library, so nothing the original link had is left out);
* the extensions' objects, their init function renamed to a symbol made from the full
  dotted name (two packages may both have a ``_speedups``), and their libraries;
* the interpreter's own-symbol table and its ``--wrap`` flags (build/own_symbols.py), as
  the build added them to ``LINKFORSHARED``;
* ``$(LIBS) $(MODLIBS) $(SYSLIBS)``.  MODLIBS names a few archives of the build tree
  that ``make install`` does not install (libmpdec, expat, HACL*): they are made again
  from the same source with the install's own Makefile and pyconfig.h (the same compiler
  and flags; a PGO build's profile is not replayed for them), once per interpreter.

The link uses the toolchain the interpreter was built with, so LTO objects (a ``full``
build) are linked by gcc's LTO as the build did: that link is long (minutes).
"""

from __future__ import annotations

import ast
import re
import shlex
import shutil
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from cpython_static.build import own_symbols
from cpython_static.build.cpython import BuiltPython, CPythonBuilder, Request
from cpython_static.build.extensions import BuiltExtension, ExtensionError
from cpython_static.core.cache import digest_of, sha256_file

LAUNCHER = resources.files("cpython_static.runtime").joinpath("launcher")

FORMAT = 3  # bump to relink every interpreter after a change in this module
MODLIBS_FORMAT = 1
MARKER_EXTERNS = "/* -- ADDMODULE MARKER 1 -- */"
MARKER_ENTRIES = "/* -- ADDMODULE MARKER 2 -- */"


@dataclass
class Relinked:
    binary: Path  # the unstripped interpreter with the extensions built in
    key: str
    reused: bool
    modules: list[str]  # the added built-in modules
    duration_s: float


def init_symbol(name: str) -> str:
    """The init function an added module is linked under: unique per full dotted name
    ("_" escaped as "_1", "." as "_0", so no two names meet)."""
    return "PyInit_cpython_static_" + name.replace("_", "_1").replace(".", "_0")


def generate_config_c(base: str, modules: list[str]) -> str:
    """The install's config.c with ``modules`` (full dotted names) added to the inittab."""
    for marker in (MARKER_EXTERNS, MARKER_ENTRIES):
        if base.count(marker) != 1:
            raise ExtensionError(f"config.c: expected one '{marker}' line (makesetup's), found {base.count(marker)}")
    taken = set(re.findall(r'^\s*\{"([^"]+)",', base, flags=re.M))
    if clash := sorted(taken & set(modules)):
        raise ExtensionError(f"already built-in modules of this interpreter: {', '.join(clash)}")
    if len(set(modules)) != len(modules):
        raise ExtensionError(f"a module is given twice: {sorted(modules)}")
    externs = "".join(f"extern PyObject* {init_symbol(m)}(void);\n" for m in modules)
    entries = "".join(f'    {{"{m}", {init_symbol(m)}}},\n' for m in modules)
    head, tail = base.split(MARKER_EXTERNS)
    middle, end = tail.split(MARKER_ENTRIES)
    line_end = end.index("\n") + 1  # the entries go on the lines after the marker's
    return f"{head}{externs}{MARKER_EXTERNS}{middle}{MARKER_ENTRIES}{end[:line_end]}{entries}{end[line_end:]}"


def sysconfig_vars(built: BuiltPython) -> dict:
    """The build-time variables the interpreter recorded (its _sysconfigdata module, read
    as data: the file is one dict literal, whatever machine it is for)."""
    lib = built.prefix / "lib" / f"python{_mm(built.version)}"
    found = sorted(lib.glob("_sysconfigdata_*.py"))
    if len(found) != 1:
        raise ExtensionError(f"{lib}: expected one _sysconfigdata_*.py, found {[p.name for p in found]}")
    tree = ast.parse(found[0].read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "build_time_vars":
            return ast.literal_eval(node.value)
    raise ExtensionError(f"{found[0]}: no build_time_vars")


def symbol_free(obj: Path, symbol: str) -> bool:
    """Whether an object file does not name ``symbol`` (its symbol table holds names as
    bytes: an object without them neither defines nor calls it)."""
    return symbol.encode() not in obj.read_bytes()


def build_tree_archives(modlibs: str) -> list[str]:
    """The archives of CPython's build tree that MODLIBS names by relative path."""
    return list(dict.fromkeys(t for t in shlex.split(modlibs) if t.endswith(".a") and not t.startswith(("-", "/"))))


def config_dir(built: BuiltPython, cfg: dict) -> Path:
    return built.prefix / "lib" / f"python{_mm(built.version)}" / Path(cfg["LIBPL"]).name


def _mm(version: str) -> str:
    return ".".join(version.split(".")[:2])


class Relinker:
    def __init__(self, builder: CPythonBuilder, progress=None):
        self.builder = builder
        self.cache, self.runner, self.toolchain = builder.cache, builder.runner, builder.toolchain
        self.progress = progress or (lambda msg: None)

    def relink(
        self, request: Request, built: BuiltPython, extensions: list[BuiltExtension], *, app: bool = False
    ) -> Relinked:
        """``built`` relinked with ``extensions``; ``app``: with the app launcher as its
        main (``pack``)."""
        started = time.monotonic()
        payload = {
            "format": FORMAT,
            "interpreter": built.key,
            "extensions": sorted(e.key for e in extensions),
            "toolchain": self.toolchain.identity(),
        }
        if app:  # only then: build --with keeps its keys
            payload["launcher"] = {n: LAUNCHER.joinpath(n).read_text() for n in ("app.c", "main.c")}
        key = digest_of(payload)
        modules = [m.name for e in extensions for m in e.modules]
        entry = self.cache.lookup("cpython-with", key)
        if entry is None:
            cfg = sysconfig_vars(built)
            modlibs = self._build_tree_archives(request, built, cfg)
            self.progress(
                f"linking the interpreter with {', '.join(modules) or 'no added module'}"
                + (" and the app launcher" if app else "")
            )
            entry = self.cache.build(
                "cpython-with", key, lambda stage, final: self._produce(built, cfg, modlibs, extensions, stage, app)
            )
        return Relinked(entry.path / "bin" / built.binary.name, key, entry.reused, modules, time.monotonic() - started)

    def _build_tree_archives(self, request: Request, built: BuiltPython, cfg: dict) -> Path | None:
        """MODLIBS' build-tree archives, made again from the interpreter's own source
        (None: MODLIBS names none)."""
        wanted = build_tree_archives(cfg["MODLIBS"])
        key = digest_of({"format": MODLIBS_FORMAT, "interpreter": built.key, "archives": wanted})

        def produce(stage: Path, final: Path) -> dict:
            work = self.cache.scratch(f"work-modlibs-{built.version}")
            try:
                src = self.builder.source_tree(request, None, work / "src")
                shutil.copy2(config_dir(built, cfg) / "Makefile", src / "Makefile")
                shutil.copy2(built.prefix / "include" / f"python{_mm(built.version)}" / "pyconfig.h", src)
                env = self.toolchain.env([l.prefix for l in built.libraries])
                self.runner.run(
                    "cpython: build-tree archives for the link",
                    ["make", f"-j{self.builder.jobs}", *wanted],
                    cwd=src,
                    env=env,
                )
                for rel in wanted:
                    (stage / rel).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(src / rel, stage / rel)
                return {"interpreter": built.key, "archives": wanted}
            finally:
                shutil.rmtree(work, ignore_errors=True)

        if not wanted:
            return None
        return self.cache.build("cpython-modlibs", key, produce).path

    def _produce(
        self,
        built: BuiltPython,
        cfg: dict,
        modlibs: Path | None,
        extensions: list[BuiltExtension],
        stage: Path,
        app: bool = False,
    ) -> dict:
        work = self.cache.scratch("work-relink")
        try:
            env = self.toolchain.env([l.prefix for e in extensions for l in e.libraries])
            cc, ar, objcopy = env["CC"], env["AR"], self.toolchain.symbol_objcopy()
            confdir = config_dir(built, cfg)
            names = [m.name for e in extensions for m in e.modules]
            (work / "config.c").write_text(generate_config_c((confdir / "config.c").read_text(), names))
            include = built.prefix / "include" / f"python{_mm(built.version)}"
            self.runner.run(
                "relink: config.c",
                [
                    cc,
                    *shlex.split(cfg["CFLAGS"]),
                    "-DPy_BUILD_CORE",
                    f"-I{include}",
                    "-c",
                    "config.c",
                    "-o",
                    "config.o",
                ],
                cwd=work,
                env=env,
            )
            main_o = confdir / "python.o"
            if app:
                with resources.as_file(LAUNCHER) as launcher:
                    self.runner.run(
                        "relink: app launcher",
                        [
                            cc,
                            *shlex.split(cfg["CFLAGS"]),
                            f"-I{include}",
                            "-c",
                            str(launcher / "app.c"),
                            "-o",
                            "app.o",
                        ],
                        cwd=work,
                        env=env,
                    )
                main_o = work / "app.o"
            library = work / cfg["LIBRARY"]
            shutil.copy2(confdir / cfg["LIBRARY"], library)
            # Its config.o holds the stdlib-only inittab; ours replaces it.
            self.runner.run("relink: libpython without config.o", [ar, "d", library, "config.o"], cwd=work, env=env)
            objects, link_libs, seen = [], [], set()
            for ext in extensions:
                for module in ext.modules:
                    for n, obj in enumerate(module.objects):
                        # Two modules of one package may each compile the same bundled
                        # library (lz4.block and lz4.frame: lz4hc.c): separate shared
                        # objects, but one link here, so identical objects go in once.
                        digest = sha256_file(obj)
                        if digest in seen and symbol_free(obj, module.init_symbol):
                            continue
                        seen.add(digest)
                        copy = work / "ext" / module.name / f"{n:03d}-{obj.name}"
                        copy.parent.mkdir(parents=True, exist_ok=True)
                        shutil.copy2(obj, copy)
                        objects.append(copy)
                    # Renamed in the copies (the cache entry stays as built).
                    self._rename(objcopy, module, work / "ext" / module.name, env)
                    link_libs += [*module.extra_link_args, *(f"-l{lib}" for lib in module.libraries)]
                link_libs[:0] = [f"-L{l.prefix}/lib" for l in ext.libraries]
            out = stage / "bin" / built.binary.name
            out.parent.mkdir(parents=True)
            # As the build linked it (build/cpython.py: LINKFORSHARED given to make).
            own = own_symbols.compile_object(
                built.prefix.parent / "own-symbols" / own_symbols.HEADER,
                work / "own-symbols",
                [cc],
                shlex.split(cfg["CFLAGS"]),
                self.runner,
                env,
            )
            argv = [
                cc,
                *shlex.split(cfg["PY_CORE_LDFLAGS"]),
                *shlex.split(cfg["LINKFORSHARED"]),
                str(own),
                *own_symbols.LINK_FLAGS,
                "-o",
                str(out),
                str(main_o),
                str(work / "config.o"),
                *map(str, objects),
                "-Wl,--whole-archive",
                str(library),
                "-Wl,--no-whole-archive",
                *link_libs,
                *shlex.split(cfg["LIBS"]),
                *shlex.split(cfg["MODLIBS"]),  # relative archives: resolved in modlibs/ (cwd)
                *shlex.split(cfg["SYSLIBS"]),
            ]
            self.runner.run("relink: the interpreter", argv, cwd=modlibs or work, env=env)
            (stage / "config.c").write_text((work / "config.c").read_text())
            return {
                "interpreter": built.key,
                "modules": names,
                "extensions": {e.sdist.name: e.key for e in extensions},
                "app": app,
                "link": argv,
            }
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _rename(self, objcopy: str, module, directory: Path, env: dict) -> None:
        # Only the objects that name the function (its definition, or a call): the
        # symbol table holds the name as bytes, so the others need no objcopy run.
        symbol = module.init_symbol.encode()
        for obj in sorted(directory.iterdir()):
            if symbol in obj.read_bytes():
                self.runner.run(
                    f"relink: {module.name} init symbol",
                    [objcopy, f"--redefine-sym={module.init_symbol}={init_symbol(module.name)}", str(obj)],
                    env=env,
                )
