"""Static C libraries, each from one small declarative recipe (``recipes/<name>.toml``).

A recipe names its source (a key into the lock), its dependencies, a build style and
its arguments.  The build styles:

    autotools   <configure_script> --prefix=<prefix> [--host] <configure…>; make; make install
    make        make <make…> with toolchain variables; then copy files into the prefix
                (``{prefix}`` in either argument list is the final install prefix)

A library that needs real code has ``hook = "<module>"``: ``recipes/<module>.py`` may
define ``before_configure(ctx)`` and ``after_install(ctx)``.

Every library is built into the cache under a key made of its recipe (and hook), its
source digest, the toolchain, the target and its dependencies' keys.
"""

from __future__ import annotations

import importlib
import os
import shutil
import time
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from cpython_static.build.sources import Fetcher, Lock, extract
from cpython_static.core.cache import Cache, digest_of
from cpython_static.core.errors import WorkFailed
from cpython_static.core.runner import Runner

RECIPE_FORMAT = 1  # bump to rebuild every library after a change in this module
_STYLES = {"autotools", "make"}


class RecipeError(WorkFailed, ValueError):
    """A recipe that cannot be read or whose build lacks what it promised."""


@dataclass(frozen=True)
class Recipe:
    name: str
    source: str
    build: str
    provides: tuple[str, ...] = ()
    depends: tuple[str, ...] = ()
    configure: tuple[str, ...] = ()
    configure_script: str = "./configure"
    configure_by_target: dict = field(default_factory=dict, hash=False)
    host_arg: bool = True
    cflags: tuple[str, ...] = ()
    make_dir: str = "."
    make: tuple[str, ...] = ()
    make_vars: tuple[str, ...] = ()
    install: tuple[str, ...] = ("install",)
    copy: dict = field(default_factory=dict, hash=False)
    links: dict = field(default_factory=dict, hash=False)  # alias -> existing file, in the prefix
    check_files: tuple[str, ...] = ()
    hook: str | None = None
    text: str = field(default="", repr=False)  # the recipe (and hook) as written: cache key

    @property
    def hook_module(self):
        return importlib.import_module(f"{__package__}.recipes.{self.hook}") if self.hook else None


def _recipes_dir():
    return resources.files(__package__).joinpath("recipes")


def load_recipe(name: str) -> Recipe:
    path = _recipes_dir().joinpath(f"{name}.toml")
    if not path.is_file():
        raise RecipeError(f"no recipe '{name}'; known: {', '.join(sorted(all_recipe_names()))}")
    text = path.read_text()
    data = tomllib.loads(text)
    if data.get("name") != name:
        raise RecipeError(f"recipes/{name}.toml: name must be '{name}'")
    if data.get("build") not in _STYLES:
        raise RecipeError(f"recipes/{name}.toml: build must be one of {sorted(_STYLES)}")
    if data.get("hook"):
        text += _recipes_dir().joinpath(f"{data['hook']}.py").read_text()
    tuples = {k: tuple(v) for k, v in data.items() if isinstance(v, list)}
    try:
        return Recipe(**{**data, **tuples, "text": text})
    except TypeError as exc:
        raise RecipeError(f"recipes/{name}.toml: {exc}") from None


def all_recipe_names() -> list[str]:
    return sorted(p.name[:-5] for p in _recipes_dir().iterdir() if p.name.endswith(".toml"))


def resolve(names: list[str]) -> list[Recipe]:
    """The recipes for ``names`` and their dependencies, dependencies first."""
    order: list[Recipe] = []
    state: dict[str, str] = {}

    def visit(name: str, chain: tuple[str, ...]) -> None:
        if state.get(name) == "done":
            return
        if state.get(name) == "visiting":
            raise RecipeError("dependency cycle: " + " -> ".join((*chain, name)))
        state[name] = "visiting"
        recipe = load_recipe(name)
        for dep in recipe.depends:
            visit(dep, (*chain, name))
        state[name] = "done"
        order.append(recipe)

    for n in names:
        visit(n, ())
    return order


@dataclass
class BuiltLibrary:
    recipe: Recipe
    prefix: Path
    key: str
    reused: bool
    duration_s: float


@dataclass
class BuildContext:
    """What a hook sees."""

    recipe: Recipe
    src: Path
    prefix: Path  # the final install prefix (inside the cache)
    work: Path  # scratch space for the hook
    env: dict[str, str]
    toolchain: object
    runner: Runner
    jobs: int
    extra_configure: list[str] = field(default_factory=list)  # hooks may add arguments


class LibraryBuilder:
    def __init__(
        self,
        cache: Cache,
        fetcher: Fetcher,
        lock: Lock,
        toolchain,
        runner: Runner,
        jobs: int | None = None,
        progress=None,
    ):
        self.cache, self.fetcher, self.lock = cache, fetcher, lock
        self.toolchain, self.runner = toolchain, runner
        self.jobs = jobs or os.cpu_count() or 1
        self.progress = progress or (lambda msg: None)
        self.built: dict[str, BuiltLibrary] = {}

    def key(self, recipe: Recipe) -> str:
        src = self.lock.get("lib", recipe.source)
        return digest_of(
            {
                "format": RECIPE_FORMAT,
                "recipe": recipe.text,
                "source": src.sha256,
                "toolchain": self.toolchain.identity(),
                "deps": {d: self.built[d].key for d in recipe.depends},
            }
        )

    def build_all(self, names: list[str]) -> list[BuiltLibrary]:
        return [self.build(r) for r in resolve(names)]

    def build(self, recipe: Recipe) -> BuiltLibrary:
        if recipe.name in self.built:
            return self.built[recipe.name]
        for dep in recipe.depends:
            if dep not in self.built:
                self.build(load_recipe(dep))
        key = self.key(recipe)
        started = time.monotonic()
        entry = self.cache.lookup("libs", key)
        if entry is None:
            self.progress(f"building {recipe.name}")
            entry = self.cache.build("libs", key, lambda stage, final: self._produce(recipe, stage, final))
        lib = BuiltLibrary(recipe, entry.path, key, entry.reused, time.monotonic() - started)
        self.built[recipe.name] = lib
        return lib

    # -- the build itself ---------------------------------------------------------------
    def _produce(self, recipe: Recipe, stage: Path, final: Path) -> dict:
        src_lock = self.lock.get("lib", recipe.source)
        archive = self.fetcher.fetch(src_lock)
        work = self.cache.scratch(f"work-{recipe.name}")
        try:
            src = extract(archive, work / "src")
            deps = [self.built[d].prefix for d in _transitive(recipe)]
            env = self.toolchain.env(deps)
            if recipe.cflags:
                env["CFLAGS"] = f"{env['CFLAGS']} {' '.join(recipe.cflags)}"
            ctx = BuildContext(recipe, src, final, work, env, self.toolchain, self.runner, self.jobs)
            hook = recipe.hook_module
            if hook and hasattr(hook, "before_configure"):
                hook.before_configure(ctx)
            step = f"{recipe.name}:"
            destdir = work / "destdir"
            if recipe.build == "autotools":
                args = [recipe.configure_script, f"--prefix={final}"]
                if recipe.host_arg:
                    args += self.toolchain.configure_args()
                args += [a.format(prefix=final) for a in recipe.configure]
                args += recipe.configure_by_target.get(self.toolchain.target.name, [])
                args += ctx.extra_configure
                self.runner.run(step + "configure", args, cwd=src, env=ctx.env)
                self.runner.run(
                    step + "make", ["make", f"-j{self.jobs}", *recipe.make], cwd=src / recipe.make_dir, env=ctx.env
                )
                self.runner.run(
                    step + "install",
                    ["make", *recipe.install, f"DESTDIR={destdir}"],
                    cwd=src / recipe.make_dir,
                    env=ctx.env,
                )
                _adopt(destdir / final.relative_to("/"), stage)
            else:
                make_vars = [f"{v}={ctx.env[v]}" for v in recipe.make_vars]
                targets = [a.format(prefix=final) for a in recipe.make]
                self.runner.run(
                    step + "make",
                    ["make", f"-j{self.jobs}", *targets, *make_vars],
                    cwd=src / recipe.make_dir,
                    env=ctx.env,
                )
            for subdir, files in recipe.copy.items():
                (stage / subdir).mkdir(parents=True, exist_ok=True)
                for f in files:
                    shutil.copy2(src / f, stage / subdir / Path(f).name)
            for alias, target in recipe.links.items():
                # Relative links: the entry is renamed into place after this.
                (stage / alias).parent.mkdir(parents=True, exist_ok=True)
                os.symlink(os.path.relpath(stage / target, (stage / alias).parent), stage / alias)
            ctx.prefix = stage  # hooks finishing the install write into the stage
            if hook and hasattr(hook, "after_install"):
                hook.after_install(ctx)
            _tidy(stage)
            missing = [f for f in recipe.check_files if not (stage / f).exists()]
            if missing:
                raise RecipeError(f"{recipe.name}: the install lacks {', '.join(missing)}")
            return {
                "name": recipe.name,
                "version": src_lock.version,
                "source_sha256": src_lock.sha256,
                "toolchain": self.toolchain.identity(),
                "deps": {d: self.built[d].key for d in recipe.depends},
                "files": sorted(str(p.relative_to(stage)) for p in stage.rglob("*") if p.is_file()),
            }
        finally:
            shutil.rmtree(work, ignore_errors=True)


def _transitive(recipe: Recipe) -> list[str]:
    seen: list[str] = []
    for dep in recipe.depends:
        for d in (*_transitive(load_recipe(dep)), dep):
            if d not in seen:
                seen.append(d)
    return seen


def _adopt(installed: Path, stage: Path) -> None:
    """Move what ``make install DESTDIR=…`` put under the final prefix into the stage."""
    if not installed.is_dir():
        raise RecipeError(f"make install put nothing under {installed}")
    for child in installed.iterdir():
        os.rename(child, stage / child.name)


def _tidy(prefix: Path) -> None:
    # libtool archives carry absolute paths and only mislead static links; docs are dead weight.
    for la in prefix.rglob("*.la"):
        la.unlink()
    for d in ("share/man", "share/doc", "share/info", "share/locale"):
        shutil.rmtree(prefix / d, ignore_errors=True)
