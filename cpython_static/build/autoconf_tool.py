"""The exact autoconf a CPython release's configure was made with: chosen, or built.

``autoconf.regenerate`` insists on the autoconf release named in the shipped configure's
header, and on the distribution backports (autoconf.BACKPORTS) that configure shows.
This module provides such an autoconf:

- the system's ``autoconf``, when its version is the one needed and a probe configure it
  generates has exactly the backported features the shipped configure has;
- otherwise that GNU release built from the lock's pinned tarball, with the backport
  patches the shipped configure needs, into the content-addressed cache (``tools/<key>``).

``fidelity`` then proves the choice: it regenerates a copy of the pristine release's
configure and pyconfig.h.in and compares them with the shipped ones byte for byte.

Checked here: GNU 2.71 reproduces 3.13.5 and 3.13.15; GNU 2.69 plus Debian's
add-runstatedir.patch reproduces 3.11.2 (GNU 2.69 alone lacks 14 lines of --runstatedir
handling).
"""

from __future__ import annotations

import difflib
import itertools
import os
import shutil
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cpython_static.build import autoconf
from cpython_static.build.autoconf import AutoconfError
from cpython_static.core.cache import Cache, digest_of
from cpython_static.core.runner import Runner, StepFailed
from cpython_static.build.sources import Fetcher, Lock, SourceError, extract

RECIPE_FORMAT = 1  # bump to rebuild every cached autoconf after a change in the recipe below


@dataclass(frozen=True)
class Backport:
    """A patch adding a BACKPORTS feature, read from inside a pinned tarball."""

    source: str  # lock name (kind "tool") of the tarball holding the patch
    member: str  # the patch's path inside that tarball


@dataclass(frozen=True)
class Release:
    """How to build one GNU Autoconf release."""

    source: str  # lock name (kind "tool") of its release tarball
    native: tuple[str, ...] = ()  # BACKPORTS markers the release has without any patch
    backports: dict[str, Backport] = field(default_factory=dict)  # marker -> patch adding it
    # Directories to run `make` and `make install` in.  2.69's patched doc/autoconf.texi
    # would make its recursive build want makeinfo, and only bin/ and lib/ (the programs
    # and their macro library) are needed to run autoconf; 2.71's build is one Makefile
    # whose prebuilt info and man pages stay current when nothing is patched.
    make_dirs: tuple[str, ...] = (".",)


RELEASES: dict[str, Release] = {
    "2.69": Release(
        source="autoconf-2-69",
        backports={
            # Reproduces CPython 3.11's configure byte for byte (see the lock's comment).
            "--runstatedir": Backport("autoconf-2-71-debian", "debian/patches/add-runstatedir.patch"),
        },
        make_dirs=("bin", "lib"),
    ),
    "2.71": Release(source="autoconf-2-71", native=("--runstatedir",)),
    # CPython 3.14+ (its configure header says 2.72).
    "2.72": Release(source="autoconf-2-72", native=("--runstatedir",)),
}

# The release tree's files that autoconf and autoheader read (CPython keeps every macro
# in aclocal.m4; acinclude.m4, m4/ and .autom4te.cfg are copied when a tree has them)
# and the two they write; the rest of the ~100 MB tree plays no part.
REGENERATION_INPUTS = ("configure.ac", "aclocal.m4", "acinclude.m4", "m4", ".autom4te.cfg")
REGENERATED = ("configure", "pyconfig.h.in")
_DETAIL_LINES = 20  # of a unified diff, when a regenerated file differs

# The smallest configure.ac: every configure carries the option parsing and --help text
# where the BACKPORTS features show.
_PROBE_CONFIGURE_AC = "AC_INIT([probe], [1])\nAC_OUTPUT\n"


@dataclass
class AutoconfChoice:
    program: str  # path of `autoconf`; its sibling `autoheader` is in the same directory
    version: str
    origin: str  # "system" or "built"
    backports: list[str]  # BACKPORTS markers it has beyond the GNU release
    reused: bool = False  # built: the cache entry existed already


@dataclass
class Fidelity:
    version: str  # of the autoconf that regenerated
    ok: bool
    configure_identical: bool
    pyconfig_identical: bool
    detail: str  # why not, or the first differing lines; "" when ok


def autoconf_for(
    tree: Path,
    cache: Cache,
    fetcher: Fetcher,
    lock: Lock,
    runner: Runner,
    progress: Callable[[str], None] = lambda m: None,
    *,
    allow_system: bool = True,
) -> AutoconfChoice:
    """The autoconf that regenerates ``tree``'s configure as its release did."""
    configure = Path(tree) / "configure"
    version = autoconf.required_version(configure)
    wanted = _markers(configure.read_text(encoding="utf-8", errors="replace"))
    tried = []
    if allow_system:
        try:
            system, why_not = _system_choice(version, wanted, cache, runner)
        except AutoconfError as exc:  # it is there but broken: building one still helps
            system, why_not = None, str(exc)
        if system is not None:
            return system
        tried.append(f"the system autoconf: {why_not}")
    else:
        tried.append("the system autoconf: not allowed by the caller")
    try:
        return build(version, wanted, cache, fetcher, lock, runner, progress)
    except AutoconfError as exc:
        raise AutoconfError(
            f"{configure} needs GNU Autoconf {version}"
            f"{' with ' + ', '.join(wanted) if wanted else ''}; tried:\n"
            + "".join(f"  - {t}\n" for t in tried)
            + f"  - building it: {exc}"
        ) from exc


def build(
    version: str,
    markers: list[str],
    cache: Cache,
    fetcher: Fetcher,
    lock: Lock,
    runner: Runner,
    progress: Callable[[str], None] = lambda m: None,
) -> AutoconfChoice:
    """GNU Autoconf ``version`` with exactly the BACKPORTS features ``markers``, from the
    cache or built there from pinned sources."""
    release = RELEASES.get(version)
    if release is None:
        raise AutoconfError(
            f"no recipe for autoconf {version} (known: {', '.join(RELEASES)});"
            f" pin its tarball in sources.lock.toml and add it to autoconf_tool.RELEASES"
        )
    missing = [m for m in release.native if m not in markers]
    if missing:
        raise AutoconfError(
            f"autoconf {version} always has {', '.join(missing)}, which the shipped configure"
            f" lacks; no pinned build of {version} can reproduce it"
        )
    extra = [m for m in markers if m not in release.native]
    unknown = [m for m in extra if m not in release.backports]
    if unknown:
        raise AutoconfError(
            f"the shipped configure has {', '.join(unknown)}, which GNU autoconf {version}"
            f" lacks and for which no backport patch is pinned (autoconf_tool.RELEASES)"
        )
    try:
        source = lock.get("tool", release.source)
        patches = {m: _patch_text(release.backports[m], fetcher, lock) for m in extra}
        key = digest_of({
            "format": RECIPE_FORMAT,
            "release": repr(release),
            "source": source.sha256,
            "patches": {m: [lock.get("tool", release.backports[m].source).sha256, text]
                        for m, text in patches.items()},
        })
        entry = cache.lookup("tools", key)
        if entry is None:
            progress(f"building autoconf {version}" + (f" with {', '.join(extra)}" if extra else ""))
            entry = cache.build(
                "tools", key,
                lambda stage, final: _produce(version, release, patches, fetcher.fetch(source),
                                              cache, runner, stage, final))
    except SourceError as exc:
        raise AutoconfError(f"cannot get the pinned sources of autoconf {version}: {exc}") from exc
    except StepFailed as exc:
        raise AutoconfError(f"building autoconf {version} failed: {exc}") from exc
    program = entry.path / "bin" / "autoconf"
    # The proof that the patches took and that the entry still works where it is (its
    # scripts name their own path): the features show in a configure it makes.  A bad
    # entry goes, so that the next run rebuilds it.
    try:
        has = _probe(str(program), cache, runner)
        problem = None if has == sorted(markers) else (
            f"it makes configure scripts with {has or 'none'} of {list(autoconf.BACKPORTS)},"
            f" not {sorted(markers) or 'none'}")
    except AutoconfError as exc:
        problem = str(exc)
    if problem:
        shutil.rmtree(entry.path, ignore_errors=True)
        raise AutoconfError(f"the autoconf {version} in {entry.path} is unusable ({problem});"
                            f" entry removed, the next run rebuilds it")
    return AutoconfChoice(str(program), version, "built", extra, reused=entry.reused)


def fidelity(tree: Path, choice: AutoconfChoice, runner: Runner, scratch: Path) -> Fidelity:
    """Regenerate a copy of ``tree`` (a pristine release) with ``choice`` and compare.

    ``tree`` is only read.  The copy goes to a new directory under ``scratch``, removed
    when the result is identical and kept (named in ``detail``) when it is not."""
    tree = Path(tree)
    Path(scratch).mkdir(parents=True, exist_ok=True)
    copy = Path(tempfile.mkdtemp(prefix="fidelity-", dir=scratch))
    for name in REGENERATION_INPUTS + REGENERATED:
        source = tree / name
        if source.is_dir():
            shutil.copytree(source, copy / name, symlinks=True)
        elif source.exists():
            shutil.copy2(source, copy / name)
    try:
        autoconf.regenerate(copy, runner, autoconf=choice.program)
    except AutoconfError as exc:
        # A refusal (wrong version, a backport missing) or a failing run is also a "no";
        # its step logs are the runner's, the copy holds nothing more.
        shutil.rmtree(copy, ignore_errors=True)
        return Fidelity(choice.version, False, False, False, f"not regenerated: {exc}")
    same = {name: (copy / name).read_bytes() == (tree / name).read_bytes() for name in REGENERATED}
    ok = all(same.values())
    detail = ""
    if ok:
        shutil.rmtree(copy, ignore_errors=True)
    else:
        diffs = [_first_differences(tree / name, copy / name) for name in REGENERATED if not same[name]]
        detail = f"regenerated copy kept in {copy}\n" + "\n".join(diffs)
    return Fidelity(choice.version, ok, same["configure"], same["pyconfig.h.in"], detail)


# -- the system autoconf ------------------------------------------------------------------


def _system_choice(version: str, wanted: list[str], cache: Cache, runner: Runner):
    """(choice, None) when the system autoconf fits, else (None, why not)."""
    found = autoconf.system_version(runner)
    if found is None:
        return None, "not installed"
    if found != version:
        return None, f"version {found}, not {version}"
    program = shutil.which("autoconf", path=runner.base_env.get("PATH"))
    if program is None or not Path(program).with_name("autoheader").exists():
        return None, f"{program or 'autoconf'} has no autoheader beside it"
    has = _probe(program, cache, runner)
    if has != sorted(wanted):
        return None, (f"{program} {found} makes configure scripts with {has or 'none'} of"
                      f" {list(autoconf.BACKPORTS)}; the shipped one has {sorted(wanted) or 'none'}")
    native = RELEASES[version].native if version in RELEASES else ()
    return AutoconfChoice(program, found, "system", [m for m in has if m not in native]), None


# -- building -----------------------------------------------------------------------------


def _patch_text(backport: Backport, fetcher: Fetcher, lock: Lock) -> str:
    archive = fetcher.fetch(lock.get("tool", backport.source))
    with tarfile.open(archive) as tar:
        try:
            member = tar.extractfile(backport.member)
        except KeyError:
            member = None
        if member is None:
            raise AutoconfError(f"{archive} has no file {backport.member}")
        return member.read().decode("utf-8")


def _produce(version: str, release: Release, patches: dict[str, str], archive: Path,
             cache: Cache, runner: Runner, stage: Path, final: Path) -> dict:
    """configure --prefix=<final>; make; make install DESTDIR=…; move <final> into stage.

    autoconf bakes its data directory (and m4's and perl's paths) into its scripts, so it
    is configured for the path the cache entry will have, installed under a DESTDIR and
    moved into the stage; the cache renames the stage to that path."""
    work = cache.scratch(f"work-autoconf-{version}")
    try:
        src = extract(archive, work / "src")
        step = f"autoconf {version}:"
        for marker, text in patches.items():
            patch = work / f"backport{marker}.patch"
            patch.write_text(text, encoding="utf-8")
            runner.run(f"{step} patch {marker}", ["patch", "-p1", "--forward", "--batch", "-i", patch],
                       cwd=src)
        # EMACS=no: an installed emacs would otherwise be used to byte-compile lisp files.
        env = {**autoconf._AUTOTOOLS_ENV, "EMACS": "no"}
        prefix = final.absolute()
        destdir = work / "destdir"
        runner.run(f"{step} configure", ["./configure", f"--prefix={prefix}"], cwd=src, env=env)
        for d in release.make_dirs:
            runner.run(f"{step} make {d}", ["make"], cwd=src / d, env=env)
        for d in release.make_dirs:
            runner.run(f"{step} install {d}", ["make", "install", f"DESTDIR={destdir}"],
                       cwd=src / d, env=env)
        installed = destdir / prefix.relative_to("/")
        for child in installed.iterdir():
            os.rename(child, stage / child.name)
        for program in ("autoconf", "autoheader"):
            if not (stage / "bin" / program).is_file():
                raise AutoconfError(f"building autoconf {version}: the install has no bin/{program}")
        return {
            "autoconf": version,
            "source": archive.name,
            "backports": sorted(patches),
            "files": sorted(str(p.relative_to(stage)) for p in stage.rglob("*") if p.is_file()),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


# -- helpers ------------------------------------------------------------------------------


def _markers(configure_text: str) -> list[str]:
    return sorted(m for m in autoconf.BACKPORTS if m in configure_text)


def _probe(program: str, cache: Cache, runner: Runner) -> list[str]:
    """The BACKPORTS markers in a configure ``program`` generates from a minimal input."""
    work = cache.scratch("autoconf-probe")
    try:
        (work / "configure.ac").write_text(_PROBE_CONFIGURE_AC)
        try:
            runner.run(f"{Path(program).name} probe", [program, "--force", "--output=configure"],
                       cwd=work, env=autoconf._AUTOTOOLS_ENV)
        except StepFailed as exc:
            raise AutoconfError(f"{program} cannot generate even a minimal configure: {exc}") from exc
        return _markers((work / "configure").read_text(encoding="utf-8", errors="replace"))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _first_differences(shipped: Path, regenerated: Path) -> str:
    old = shipped.read_text(encoding="utf-8", errors="replace").splitlines()
    new = regenerated.read_text(encoding="utf-8", errors="replace").splitlines()
    diff = difflib.unified_diff(old, new, f"shipped/{shipped.name}", f"regenerated/{shipped.name}",
                                n=1, lineterm="")
    return "\n".join(itertools.islice(diff, _DETAIL_LINES))
