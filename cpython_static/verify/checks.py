"""Prove that a built interpreter is really static and complete.

The verdict is a list of named checks, in this order:

* ``static``            – the ELF has no PT_INTERP and no DT_NEEDED, and is for the target's CPU;
* ``version``           – ``sys.version_info`` matches the requested version;
* ``builtin_modules``   – ``sys.builtin_module_names`` equals the reviewed table in
                          ``modules.toml`` exactly (missing and unexpected both fail);
* ``no_shared_modules`` – no ``*.so`` waits in the interpreter's ``lib-dynload``;
* ``stdlib``            – a one-file interpreter (a zip appended) imports its standard
                          library from itself, not from a directory on disk;
* ``hook``              – the start-up hook (``_cpython_static``) loaded and did its work:
                          every piece installed, its fix-ups run on first import of ssl
                          and ensurepip (each "applied" or why not needed), and
                          ``ensurepip.version()`` is the bundled pip's (the wheel keeps its
                          name); a hook that raised (main.c only prints that and carries
                          on) fails here, with the traceback's last line;
* ``added_modules``, ``sbom`` and ``variant`` when there is something to compare with
  (what `build --with` added; the SBOM beside the file; a build variant asked for, or the
  one the SBOM declares): ``variant`` says which build the file is, from the interpreter
  itself (readline's library, which of the modules a variant leaves out exist) against
  what was asked or the SBOM declares (its components, its licence for the whole file,
  the licence texts' sections): GNU readline and gdbm, GPL-3.0-or-later, by default;
  libedit, no _gdbm or _dbm, a permissive licence for `build --no-gpl`;
* one check per smoke check of ``smoke_checks.py``, run inside the interpreter (a check
  that exercises a module new in some series, ``smoke_checks.REQUIRES``, runs where the
  series' module table expects that module; readline and dbm are checked as the variant
  builds them).

Problems that make verification impossible (binary absent or not ELF, no emulator
for a foreign CPU, no ``openssl`` tool, an unknown check name) raise VerifyError;
everything the binary itself does wrong becomes a failed check.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import stat
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from cpython_static.build.sbom import GPL
from cpython_static.core.arch import host_arch, target_arch
from cpython_static.core.errors import UsageError
from cpython_static.core.runner import Runner, StepFailed
from cpython_static.runtime import smoke_checks
from cpython_static.verify.added import added_modules_verdict
from cpython_static.verify.elf import PF_X, ElfError, ElfInfo, read_elf
from cpython_static.verify.modules import (
    ModuleDiff,
    SeriesTable,
    UnverifiedSeries,
    compare_modules,
    expected_builtin_modules,
    load_module_tables,
    variant_adds,
    variant_removes,
)
from cpython_static.versions import DEFAULT_VARIANT, Release, get_variant, supported_variants

__all__ = [
    "Check",
    "VerifyReport",
    "VerifyError",
    "verify",
    "ALL_CHECKS",
    "SMOKE_CHECKS",
    "SeriesTable",
    "ModuleDiff",
    "load_module_tables",
    "expected_builtin_modules",
    "UnverifiedSeries",
    "compare_modules",
    "resolve_emulator",
    "host_arch",
    "make_tls_material",
]

SMOKE_SCRIPT = Path(smoke_checks.__file__)  # run inside the interpreter under test

BASE_CHECKS = ("static", "hardening", "version", "builtin_modules", "no_shared_modules", "stdlib", "hook")
SMOKE_CHECKS = tuple(smoke_checks.CHECKS)
ALL_CHECKS = BASE_CHECKS + SMOKE_CHECKS
_PROBED = {"version", "builtin_modules", "no_shared_modules", "stdlib", "hook"}
# What the start-up hook must have installed (its REPORT["installed"]); "zip-filenames"
# only in the one-file layout, where zipimport reads the stdlib.
HOOK_PIECES = ("extension-refusal", "after-import-fixups", "shared-object-finder")
HOOK_ONEFILE_PIECES = ("zip-filenames", "zip-sources", "zip-file-attrs", "tzdata-member")
# Modules whose first import must run a fix-up of the hook (imported by the probe).
HOOK_FIXUPS = ("ssl", "ensurepip", "venv")
HOOK_FAILED_MARK = "cpython-static: start-up hook failed:"

# Under qemu-user a cold interpreter start plus thirteen checks takes minutes, not seconds.
PROBE_TIMEOUT_S = 300.0
SMOKE_TIMEOUT_S = 1800.0


class VerifyError(UsageError, RuntimeError):
    """Verification could not be carried out at all (as opposed to: it found faults)."""


@dataclass
class Check:
    name: str
    ok: bool
    detail: str = ""
    duration_s: float = 0.0


@dataclass
class VerifyReport:
    binary: Path
    version: str
    target: str
    ok: bool
    checks: list[Check] = field(default_factory=list)
    # sys.builtin_module_names as the binary reported it (empty if it could not run):
    # what a table for a new series is filled in from.
    modules: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {
            "ok": self.ok,
            "binary": str(self.binary),
            "version": self.version,
            "target": self.target,
            "checks": [asdict(c) for c in self.checks],
            "modules": list(self.modules),
        }


# ================================================================== emulation
# qemu-user names the CPUs its own way.
_QEMU_ARCH = {
    "x86": "i386",
    "powerpc64le": "ppc64le",
    "powerpc64": "ppc64",
    "powerpc": "ppc",
    "loongarch64": "loongarch64",
}


def resolve_emulator(target: str, emulator: Sequence[str] | None, search_path: str) -> list[str]:
    """The command prefix that runs ``target`` binaries here ([] when native)."""
    if emulator is not None:
        return list(emulator)
    arch, host = target_arch(target), host_arch()
    if arch == host:
        return []
    qemu = _QEMU_ARCH.get(arch, arch)
    for name in (f"qemu-{qemu}-static", f"qemu-{qemu}"):
        if found := shutil.which(name, path=search_path):
            return [found]
    raise VerifyError(
        f"{target} binaries do not run natively on this {host} host and neither "
        f"qemu-{qemu}-static nor qemu-{qemu} is on PATH: install the Debian package "
        f"qemu-user-static, or pass an emulator explicitly"
    )


# ================================================================ base checks
def _timed(fn):
    def wrapper(*args, **kwargs) -> Check:
        started = time.monotonic()
        check = fn(*args, **kwargs)
        check.duration_s = round(time.monotonic() - started, 3)
        return check

    return wrapper


def check_static(elf: ElfInfo, target: str) -> Check:
    found = []
    if elf.interpreter is not None:
        found.append(f"PT_INTERP {elf.interpreter}")
    if elf.needed:
        found.append("DT_NEEDED " + ", ".join(elf.needed))
    arch = target_arch(target)
    if elf.machine != arch:
        found.append(f"ELF machine {elf.machine} is not the target's {arch}")
    kind = f"{elf.machine} {elf.bits}-bit {elf.endian}-endian {elf.elf_type}"
    if found:
        return Check("static", False, f"{kind}: " + "; ".join(found))
    return Check("static", True, f"{kind}: no PT_INTERP, no DT_NEEDED")


# x86_64's stack-protector prologue: `mov %fs:0x28, %reg` (the canary in the TCB), for
# rax, rcx, rdx and rbx: counted in the file, the one trace a stripped binary keeps.
_X86_64_CANARY_LOADS = tuple(bytes.fromhex(f"64488b{r}2528000000") for r in ("04", "0c", "14", "1c"))


def check_hardening(elf: ElfInfo, data: bytes) -> Check:
    """What the file itself says about its hardening, in the spirit of
    python-build-standalone's validation: required where a static musl binary can have it
    (a non-executable stack, RELRO, nothing exported), reported with the reason where it
    cannot or where a stripped file cannot tell."""
    failed, said = [], []
    if elf.stack_flags is None:
        failed.append("no PT_GNU_STACK (the kernel may make the stack executable)")
    elif elf.stack_flags & PF_X:
        failed.append("executable stack (PT_GNU_STACK has PF_X)")
    else:
        said.append("stack not executable")
    if elf.relro:
        said.append("RELRO (BIND_NOW n/a: no dynamic linker, every symbol is bound at link time)")
    else:
        failed.append("no PT_GNU_RELRO: relocated data stays writable")
    if elf.has_dynamic and elf.elf_type == "EXEC":
        failed.append("a dynamic section in a static executable: it may export symbols")
    else:
        said.append("no symbol exported (no dynamic symbol table)" if not elf.has_dynamic else "static-pie")
    said.append(
        "PIE"
        if elf.elf_type == "DYN"
        else "not PIE: static non-PIE, code at a fixed address (stack, heap, mmap randomised)"
    )
    if elf.machine == "x86_64":
        loads = sum(data.count(p) for p in _X86_64_CANARY_LOADS)
        said.append(f"stack protector: {loads} canary checks in the code")
    else:
        said.append(f"stack protector: not measurable in a stripped {elf.machine} file (the canary is a global)")
    if failed:
        return Check("hardening", False, "; ".join(failed + said))
    return Check("hardening", True, "; ".join(said))


# What the interpreter says about the C libraries linked into it: "versions", for the
# `sbom` check: SBOM component name -> version as the module reports it (absent module:
# not reported; libedit reports none); "readline" (its library's own words), "modules"
# (which of those a variant may leave out exist) and "dbm" (what dbm.open() makes), for
# the `variant` check.
LIBEDIT_TAG = smoke_checks.LIBEDIT_TAG
_LIBRARY_FACTS = r"""
import json, os, sys, tempfile
got = {}
def take(name, fn):
    try:
        got[name] = fn()
    except Exception:
        pass
take("openssl", lambda: __import__("ssl").OPENSSL_VERSION.split()[1])
take("sqlite", lambda: __import__("sqlite3").sqlite_version)
take("zlib", lambda: __import__("zlib").ZLIB_RUNTIME_VERSION)
readline = {}
try:
    readline["library"] = __import__("readline")._READLINE_LIBRARY_VERSION
except Exception as exc:
    readline["error"] = "%s: %s" % (type(exc).__name__, exc)
if not readline.get("library", __TAG__).startswith(__TAG__):
    got["readline"] = readline["library"]
take("ncurses", lambda: "{0.major}.{0.minor}-{0.patch}".format(__import__("curses").ncurses_version))
take("gdbm", lambda: ".".join(map(str, __import__("_gdbm")._GDBM_VERSION)))
dbm = None
try:
    import dbm as _dbm_package
    with tempfile.TemporaryDirectory() as tmp:
        _dbm_package.open(os.path.join(tmp, "db"), "c").close()
        dbm = _dbm_package.whichdb(os.path.join(tmp, "db"))
except Exception as exc:
    dbm = "%s: %s" % (type(exc).__name__, exc)
print(json.dumps({
    "versions": got,
    "readline": readline,
    "modules": sorted(set(__OPTIONAL__) & set(sys.builtin_module_names)),
    "dbm": dbm,
}))
"""


def sbom_verdict(doc: dict, python_version: str, reported: Mapping[str, str]) -> tuple[bool, str]:
    """Whether the SBOM beside a file lists what the file reports: its CPython and every
    C library whose version a module gives at run time (same version, or one's release
    prefix: gdbm says 1.24.0 for the lock's 1.24)."""
    listed = {p["name"].lower(): p["versionInfo"] for p in doc.get("packages", [])}
    wrong = []
    if listed.get("cpython") != python_version:
        wrong.append(f"CPython {python_version} (SBOM: {listed.get('cpython', 'not listed')})")
    for name, version in sorted(reported.items()):
        have = listed.get(name)
        if have is None:
            wrong.append(f"{name} {version} is linked in but not listed")
        elif not (have == version or version.startswith(have + ".") or have.startswith(version + ".")):
            wrong.append(f"{name} {version} (SBOM: {have})")
    if wrong:
        return False, "; ".join(wrong)
    return True, (
        f"{len(listed)} components; CPython and {', '.join(sorted(reported))} as the interpreter reports them"
        + (f"; {doc['comment']}" if doc.get("comment") else "")
    )


def format_version(info: Sequence) -> str:
    return str(Release.from_version_info(info))


def _requested(wanted: str) -> Release:
    release = Release.lenient(wanted, tag=False)
    if release is None or release.dev:
        raise VerifyError(f"cannot parse requested version {wanted!r} (want e.g. 3.13 or 3.13.5)")
    return release


def check_version(actual: str, wanted: str | None) -> Check:
    if wanted is None:
        return Check("version", True, f"{actual} (no version requested)")
    want, got = _requested(wanted), Release.lenient(actual)
    # Only the parts the caller spelled out must agree: "3.13" accepts any 3.13.x.
    same = got is not None and want.matches(got)
    return Check("version", same, f"{actual}" + ("" if same else f", expected {wanted}"))


def check_builtin_modules(
    actual: Sequence[str], series: str, target: str, tables: Mapping[str, SeriesTable], added: Sequence[str] = ()
) -> Check:
    """``added``: the modules `build --with` compiled in, expected on top of the table."""
    table = tables.get(series)
    if table is None:
        return Check(
            "builtin_modules",
            False,
            f"modules.toml has no table for {series}; the binary has: " + ", ".join(sorted(actual)),
        )
    try:
        expected = expected_builtin_modules(table, target) | frozenset(added)
    except UnverifiedSeries as exc:
        return Check("builtin_modules", False, f"{exc}; the binary has: " + ", ".join(sorted(actual)))
    diff = compare_modules(expected, actual)
    unproven = (
        ""
        if table.proven
        else f" (the {series} table is derived from upstream's sources and not yet proven by a"
        " build: fill in modules.toml from this report)"
    )
    if diff.ok:
        plus = f" + {len(added)} added ({', '.join(sorted(added))})" if added else ""
        return Check("builtin_modules", True, f"{len(expected)} modules, as expected for {series}{plus}" + unproven)
    return Check("builtin_modules", False, diff.describe(table.excluded) + unproven)


def check_no_shared_modules(dynload_dirs: Sequence[str], probe_errors: Sequence[str] = ()) -> Check:
    existing = [Path(d) for d in dynload_dirs if Path(d).is_dir()]
    if not existing:
        # Without sysconfig only sys.path was searched; say so rather than claim more.
        caveat = f"; {'; '.join(probe_errors)}" if probe_errors else ""
        return Check(
            "no_shared_modules",
            True,
            "no lib-dynload directory (looked at: " + (", ".join(dynload_dirs) or "nothing") + ")" + caveat,
        )
    found = {d: sorted(str(p.relative_to(d)) for p in d.rglob("*.so")) for d in existing}
    if any(found.values()):
        return Check(
            "no_shared_modules",
            False,
            "; ".join(
                f"{len(names)} shared module(s) in {d}: " + ", ".join(names) for d, names in found.items() if names
            ),
        )
    return Check("no_shared_modules", True, "no *.so in " + ", ".join(map(str, existing)))


# ================================================================ the session
_PROBE = r"""
import json, os, sys
dirs = {p for p in sys.path if os.path.basename(p.rstrip(os.sep)) == "lib-dynload"}
errors = []
try:
    import sysconfig
    # A tree's own lib-dynload, even if sys.path leaves it out; a one file's sysconfig
    # paths are under its prefix, which may be another Python's (beside /usr/bin, the
    # host's /usr/lib/python3.X), and their lib-dynload is not searched.
    stdlib = os.path.dirname(os.path.dirname(json.__file__))
    if os.path.realpath(stdlib) == os.path.realpath(sysconfig.get_path("stdlib")):
        dirs.add(os.path.join(sysconfig.get_path("platstdlib"), "lib-dynload"))
except Exception as exc:
    errors.append("sysconfig: %s: %s" % (type(exc).__name__, exc))
v = sys.version_info
hook = {"loaded": "_cpython_static" in sys.modules, "import_errors": {}}
if hook["loaded"]:
    for name in __FIXUPS__:
        try:
            __import__(name)
        except Exception as exc:
            hook["import_errors"][name] = "%s: %s" % (type(exc).__name__, exc)
    if "ensurepip" in sys.modules:
        # version() reads the version from the file name the wheel reaches pip under.
        pip = hook["ensurepip"] = {"bundled": getattr(sys.modules["ensurepip"], "_PIP_VERSION", None)}
        try:
            pip["version"] = sys.modules["ensurepip"].version()
        except Exception as exc:
            pip["error"] = "%s: %s" % (type(exc).__name__, exc)
    report = getattr(sys.modules["_cpython_static"], "REPORT", {})
    hook["installed"] = list(report.get("installed", ()))
    hook["fixups"] = dict(report.get("fixups", {}))
print(json.dumps({
    "hook": hook,
    "version_info": [v.major, v.minor, v.micro, v.releaselevel, v.serial],
    "builtin_module_names": sorted(sys.builtin_module_names),
    "dynload_dirs": sorted(dirs),
    "errors": errors,
    "executable": sys.executable,
    "stdlib_module": json.__file__,
}))
""".replace("__FIXUPS__", repr(HOOK_FIXUPS))


def ends_with_zip(binary: Path) -> bool:
    """The one-file layout's mark, as the launcher tests it: a zip end-of-central-directory
    record with no comment at the very end."""
    with open(binary, "rb") as f:
        f.seek(0, os.SEEK_END)
        if f.tell() < 22:
            return False
        f.seek(-22, os.SEEK_END)
        return f.read(4) == b"PK\x05\x06"


def check_stdlib(one_file: bool, executable: str, module_file: str) -> Check:
    if not one_file:
        return Check("stdlib", True, f"tree layout: the standard library is read from {os.path.dirname(module_file)}")
    inside = module_file.startswith(executable.rstrip("/") + "/")
    return Check(
        "stdlib", inside, f"json imported from {module_file}" + ("" if inside else f", not from inside {executable}")
    )


def check_hook(hook: Mapping, one_file: bool, output: str = "") -> Check:
    """The start-up hook loaded, installed every piece and applied its fix-ups."""
    if not hook.get("loaded"):
        lines = output.splitlines()
        why = "not loaded: the interpreter runs without _cpython_static"
        if HOOK_FAILED_MARK in lines:
            # The traceback runs from the mark to the probe's JSON answer (or the log's
            # trailer); its last line is the exception.
            tail = []
            for line in lines[lines.index(HOOK_FAILED_MARK) + 1 :]:
                if line.startswith(("{", "# ---- ")):
                    break
                if line.strip():
                    tail.append(line)
            why = "the start-up hook failed: " + (tail[-1].strip() if tail else "(no traceback)")
        return Check("hook", False, why)
    wanted = HOOK_PIECES + (HOOK_ONEFILE_PIECES if one_file else ())
    problems = [f"{p} not installed" for p in wanted if p not in hook.get("installed", ())]
    problems += [f"import {m} failed: {e}" for m, e in hook.get("import_errors", {}).items()]
    fixups = hook.get("fixups", {})
    problems += [
        f"no fix-up ran on importing {m}"
        for m in HOOK_FIXUPS
        if m not in fixups and m not in hook.get("import_errors", {})
    ]
    # The ensurepip fix-up, or ensurepip itself (patches/0004), must hand pip the wheel
    # under its own name; version() parses that name, so a temporary one shows here.
    pip = hook.get("ensurepip") or {}
    if "error" in pip:
        problems.append(f"ensurepip.version() failed: {pip['error']}")
    elif pip.get("bundled") and pip.get("version") != pip["bundled"]:
        problems.append(
            f"ensurepip.version() gives {pip.get('version')!r}, not the bundled pip {pip['bundled']}: pip would get"
            " the wheel under a name it cannot parse (venv and ensurepip fail)"
        )
    if problems:
        return Check("hook", False, "; ".join(problems))
    return Check(
        "hook",
        True,
        "installed "
        + ", ".join(hook["installed"])
        + "; "
        + ", ".join(f"{m}: {how}" for m, how in sorted(fixups.items()))
        + (f"; ensurepip.version() {pip['version']}" if pip.get("version") else ""),
    )


def _last_json_line(output: str, must_start: str) -> dict | None:
    for line in reversed(output.splitlines()):
        if line.startswith(must_start):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                return None
    return None


def _exit_description(result_returncode: int) -> str:
    if result_returncode < 0:
        try:
            return f"killed by {signal.Signals(-result_returncode).name}"
        except ValueError:
            return f"killed by signal {-result_returncode}"
    return f"exit status {result_returncode}"


def _last_started_check(log: Path) -> str | None:
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    started = re.findall(r"^smoke: starting (\S+)$", text, flags=re.M)
    return started[-1] if started else None


@dataclass
class _Session:
    binary: Path
    runner: Runner
    emulator: list[str]
    workdir: Path

    @property
    def search_path(self) -> str:
        return self.runner.base_env.get("PATH", os.defpath)

    def env(self) -> dict[str, str | None]:
        home = self.workdir / "home"
        home.mkdir(exist_ok=True)
        # -I already ignores PYTHON* variables; clearing them also protects children
        # that the smoke checks start without -I (multiprocessing's helpers).
        return {"TERM": "xterm-256color", "HOME": str(home), "PYTHONPATH": None, "PYTHONHOME": None}

    def interpreter(self) -> list[str]:
        return [*self.emulator, str(self.binary)]

    def probe(self) -> tuple[dict | None, str]:
        """Ask the interpreter about itself; (answer, "") or (None, why it failed)."""
        try:
            result = self.runner.run(
                "verify: probe interpreter",
                [*self.interpreter(), "-I", "-c", _PROBE],
                env=self.env(),
                capture=True,
                check=False,
                timeout=PROBE_TIMEOUT_S,
            )
        except StepFailed as exc:
            return None, f"could not run the interpreter ({exc.log})"
        answer = _last_json_line(result.output, "{")
        if result.returncode != 0 or answer is None:
            return None, (f"interpreter probe failed ({_exit_description(result.returncode)}); log: {result.log}")
        # stderr (where main.c reports a failed start-up hook) is in the step's log.
        answer["output"] = Path(result.log).read_text(encoding="utf-8", errors="replace")
        return answer, ""

    def child_wrapper(self) -> Path | None:
        """A one-line launcher for child interpreters when the binary needs an emulator.

        multiprocessing and asyncio start ``sys.executable`` themselves; without
        binfmt_misc a foreign binary cannot be exec'd directly, so the smoke script
        is given this wrapper instead.
        """
        if not self.emulator:
            return None
        wrapper = self.workdir / "python-under-emulator"
        wrapper.write_text("#!/bin/sh\nexec " + shlex.join(self.interpreter()) + ' "$@"\n')
        wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        return wrapper

    def tls_material(self) -> dict[str, Path]:
        openssl = shutil.which("openssl", path=self.search_path)
        if openssl is None:
            raise VerifyError(
                "the ssl check needs the openssl command-line tool to create a "
                "test CA; install the Debian package openssl"
            )
        return make_tls_material(self.runner, openssl, self.workdir / "tls")

    def smoke(self, names: Sequence[str], variant: str = DEFAULT_VARIANT) -> list[Check]:
        # readline and dbm as the variant builds them (versions.toml, modules.toml).
        extra = ["--readline-backend", get_variant(variant).readline]
        extra += [arg for module in variant_removes(variant) for arg in ("--absent", module)]
        checks_by_name: dict[str, Check] = {}
        if "ssl" in names:
            try:
                tls = self.tls_material()
                extra += ["--tls-ca", str(tls["ca"]), "--tls-cert", str(tls["cert"]), "--tls-key", str(tls["key"])]
            except StepFailed as exc:
                checks_by_name["ssl"] = Check("ssl", False, f"creating the test CA failed: {exc}")
        if wrapper := self.child_wrapper():
            extra += ["--child-executable", str(wrapper)]
        to_run = [n for n in names if n not in checks_by_name]
        if to_run:
            checks_by_name.update(self._run_smoke(to_run, extra))
        return [checks_by_name[n] for n in names]

    def _run_smoke(self, names: Sequence[str], extra: Sequence[str]) -> dict[str, Check]:
        argv = [*self.interpreter(), "-I", str(SMOKE_SCRIPT), *extra, *names]
        try:
            result = self.runner.run(
                "verify: smoke checks", argv, env=self.env(), capture=True, check=False, timeout=SMOKE_TIMEOUT_S
            )
        except StepFailed as exc:  # timed out, or the interpreter could not be started
            culprit = _last_started_check(exc.log)
            why = "smoke run did not complete" + (f" (last check started: {culprit})" if culprit else "") + f": {exc}"
            return {n: Check(n, False, why) for n in names}
        report = _last_json_line(result.output, '{"checks"')
        if report is None:
            culprit = _last_started_check(result.log)
            why = (
                f"interpreter {_exit_description(result.returncode)} without a report"
                + (f" (last check started: {culprit})" if culprit else "")
                + f"; log: {result.log}"
            )
            return {n: Check(n, False, why) for n in names}
        reported = {c["name"]: c for c in report["checks"]}
        out = {}
        for name in names:
            entry = reported.get(name)
            if entry is None:
                out[name] = Check(name, False, f"not reported by the smoke script; log: {result.log}")
                continue
            detail = entry["detail"] if entry["ok"] else f"{entry['detail']} (log: {result.log})"
            out[name] = Check(name, bool(entry["ok"]), detail, float(entry["duration_s"]))
        return out


# =============================================================== TLS material
_CA_CONFIG = """\
[req]
distinguished_name = dn
prompt = no
x509_extensions = v3_ca
[dn]
CN = cpython-static verify test CA
[v3_ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
"""

_SERVER_CONFIG = """\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = localhost
[v3_server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""


def make_tls_material(runner: Runner, openssl: str, directory: Path) -> dict[str, Path]:
    """A throw-away CA and a localhost server certificate it signed.

    Our own config files rather than the system openssl.cnf, so the extensions are
    the same everywhere; they satisfy the VERIFY_X509_STRICT checks that Python
    3.13's default context enables (key usage, key identifiers).  EC keys keep this
    fast.
    """
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "ca.cnf").write_text(_CA_CONFIG)
    (directory / "server.cnf").write_text(_SERVER_CONFIG)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    runner.run(
        "verify: create test CA",
        [openssl, "req", "-x509", "-config", "ca.cnf", *ec, "-days", "2", "-keyout", "ca.key", "-out", "ca.pem"],
        cwd=directory,
    )
    runner.run(
        "verify: create server key",
        [openssl, "req", "-new", "-config", "server.cnf", *ec, "-keyout", "server.key", "-out", "server.csr"],
        cwd=directory,
    )
    runner.run(
        "verify: sign server certificate",
        [
            openssl,
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-set_serial",
            str(int.from_bytes(os.urandom(8), "big")),
            "-days",
            "2",
            "-extfile",
            "server.cnf",
            "-extensions",
            "v3_server",
            "-out",
            "server.pem",
        ],
        cwd=directory,
    )
    return {"ca": directory / "ca.pem", "cert": directory / "server.pem", "key": directory / "server.key"}


# ===================================================================== verify
def _selected(only: Sequence[str] | None) -> list[str]:
    if only is None:
        return list(ALL_CHECKS)
    unknown = sorted(set(only) - set(ALL_CHECKS))
    if unknown or not only:
        raise VerifyError(f"unknown check(s) {', '.join(unknown) or '(none selected)'}; known: {', '.join(ALL_CHECKS)}")
    return [name for name in ALL_CHECKS if name in set(only)]


def _read_binary(binary: Path) -> ElfInfo:
    if not binary.is_file():
        raise VerifyError(f"{binary}: no such file")
    try:
        return read_elf(binary)
    except ElfError as exc:
        raise VerifyError(f"cannot verify {binary}: {exc}") from None


def _probed_checks(
    session: _Session,
    selected: list[str],
    version: str | None,
    target: str,
    added: Sequence[str] = (),
    variant: str = DEFAULT_VARIANT,
) -> tuple[list[Check], dict | None]:
    started = time.monotonic()
    answer, why = session.probe()
    elapsed = round(time.monotonic() - started, 3)
    wanted = [n for n in BASE_CHECKS if n in _PROBED and n in selected]
    if answer is None:
        return [Check(n, False, why, elapsed) for n in wanted], None
    actual_version = format_version(answer["version_info"])
    series = "{}.{}".format(*answer["version_info"][:2])
    makers = {
        "version": lambda: check_version(actual_version, version),
        "builtin_modules": lambda: check_builtin_modules(
            answer["builtin_module_names"], series, target, load_module_tables(variant=variant), added
        ),
        "no_shared_modules": lambda: check_no_shared_modules(answer["dynload_dirs"], answer["errors"]),
        "stdlib": lambda: check_stdlib(ends_with_zip(session.binary), answer["executable"], answer["stdlib_module"]),
        "hook": lambda: check_hook(answer["hook"], ends_with_zip(session.binary), answer["output"]),
    }
    return [_timed(makers[n])() for n in wanted], answer


def _library_facts(session: _Session) -> dict | str:
    """The interpreter's answer to _LIBRARY_FACTS, or why there is none."""
    script = _LIBRARY_FACTS.replace("__TAG__", repr(LIBEDIT_TAG)).replace("__OPTIONAL__", repr(_variant_modules()))
    res = session.runner.run(
        "verify: library versions",
        [*session.interpreter(), "-I", "-c", script],
        env=session.env(),
        capture=True,
        check=False,
        timeout=PROBE_TIMEOUT_S,
    )
    facts = _last_json_line(res.output, "{")
    if res.returncode != 0 or facts is None:
        return f"could not ask the interpreter for its library versions (log: {res.log})"
    return facts


def _read_sbom(sbom_file: Path) -> dict | str:
    try:
        return json.loads(sbom_file.read_text())
    except (OSError, ValueError) as exc:
        return f"{sbom_file}: unreadable ({exc})"


def _licence_sections(sbom_file: Path) -> set[tuple[str, str]] | None:
    """(name, version) of each section of the licence texts beside an SBOM (None: no file)."""
    texts = sbom_file.with_name(sbom_file.name.removesuffix(".spdx.json") + ".licenses.txt")
    if not texts.is_file():
        return None
    return set(re.findall(r"^==== (\S+) (\S+) ", texts.read_text(errors="replace"), flags=re.M))


def _check_sbom(sbom_file: Path, doc: dict | str, facts: dict | str, answer: dict) -> Check:
    if isinstance(doc, str):
        return Check("sbom", False, doc)
    if isinstance(facts, str):
        return Check("sbom", False, facts)
    ok, detail = sbom_verdict(doc, format_version(answer["version_info"]), facts["versions"])
    sections = _licence_sections(sbom_file)
    if sections is not None:  # the licence texts beside it: a section per component
        missing = [
            f"{p['name']} {p['versionInfo']}"
            for p in doc.get("packages", [])
            if (p["name"], p["versionInfo"]) not in sections
        ]
        texts = sbom_file.name.removesuffix(".spdx.json") + ".licenses.txt"
        if missing:
            ok, detail = False, f"{detail}; {texts} has no section for {', '.join(missing)}"
        else:
            detail += f"; licence texts: {texts}"
    return Check("sbom", ok, f"{sbom_file.name}: {detail}")


# ================================================================ build variants
def _variant_removed() -> set[str]:
    """The built-in modules some build variant leaves out (modules.toml [variant.*])."""
    return {m for v in supported_variants() for m in variant_removes(v)}


def _variant_marks(name: str) -> set[str]:
    """The built-in modules variant ``name`` adds to every series it adds to: what marks
    it (the test variant's _testcapi, …; not 3.13's xxsubtype, which 3.11 always has)."""
    adds = [set(m) for m in variant_adds(name).values()]
    return set.intersection(*adds) if adds else set()


def _variant_marked() -> set[str]:
    """Every variant's marks (modules.toml [variant.*.add])."""
    return {m for v in supported_variants() for m in _variant_marks(v)}


def _variant_modules() -> list[str]:
    """What tells the variants apart among the built-in modules: those some variant leaves
    out or is marked by, and readline (whose library differs)."""
    return sorted(_variant_removed() | _variant_marked() | {"readline"})


def _swapped_libraries() -> set[str]:
    """The libraries some variant replaces, drops or brings (readline, gdbm, libedit).  The
    recipes a variant swaps are named as their sources, so these are SBOM names too."""
    out = set()
    for v in map(get_variant, supported_variants()):
        out |= {c.what for c in v.libraries} | {c.by for c in v.libraries if c.by}
    return out


def binary_variant(facts: Mapping) -> str | None:
    """The build variant an interpreter is, from its own answers (_LIBRARY_FACTS): readline's
    backend and which of the modules the variants leave out it has; None: none of them."""
    library = facts["readline"].get("library")
    backend = None if library is None else "editline" if library.startswith(LIBEDIT_TAG) else "readline"
    present, removed, marked = set(facts["modules"]), _variant_removed(), _variant_marked()
    for name in supported_variants():
        leaves_out, marks = set(variant_removes(name)), _variant_marks(name)
        if (
            get_variant(name).readline == backend
            and not present & leaves_out
            and removed - leaves_out <= present
            and marks <= present
            and not present & (marked - marks)
        ):
            return name
    return None


def declared_variant(doc: Mapping) -> str:
    """The build variant an SBOM declares by its components: the one whose library changes
    it shows (libedit listed, neither readline nor gdbm); a variant that changes no library
    (the test variant) by the name CPython's entry gives it (build/sbom.py); else the default."""
    names = {p["name"] for p in doc.get("packages", [])}
    for name in supported_variants():
        changes = get_variant(name).libraries
        if changes and all(c.what not in names and (c.by is None or c.by in names) for c in changes):
            return name
    cpython = next((p for p in doc.get("packages", []) if p.get("name") == "CPython"), {})
    for name in supported_variants():
        if not get_variant(name).libraries and f"; build variant {name}:" in cpython.get("comment", ""):
            return name
    return DEFAULT_VARIANT


def _seen(facts: Mapping) -> str:
    """What the interpreter says of itself that tells the variants apart, in words."""
    readline, removed = facts["readline"], sorted(_variant_removed())
    library = readline.get("library")
    if library is None:
        said = f"no readline ({readline.get('error', 'not built')})"
    elif library.startswith(LIBEDIT_TAG):
        said = f"readline on libedit ({library})"
    else:
        said = f"readline on GNU readline {library}"
    left_out = [m for m in removed if m not in facts["modules"]]
    said += f", no {', '.join(left_out)}" if left_out else f", with {', '.join(removed)}"
    if brought := sorted(_variant_marked() & set(facts["modules"])):
        said += f", with {', '.join(brought)}"
    return said + f"; dbm.open() makes {facts['dbm']}"


def variant_verdict(
    facts: Mapping,
    asked: str | None,
    doc: Mapping | None,
    sections: set[str] | None = None,
    sbom_name: str = "the SBOM",
) -> tuple[bool, str]:
    """Whether the interpreter is the variant ``asked`` for (None: the one ``doc``, its SBOM,
    declares), and whether the SBOM says what it is: the right components, a licence for the
    whole file that is GPL exactly when a component is, and (``sections``: the components the
    licence texts have a section for) licence texts for exactly those components."""
    actual, seen = binary_variant(facts), _seen(facts)
    problems, said = [], []
    expected = asked or (declared_variant(doc) if doc is not None else None)
    if actual is None:
        problems.append(f"the file is no build variant ({seen})")
    elif expected is not None and actual != expected:
        problems.append(
            f"the file is the {actual} build ({seen}), not {expected}" + ("" if asked else f" as {sbom_name} declares")
        )
    if doc is not None and doc.get("packages"):
        packages, swapped = doc["packages"], _swapped_libraries()
        if actual is not None and (declared := declared_variant(doc)) != actual:
            problems.append(f"{sbom_name} declares the {declared} build")
        whole = packages[0].get("licenseConcluded", "NOASSERTION")
        gpl = sorted(p["name"] for p in packages if GPL.search(p.get("licenseDeclared", "")))
        # NOASSERTION: a packed distribution states no licence, so nobody can say what the
        # whole is; the document's comment still names the GPL components.
        if whole != "NOASSERTION" and bool(gpl) != bool(GPL.search(whole)):
            problems.append(
                f"{sbom_name} gives the file {whole}, but its GPL components are: {', '.join(gpl) or 'none'}"
            )
        listed = sorted(f"{p['name']} {p['versionInfo']}" for p in packages if p["name"] in swapped)
        said.append(
            f"as {sbom_name} declares ({', '.join(listed) or 'none of ' + ', '.join(sorted(swapped))}; the file: {whole})"
        )
        if sections is not None:
            if extra := sorted(sections - {p["name"] for p in packages}):
                problems.append(f"licence texts for {', '.join(extra)}, which {sbom_name} does not list")
            has, lacks = sorted(swapped & sections), sorted(swapped - sections)
            said.append(
                "licence texts: "
                + (" and ".join(has) + "'s" if has else "no swapped library's")
                + (", none of " + "'s or ".join(lacks) + "'s" if lacks else "")
            )
    if problems:
        return False, "; ".join(problems)
    return True, f"{actual}: {seen}" + "".join(f"; {s}" for s in said)


def _check_variant(sbom_file: Path, doc: dict | str | None, facts: dict | str, asked: str | None) -> Check:
    if isinstance(facts, str):
        return Check("variant", False, facts)
    if isinstance(doc, str):
        return Check("variant", False, doc)
    sections = _licence_sections(sbom_file)
    names = {name for name, _ in sections} if sections is not None else None
    return Check("variant", *variant_verdict(facts, asked, doc, names, sbom_file.name))


def _series_modules(answer: dict, target: str, variant: str = DEFAULT_VARIANT) -> frozenset[str]:
    """The modules the binary's series should have: its table's, or (no reviewed table)
    what it reports, so that a series-specific check still runs where it can."""
    table = load_module_tables(variant=variant).get("{}.{}".format(*answer["version_info"][:2]))
    try:
        return expected_builtin_modules(table, target) if table else frozenset()
    except UnverifiedSeries:
        return frozenset(answer["builtin_module_names"])


def verify(
    binary: Path,
    *,
    runner: Runner,
    version: str | None = None,
    target: str | None = None,
    emulator: list[str] | None = None,
    only: list[str] | None = None,
    added_modules: Sequence[str] = (),
    sbom: Path | None = None,
    variant: str | None = None,
) -> VerifyReport:
    """Run the selected checks (all by default) on ``binary``; see the module docstring.
    ``added_modules``: the third-party modules `build --with` compiled in (full dotted
    names), expected beside the table's and imported as built-ins (``added_modules``).
    ``variant``: the build variant the file must be (versions.toml [variant.*]); None: the
    one its SBOM declares, else the default; its module table and smoke checks apply."""
    binary = Path(binary).absolute()
    selected = _selected(only)
    if version is not None:
        _requested(version)
    elf = _read_binary(binary)
    sbom_file = sbom if sbom is not None else binary.with_name(binary.name + ".spdx.json")
    doc = _read_sbom(sbom_file) if sbom_file.is_file() else None
    expected = variant or (declared_variant(doc) if isinstance(doc, dict) else DEFAULT_VARIANT)
    get_variant(expected)  # an unknown name is the caller's mistake, said before anything runs
    target = target or f"{elf.machine}-linux-musl"
    checks: list[Check] = []
    if "static" in selected:
        checks.append(_timed(check_static)(elf, target))
    if "hardening" in selected:
        checks.append(_timed(check_hardening)(elf, binary.read_bytes()))
    answer = None
    runtime = [n for n in selected if n not in ("static", "hardening")]
    if runtime:
        search_path = runner.base_env.get("PATH", os.defpath)
        prefix = resolve_emulator(target, emulator, search_path)
        with tempfile.TemporaryDirectory(prefix="cpython-static-verify-") as tmp:
            session = _Session(binary, runner, prefix, Path(tmp))
            probed, answer = _probed_checks(session, selected, version, target, added_modules, expected)
            checks += probed
            if added_modules and only is None:  # the check of what build --with added
                checks.append(
                    _timed(
                        lambda: Check(
                            "added_modules",
                            *added_modules_verdict(
                                session.runner, session.interpreter(), session.env(), added_modules, PROBE_TIMEOUT_S
                            ),
                        )
                    )()
                )
            # The SBOM's, and the variant's when there is one to compare with.
            if only is None and answer is not None and (doc is not None or variant is not None):
                facts = _library_facts(session)
                if doc is not None:
                    checks.append(_timed(_check_sbom)(sbom_file, doc, facts, answer))
                checks.append(_timed(_check_variant)(sbom_file, doc, facts, variant))
            smoke_names = [n for n in runtime if n in SMOKE_CHECKS]
            if only is None and answer is not None:
                modules = _series_modules(answer, target, expected)
                smoke_names = [
                    n for n in smoke_names if n not in smoke_checks.REQUIRES or smoke_checks.REQUIRES[n] in modules
                ]
            if smoke_names:
                checks += session.smoke(smoke_names, expected)
    return VerifyReport(
        binary=binary,
        version=format_version(answer["version_info"]) if answer else version or "unknown",
        target=target,
        ok=bool(checks) and all(c.ok for c in checks),
        checks=checks,
        modules=list(answer["builtin_module_names"]) if answer else [],
    )
