#!/usr/bin/env python3
"""Ship your tool: the same app as a `cpython-static pack` executable and as a PyInstaller
`--onefile` executable, side by side.

The app is tests/real/apps/statool (click, rich, PyYAML with its C loader, psutil,
MarkupSafe's speedups: three C extensions).  Two executables of it are made (or given):

ours
    `python -m cpython_static pack APP -o WORKDIR/statool --json`, run twice and timed
    with a wall clock: the first run is "cold" and the second "warm".  Nothing is cleared
    before the first run, so if the cache already held the builds, "cold" is not cold:
    the fields of pack's JSON that mention a cache are quoted next to the times.
    `--ours PATH` skips this and measures an executable made earlier.

PyInstaller
    A venv from a Python with a shared libpython (PyInstaller bundles libpython3.X.so and
    refuses a Python without one), `pip install pyinstaller APP`, then
    `pyinstaller --onefile --name statool ENTRY.py` where ENTRY.py imports
    `statool.cli:main` (the console script).  It is built twice with the same work
    directory: "cold" starts from an empty work directory and an empty PyInstaller cache
    (PYINSTALLER_CONFIG_DIR points into the work directory), "warm" reuses both.  The venv
    and pip install are timed separately ("setup"), they are not part of the build time.
    `--theirs PATH` skips this and measures an executable made earlier.

Then, for each executable:

size
    The file's size in bytes.
first-run --help
    hyperfine, each run prepared by `sync; echo 3 > /proc/sys/vm/drop_caches` (the
    executable and everything it reads come from the disk again) and by removing any
    PyInstaller extraction directory (`_MEI*` in the private $TMPDIR both run with).
warm --help
    hyperfine with warm-up runs.  A PyInstaller one-file extracts itself to
    $TMPDIR/_MEIxxxxxx on every run and removes it on exit, so its warm runs include
    the extraction.
does it run
    `info` (JSON; checked: the argv, PyYAML's C loader, MarkupSafe's speedups), run as
    `env -i chroot --userspec=54321:54321 ROOT /statool info`: an empty environment, a
    user and group with no passwd entry, in a private mount namespace (`unshare
    --mount`), so every mount made for it ends with the namespace; each is also
    unmounted explicitly.  The roots:

    host            no chroot: the host's own files (a baseline: both must pass here)
    empty root      a directory holding the executable and nothing else
    read-only root  that directory bind-mounted read-only
    noexec /tmp     the empty root plus /proc and a tmpfs /tmp mounted noexec
    host libs       the empty root plus the host's /usr read-only (and the lib, lib64,
                    bin symlinks of a merged-/usr system) and /proc: a normal system's
                    libraries; once with a writable /tmp, once with a noexec /tmp, so a
                    failure of the second is the noexec /tmp's doing
    other distro    /srv/trixie (a debootstrapped Debian trixie): the executable copied
                    onto a tmpfs on its /mnt, /proc mounted, a tmpfs /tmp (trixie's
                    default); nothing is written to /srv/trixie itself
    procs           `procs` (psutil reads /proc) in the empty root with /proc mounted

Output: a Markdown table (ours, PyInstaller, ratio ours/PyInstaller for size and start-up
times), or with --json the same figures as JSON.  Progress goes to stderr.

Needs root (chroot, mount, drop_caches), hyperfine, util-linux's unshare and mount, coreutils'
chroot.  Standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import struct
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
APP = REPO / "tests" / "real" / "apps" / "statool"
UID = GID = 54321
TRIXIE = Path("/srv/trixie")
SETUP_FAILED = "@@ship-your-tool setup failed:"
EXPECTED_CLOADER = {"a": [1, {"b": "c"}]}
RUN_TIMEOUT = 120
ENTRY_SCRIPT = 'from statool.cli import main\n\nif __name__ == "__main__":\n    main()\n'


class BenchError(Exception):
    """A reason the benchmark cannot go on, written for the person who ran it."""


def log(msg: str) -> None:
    print(f"[ship_your_tool] {msg}", file=sys.stderr, flush=True)


def tool(name: str) -> str:
    found = shutil.which(name, path=os.environ.get("PATH", os.defpath) + ":/usr/sbin:/sbin:/usr/bin:/bin")
    if found is None:
        hint = {
            "hyperfine": "install it (`apt-get install hyperfine` or `cargo install hyperfine`)",
            "unshare": "it is in util-linux",
            "mount": "it is in util-linux (package `mount`)",
            "umount": "it is in util-linux (package `mount`)",
            "chroot": "it is in coreutils",
        }.get(name, "install it")
        raise BenchError(f"`{name}` is not on PATH (nor in /usr/sbin, /sbin): {hint}")
    return found


def tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def timed(cmd: list[str], **kwargs) -> tuple[subprocess.CompletedProcess[str], float]:
    start = time.perf_counter()
    res = subprocess.run(cmd, text=True, capture_output=True, stdin=subprocess.DEVNULL, **kwargs)
    return res, time.perf_counter() - start


# --- ours: cpython-static pack ---------------------------------------------------------


def cache_fields(doc: object, prefix: str = "") -> dict[str, object]:
    """Every field of pack's JSON whose name mentions a cache (at any depth)."""
    found: dict[str, object] = {}
    if isinstance(doc, dict):
        for key, value in doc.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            if "cache" in str(key).lower() and not isinstance(value, dict | list):
                found[path] = value
            found.update(cache_fields(value, path))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            found.update(cache_fields(value, f"{prefix}[{i}]"))
    return found


def pack_ours(python: str, app: Path, out: Path, extra: list[str]) -> tuple[Path, dict]:
    probe = subprocess.run(
        [python, "-m", "cpython_static", "pack", "--help"], cwd=REPO, text=True, capture_output=True, timeout=120
    )
    if probe.returncode != 0:
        raise BenchError(
            f"`{python} -m cpython_static pack --help` failed (exit {probe.returncode}) in {REPO}:\n"
            f"{tail(probe.stderr or probe.stdout, 5)}\n"
            "Either this checkout has no `pack` command yet, or that Python lacks cpython_static's "
            "dependencies (pass --pack-python). Or pack the app yourself and pass --ours PATH."
        )
    cmd = [python, "-m", "cpython_static", "pack", str(app), "-o", str(out), "--json", *extra]
    runs = []
    for label in ("cold", "warm"):
        log(f"pack ({label}): {shlex.join(cmd)}")
        res, seconds = timed(cmd, cwd=REPO)
        if res.returncode != 0:
            raise BenchError(
                f"`{shlex.join(cmd)}` failed (exit {res.returncode}) after {seconds:.1f} s:\n"
                f"{tail(res.stderr or res.stdout)}"
            )
        try:
            doc = json.loads(res.stdout)
        except json.JSONDecodeError:
            doc = None
        runs.append(
            {
                "label": label,
                "seconds": round(seconds, 3),
                "cache_fields": cache_fields(doc) if doc is not None else {},
                "json": doc if doc is not None else {"unparsed_stdout": tail(res.stdout, 40)},
            }
        )
        log(f"pack ({label}): {seconds:.1f} s")
    if not out.is_file():
        raise BenchError(f"pack exited 0 but wrote no {out}")
    return out, {"command": shlex.join(cmd), "runs": runs}


# --- PyInstaller ------------------------------------------------------------------------

PROBE = r"""
import json, os, sys, sysconfig
v = sysconfig.get_config_var
lib = v("INSTSONAME") or v("LDLIBRARY") or ""
dirs = [d for d in (v("LIBDIR"), os.path.join(v("LIBDIR") or "", v("MULTIARCH") or "")) if d]
try:
    import ensurepip, venv  # noqa
    has_venv = True
except ImportError:
    has_venv = False
print(json.dumps({
    "executable": os.path.realpath(sys.executable),
    "version": "%d.%d.%d" % sys.version_info[:3],
    "shared": bool(v("Py_ENABLE_SHARED")),
    "libpython": lib,
    "found": [os.path.join(d, lib) for d in dirs if lib and os.path.exists(os.path.join(d, lib))],
    "config_args": v("CONFIG_ARGS") or "",
    "has_venv": has_venv,
    "debian": os.path.realpath(sys.executable).startswith("/usr/bin/"),
}))
"""


def probe_python(candidate: str) -> tuple[dict | None, str]:
    """(facts, "") when CANDIDATE can make a venv PyInstaller accepts, else (facts or None, why not)."""
    try:
        res = subprocess.run([candidate, "-c", PROBE], text=True, capture_output=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"cannot run: {exc}"
    if res.returncode != 0:
        return None, f"cannot run: {tail(res.stderr, 2)}"
    facts = json.loads(res.stdout)
    major_minor = ".".join(facts["version"].split(".")[:2])
    if tuple(int(x) for x in major_minor.split(".")) < (3, 11):
        return facts, f"Python {facts['version']}: the app needs 3.11+"
    if not facts["shared"]:
        configured = ", configure had --disable-shared" if "--disable-shared" in facts["config_args"] else ""
        return facts, (
            f"Python {facts['version']} was built without --enable-shared (Py_ENABLE_SHARED is 0{configured}); "
            "PyInstaller needs a shared libpython (for pyenv: "
            'PYTHON_CONFIGURE_OPTS="--enable-shared" pyenv install VERSION)'
        )
    if not facts["found"]:
        hint = f"apt-get install libpython{major_minor}" if facts["debian"] else "reinstall it with --enable-shared"
        return (
            facts,
            f"Python {facts['version']} is configured shared but {facts['libpython']} is not installed ({hint})",
        )
    if not facts["has_venv"]:
        hint = f" (apt-get install python{major_minor}-venv)" if facts["debian"] else ""
        return facts, f"Python {facts['version']} has no venv/ensurepip{hint}"
    return facts, ""


def choose_python(explicit: str | None, apt_install: bool) -> tuple[str, dict, list[str]]:
    candidates = [explicit] if explicit else ["/usr/bin/python3.11", "python3.11", "python3", sys.executable]
    tried: list[str] = []
    for candidate in dict.fromkeys(candidates):
        path = shutil.which(candidate) or candidate
        facts, why_not = probe_python(path)
        if why_not and apt_install and facts and facts["debian"] and facts["shared"] and not facts["found"]:
            package = "libpython" + ".".join(facts["version"].split(".")[:2])
            log(f"apt-get install -y {package}")
            res = subprocess.run(["apt-get", "install", "-y", package], text=True, capture_output=True)
            if res.returncode != 0:
                tried.append(f"{candidate}: {why_not}; `apt-get install -y {package}` failed: {tail(res.stderr, 3)}")
                continue
            facts, why_not = probe_python(path)
        if not why_not:
            return facts["executable"], facts, tried
        tried.append(f"{candidate}: {why_not}")
    raise BenchError(
        "no Python here can build a PyInstaller executable:\n  " + "\n  ".join(tried) + "\n"
        "Pass --pyinstaller-python PATH (a Python 3.11+ with a shared libpython), or --apt-install "
        "to let this script install Debian's libpython3.X, or --theirs PATH for an executable built earlier."
    )


def build_pyinstaller(work: Path, app: Path, explicit_python: str | None, apt_install: bool) -> tuple[Path, dict]:
    python, facts, rejected = choose_python(explicit_python, apt_install)
    log(f"PyInstaller's Python: {python} ({facts['version']}, {', '.join(facts['found'])})")
    venv = work / "pyinstaller-venv"
    vpy = venv / "bin" / "python"
    setup: dict[str, object] = {"python": python, "python_version": facts["version"], "libpython": facts["found"]}
    if rejected:
        setup["rejected_pythons"] = rejected
    if vpy.exists():
        setup["venv"] = f"reused {venv}"
    else:
        cmd = [python, "-m", "venv", str(venv)]
        res, seconds = timed(cmd)
        if res.returncode != 0:
            raise BenchError(f"`{shlex.join(cmd)}` failed:\n{tail(res.stderr)}")
        setup["venv_seconds"] = round(seconds, 2)
    # From a copy: setuptools writes *.egg-info and build/ into the source tree it builds.
    app_copy = work / "app-source"
    shutil.rmtree(app_copy, ignore_errors=True)
    shutil.copytree(app, app_copy, ignore=shutil.ignore_patterns("*.egg-info", "build", ".git"))
    cmd = [str(vpy), "-m", "pip", "install", "pyinstaller", str(app_copy)]
    log(f"setup: {shlex.join(cmd)}")
    res, seconds = timed(cmd)
    if res.returncode != 0:
        raise BenchError(
            f"installing PyInstaller and the app failed: `{shlex.join(cmd)}` (exit {res.returncode}):\n"
            f"{tail(res.stderr or res.stdout)}\n"
            "pip uses this machine's configuration (`pip config list`: index, find-links, constraints). "
            "Try the command by hand, or pass --theirs PATH."
        )
    setup["pip_install_seconds"] = round(seconds, 2)
    freeze = subprocess.run([str(vpy), "-m", "pip", "freeze"], text=True, capture_output=True).stdout.split()
    setup["packages"] = freeze
    pyinstaller = venv / "bin" / "pyinstaller"
    build = work / "pyinstaller"
    if build.exists():
        shutil.rmtree(build)
    build.mkdir()
    (build / "statool_entry.py").write_text(ENTRY_SCRIPT)
    env = dict(os.environ, PYINSTALLER_CONFIG_DIR=str(build / "config"))
    cmd = [
        str(pyinstaller),
        "--onefile",
        "--name",
        "statool",
        "--noconfirm",
        "--distpath",
        str(build / "dist"),
        "--workpath",
        str(build / "work"),
        "--specpath",
        str(build),
        str(build / "statool_entry.py"),
    ]
    runs = []
    for label in ("cold", "warm"):
        log(f"PyInstaller ({label}): {shlex.join(cmd)}")
        res, seconds = timed(cmd, cwd=build, env=env)
        if res.returncode != 0:
            raise BenchError(f"`{shlex.join(cmd)}` failed (exit {res.returncode}):\n{tail(res.stderr)}")
        runs.append({"label": label, "seconds": round(seconds, 3)})
        log(f"PyInstaller ({label}): {seconds:.1f} s")
    version = subprocess.run([str(pyinstaller), "--version"], text=True, capture_output=True).stdout.strip()
    setup["pyinstaller_version"] = version
    return build / "dist" / "statool", {"command": shlex.join(cmd), "runs": runs, "setup": setup}


# --- start-up times ------------------------------------------------------------------------


def can_drop_caches() -> bool:
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return True
    except OSError:
        return False


def hyperfine(exe: Path, work: Path, label: str, first_run: bool, runs: int, warmup: int) -> dict:
    tmpdir = work / "hyperfine-tmp"
    tmpdir.mkdir(exist_ok=True)
    out = work / f"hyperfine-{label}-{'first' if first_run else 'warm'}.json"
    cmd = [tool("hyperfine"), "-N", "--style", "basic", "--export-json", str(out), "--runs", str(runs)]
    if first_run:
        prepare = work / "drop-caches.sh"
        prepare.write_text(
            f"#!/bin/sh\nrm -rf {shlex.quote(str(tmpdir))}/_MEI*\nsync\necho 3 > /proc/sys/vm/drop_caches\n"
        )
        prepare.chmod(0o755)
        cmd += ["--prepare", str(prepare)]
    else:
        cmd += ["--warmup", str(warmup)]
    cmd.append(f"{shlex.quote(str(exe))} --help")
    log(f"{label}: hyperfine {'first-run' if first_run else 'warm'} --help ({runs} runs)")
    res = subprocess.run(cmd, text=True, capture_output=True, env=dict(os.environ, TMPDIR=str(tmpdir)))
    if res.returncode != 0:
        return {"error": f"hyperfine exit {res.returncode}: {tail(res.stderr, 4)}"}
    r = json.loads(out.read_text())["results"][0]
    return {k: round(r[k] * 1000, 2) for k in ("mean", "stddev", "median", "min", "max")} | {"runs": len(r["times"])}


# --- does it run: roots ----------------------------------------------------------------------


def check_info(stdout: str) -> str:
    """ "" if `info` printed what the app prints when it works, else what is wrong."""
    try:
        doc = json.loads(stdout.strip().splitlines()[-1])
    except (json.JSONDecodeError, IndexError):
        return f"output is not JSON: {stdout.strip()[:120]!r}"
    problems = []
    if doc.get("argv") != ["info"]:
        problems.append(f"argv {doc.get('argv')!r}")
    if doc.get("with_libyaml") is not True or doc.get("cloader") != EXPECTED_CLOADER:
        problems.append("no PyYAML C loader")
    if doc.get("speedups") is not True:
        problems.append("no MarkupSafe speedups")
    return "; ".join(problems)


def check_procs(stdout: str) -> str:
    try:
        doc = json.loads(stdout.strip().splitlines()[-1])
    except (json.JSONDecodeError, IndexError):
        return f"output is not JSON: {stdout.strip()[:120]!r}"
    bad = [k for k, v in doc.items() if v is not True and k != "cpu_count"]
    if not isinstance(doc.get("cpu_count"), int) or doc["cpu_count"] < 1:
        bad.append("cpu_count")
    return ("false: " + ", ".join(bad)) if bad else ""


class Mounts:
    """Shell lines that set a root up inside the private mount namespace, and undo it."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.targets: list[str] = []

    def _do(self, argv: list[str], target: Path | None = None) -> None:
        line = shlex.join(argv)
        self.lines.append(f"{line} || {{ echo {shlex.quote(SETUP_FAILED + ' ' + line)} >&2; exit 99; }}")
        if target is not None:
            self.targets.append(str(target))

    def tmpfs(self, target: Path, options: str) -> None:
        self._do([tool("mount"), "-t", "tmpfs", "-o", options, "tmpfs", str(target)], target)

    def proc(self, target: Path) -> None:
        self._do([tool("mount"), "-t", "proc", "-o", "nosuid,nodev,noexec", "proc", str(target)], target)

    def bind_ro(self, source: Path, target: Path) -> None:
        self._do([tool("mount"), "--bind", str(source), str(target)], target)
        self._do([tool("mount"), "-o", "remount,ro,bind", str(target)])

    def copy(self, source: Path, target: Path) -> None:
        self._do(["/bin/cp", str(source), str(target)])
        self._do(["/bin/chmod", "755", str(target)])

    def script(self) -> str:
        """The namespace's shell script: the setup lines, then "$@" (the jailed command), then the unmounts."""
        umount = shlex.quote(tool("umount"))
        lines = []
        if self.targets:
            undo = " ".join(shlex.quote(t) for t in reversed(self.targets))
            lines += [f'undo() {{ for t in {undo}; do {umount} "$t" || {umount} -l "$t"; done; }}', "trap undo EXIT"]
        return "\n".join([*lines, *self.lines, '"$@"']) + "\n"


def run_in_root(root: Path, mounts: Mounts, argv: list[str]) -> subprocess.CompletedProcess[str]:
    """ARGV (inside ROOT) as UID:GID with an empty environment, after MOUNTS, in a private mount namespace."""
    jail = ["/usr/bin/env", "-i", tool("chroot"), f"--userspec={UID}:{GID}", str(root), *argv]
    cmd = [tool("unshare"), "--mount", "--propagation", "private", "/bin/sh", "-c", mounts.script(), "sh", *jail]
    try:
        return subprocess.run(
            cmd, text=True, capture_output=True, env={}, stdin=subprocess.DEVNULL, timeout=RUN_TIMEOUT
        )
    except subprocess.TimeoutExpired as exc:
        return subprocess.CompletedProcess(cmd, -1, exc.stdout or "", f"timed out after {RUN_TIMEOUT} s")


def empty_root(base: Path, name: str, exe: Path) -> Path:
    root = base / name
    root.mkdir(mode=0o755)
    root.chmod(0o755)
    shutil.copy2(exe, root / "statool")
    (root / "statool").chmod(0o755)
    return root


def verdict(res: subprocess.CompletedProcess[str], check) -> dict:
    if SETUP_FAILED in res.stderr:
        line = next(l for l in res.stderr.splitlines() if SETUP_FAILED in l)
        return {"ok": None, "why": "not measured: " + line.replace(SETUP_FAILED, "").strip()}
    if res.returncode != 0:
        last = [l for l in res.stderr.strip().splitlines() if l.strip()] or [""]
        return {"ok": False, "why": f"exit {res.returncode}: {last[-1].strip()[:200]}", "stderr": tail(res.stderr, 8)}
    wrong = check(res.stdout)
    if wrong:
        return {"ok": False, "why": f"exit 0 but {wrong}"}
    return {"ok": True, "why": ""}


SCENARIOS = {
    "host": "host (no chroot; baseline)",
    "empty_root": "empty root",
    "readonly_root": "read-only root",
    "noexec_tmp": "noexec /tmp (empty root + /proc)",
    "hostlibs_tmp": "host /usr ro + writable /tmp (control)",
    "hostlibs_noexec_tmp": "host /usr ro + noexec /tmp",
    "other_distro": "other distro (Debian trixie chroot)",
    "procs_proc": "`procs`, empty root + /proc",
}


def scenario(name: str, exe: Path, base: Path) -> dict:
    m = Mounts()
    argv = ["/statool", "info"]
    check = check_info
    if name == "host":
        # chroot to / (only to drop to the unknown user): the host's files, an empty environment;
        # the copy lies in the system's temporary directory, which that user can reach
        copy = Path(tempfile.mkdtemp(prefix="ship-your-tool-host-"))
        try:
            copy.chmod(0o755)
            shutil.copy2(exe, copy / "statool")
            (copy / "statool").chmod(0o755)
            return verdict(run_in_root(Path("/"), m, [str(copy / "statool"), "info"]), check)
        finally:
            shutil.rmtree(copy, ignore_errors=True)
    if name == "other_distro":
        if not (TRIXIE / "usr").is_dir():
            return {"ok": None, "why": f"not measured: no {TRIXIE}"}
        m.tmpfs(TRIXIE / "mnt", "mode=755")
        m.copy(exe, TRIXIE / "mnt" / "statool")
        m.proc(TRIXIE / "proc")
        m.tmpfs(TRIXIE / "tmp", "mode=1777,nosuid,nodev")
        return verdict(run_in_root(TRIXIE, m, ["/mnt/statool", "info"]), check)
    root = empty_root(base, name, exe)
    if name == "readonly_root":
        ro = base / (name + "-ro")
        ro.mkdir(mode=0o755)
        m.bind_ro(root, ro)
        root = ro
    elif name in ("noexec_tmp", "hostlibs_tmp", "hostlibs_noexec_tmp", "procs_proc"):
        (root / "proc").mkdir()
        m.proc(root / "proc")
        if name == "procs_proc":
            argv, check = ["/statool", "procs"], check_procs
        else:
            (root / "tmp").mkdir()
            m.tmpfs(root / "tmp", "mode=1777,nosuid,nodev" + ("" if name == "hostlibs_tmp" else ",noexec"))
        if name.startswith("hostlibs"):
            (root / "usr").mkdir()
            m.bind_ro(Path("/usr"), root / "usr")
            for link in ("bin", "lib", "lib64", "sbin"):
                host = Path("/") / link
                if host.is_symlink():
                    (root / link).symlink_to(os.readlink(host))
                elif host.is_dir():
                    (root / link).mkdir()
                    m.bind_ro(host, root / link)
    return verdict(run_in_root(root, m, argv), check)


def mounts_under(path: Path) -> list[str]:
    prefix = str(path.resolve())
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4].replace("\\040", " ")
            if point == prefix or point.startswith(prefix + "/"):
                found.append(point)
    return found


def safe_rmtree(path: Path) -> None:
    """Remove PATH, but only once nothing is mounted beneath it (an escaped bind mount of /usr must not be emptied)."""
    for point in sorted(mounts_under(path), key=len, reverse=True):
        subprocess.run([tool("umount"), point], check=False)
    left = mounts_under(path)
    if left:
        log(f"NOT removing {path}: still mounted there: {left}")
        return
    shutil.rmtree(path, ignore_errors=True)


def does_it_run(exe: Path, work: Path, label: str) -> dict:
    results = {}
    for name, title in SCENARIOS.items():
        base = Path(tempfile.mkdtemp(prefix=f"roots-{label}-{name}-", dir=work))
        base.chmod(0o755)
        try:
            results[name] = scenario(name, exe, base)
        finally:
            safe_rmtree(base)
        r = results[name]
        log(f"{label}: {title}: {'yes' if r['ok'] else ('no' if r['ok'] is False else '?')} {r['why']}")
    return results


def elf_interpreter(exe: Path) -> str | None:
    """The dynamic loader a 64-bit little-endian ELF file asks for (PT_INTERP), None for a static one."""
    with open(exe, "rb") as f:
        head = f.read(64)
        if head[:4] != b"\x7fELF" or head[4] != 2 or head[5] != 1:
            return "not a 64-bit little-endian ELF file"
        phoff, phentsize, phnum = struct.unpack_from("<Q", head, 32)[0], *struct.unpack_from("<HH", head, 54)
        for i in range(phnum):
            f.seek(phoff + i * phentsize)
            p_type, _flags, p_offset, _vaddr, _paddr, p_filesz = struct.unpack("<IIQQQQ", f.read(40))
            if p_type == 3:  # PT_INTERP
                f.seek(p_offset)
                return f.read(p_filesz).rstrip(b"\0").decode()
    return None


def python_version(key: str, exe: Path, build: dict | None) -> str:
    """The CPython release inside EXE: asked of ours (CPYTHON_STATIC_PYTHON=1 makes it the plain
    interpreter), taken from the build for PyInstaller."""
    if key == "pyinstaller":
        return ((build or {}).get("setup") or {}).get("python_version", "?")
    res = subprocess.run(
        [str(exe), "-c", "import platform; print(platform.python_version())"],
        env={"CPYTHON_STATIC_PYTHON": "1"},
        text=True,
        capture_output=True,
        timeout=60,
    )
    return res.stdout.strip() if res.returncode == 0 else "?"


# --- the report -----------------------------------------------------------------------------


def fmt_time(t: dict | None) -> str:
    if not t:
        return "not measured"
    if "error" in t:
        return f"failed: {t['error']}"
    return f"{t['mean']:.1f} ± {t['stddev']:.1f} ms"


def fmt_ratio(ours: float | None, theirs: float | None) -> str:
    if not ours or not theirs:
        return ""
    r = ours / theirs
    return f"{r:.2f}× ({1 / r:.1f}× smaller)" if r < 1 else f"{r:.2f}× ({r:.1f}× larger)"


def fmt_ratio_time(ours: dict | None, theirs: dict | None) -> str:
    if not ours or not theirs or "mean" not in ours or "mean" not in theirs:
        return ""
    r = ours["mean"] / theirs["mean"]
    return f"{r:.2f}× ({1 / r:.1f}× faster)" if r < 1 else f"{r:.2f}× ({r:.1f}× slower)"


def fmt_run(r: dict) -> str:
    if r["ok"]:
        return "yes"
    if r["ok"] is None:
        return r["why"]
    return "**no**: " + r["why"].replace("|", "\\|")


def fmt_build(b: dict | None, i: int) -> str:
    if not b:
        return "not measured (executable given)"
    run = b["runs"][i]
    text = f"{run['seconds']:.1f} s"
    extra = []
    flags = run.get("cache_fields") or {}
    if flags:
        hits = [k for k, v in flags.items() if v is True]
        extra.append(
            f"cache hits {len(hits)}/{len(flags)}" + (" (first run already cached)" if i == 0 and hits else "")
        )
    steps = (run.get("json") or {}).get("steps_s")
    if isinstance(steps, dict):
        if isinstance(steps.get("interpreter"), int | float) and steps["interpreter"] < 1:
            extra.append("the interpreter was already in the cache")
        extra.append("steps: " + ", ".join(f"{k} {v} s" for k, v in steps.items()))
    return text + (" — " + "; ".join(extra) if extra else "")


def markdown(report: dict) -> str:
    o, t = report["ours"], report["pyinstaller"]
    rows = [
        ("Python", o["python"], t["python"]),
        ("linking", o["interpreter"] or "static", t["interpreter"] or "static"),
        ("size", f"{o['size']:,} B ({o['size'] / 2**20:.1f} MiB)", f"{t['size']:,} B ({t['size'] / 2**20:.1f} MiB)"),
        ("first-run `--help` (page cache dropped)", fmt_time(o["first_run"]), fmt_time(t["first_run"])),
        ("warm `--help`", fmt_time(o["warm"]), fmt_time(t["warm"])),
    ]
    ratios = [
        "",
        "",
        fmt_ratio(o["size"], t["size"]),
        fmt_ratio_time(o["first_run"], t["first_run"]),
        fmt_ratio_time(o["warm"], t["warm"]),
    ]
    lines = [
        "| | ours (`cpython-static pack`) | PyInstaller `--onefile` | ours / PyInstaller |",
        "|---|---|---|---|",
    ]
    for (name, a, b), ratio in zip(rows, ratios, strict=True):
        lines.append(f"| {name} | {a} | {b} | {ratio} |")
    for key, title in SCENARIOS.items():
        lines.append(f"| runs: {title} | {fmt_run(o['runs'][key])} | {fmt_run(t['runs'][key])} | |")
    for i, label in enumerate(("cold", "warm")):
        lines.append(f"| pack / build time, {label} | {fmt_build(o['build'], i)} | {fmt_build(t['build'], i)} | |")
    setup = (t.get("build") or {}).get("setup") or {}
    notes = [
        f"Machine: {platform.node()}, {platform.platform()}, {os.cpu_count()} CPUs. "
        f"Start-up: hyperfine, {report['settings']['first_runs']} first runs / {report['settings']['warm_runs']} warm runs "
        f"({report['settings']['warmup']} warm-up), mean ± σ; load average at the start "
        f"{' / '.join(map(str, report['settings']['load_average_at_start']))} (1/5/15 min).",
        f"ours: {o['path']}.",
        f"PyInstaller: {t['path']}"
        + (
            f"; {setup.get('pyinstaller_version', '?')} in a venv of {setup.get('python')} "
            f"(Python {setup.get('python_version')}, shared {', '.join(setup.get('libpython') or [])}); "
            f"venv {setup.get('venv_seconds', setup.get('venv'))} s, pip install {setup.get('pip_install_seconds')} s "
            "(not in the build time)."
            if setup
            else "."
        ),
    ]
    if not report["settings"]["can_drop_caches"]:
        notes.append("The page cache could not be dropped here (not root?): first-run figures were not measured.")
    return "\n".join(lines) + "\n\n" + "\n".join(f"- {n}" for n in notes) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="ship_your_tool.py",
        description=textwrap.dedent(
            """\
            Compare a `cpython-static pack` executable of tests/real/apps/statool ("ours") with a
            PyInstaller --onefile executable of the same app ("theirs"):

              size                  bytes on disk
              first-run / warm      `--help` under hyperfine, with the page cache dropped before
                                    each run / after warm-up runs
              does it run           `info` (checked: PyYAML's C loader, MarkupSafe's speedups) as
                                    an unknown user with an empty environment in: an empty root,
                                    a read-only root, roots with a noexec /tmp, a Debian trixie
                                    chroot; `procs` with only /proc
              pack / build time     twice each, cold then warm

            Without --ours/--theirs both executables are made here (pack needs this checkout's
            `cpython-static pack`; PyInstaller is pip-installed into a venv of a Python with a
            shared libpython).  Needs root.  Every mount is made in a private mount namespace
            and unmounted again.  The module docstring has the details.
            """
        ),
        epilog=(
            "examples:\n"
            "  sudo python3 benchmarks/ship_your_tool.py                 # pack, build, measure\n"
            "  sudo python3 benchmarks/ship_your_tool.py --ours dist/statool --json\n"
            "  sudo python3 benchmarks/ship_your_tool.py --ours A --theirs B --warm-runs 50\n"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--ours",
        type=Path,
        metavar="PATH",
        help="an executable made by `cpython-static pack tests/real/apps/statool -o PATH`; "
        "without it the script packs the app itself (twice, timed: cold then warm)",
    )
    parser.add_argument(
        "--theirs",
        type=Path,
        metavar="PATH",
        help="a PyInstaller --onefile executable of the app made earlier; without it the script builds one",
    )
    parser.add_argument("--app", type=Path, default=APP, help="the app's project directory (default: %(default)s)")
    parser.add_argument(
        "--pack-python",
        default=sys.executable,
        metavar="PYTHON",
        help="the Python that runs `-m cpython_static pack` in the repository (default: this one, %(default)s)",
    )
    parser.add_argument(
        "--pack-option",
        action="append",
        default=[],
        metavar="OPT",
        help="one more argument for `pack` (repeatable), e.g. --pack-option=--python=3.11.2 to pack on "
        "the same minor release PyInstaller uses",
    )
    parser.add_argument(
        "--pyinstaller-python",
        metavar="PYTHON",
        help="the Python for PyInstaller's venv; it needs a shared libpython (--enable-shared). "
        "Default: the first that qualifies of /usr/bin/python3.11, python3.11, python3, this Python",
    )
    parser.add_argument(
        "--apt-install",
        action="store_true",
        help="if Debian's Python qualifies but for its missing libpython3.X.so, `apt-get install libpython3.X`",
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        help="where executables, the venv and hyperfine's data go (default: a temporary directory, "
        "removed at the end; a given one is kept, and its venv reused)",
    )
    parser.add_argument(
        "--first-runs", type=int, default=5, metavar="N", help="first-run samples (default: %(default)s)"
    )
    parser.add_argument("--warm-runs", type=int, default=30, metavar="N", help="warm samples (default: %(default)s)")
    parser.add_argument("--warmup", type=int, default=3, metavar="N", help="warm-up runs (default: %(default)s)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON instead of a Markdown table")
    parser.add_argument("--json-file", type=Path, metavar="PATH", help="also write the JSON results to PATH")
    args = parser.parse_args(argv)

    try:
        if os.geteuid() != 0:
            raise BenchError("run as root: chroot, mount and dropping the page cache need it")
        for name in ("hyperfine", "unshare", "mount", "umount", "chroot"):
            tool(name)
        if not (args.app / "pyproject.toml").is_file():
            raise BenchError(f"{args.app} is not the app's project directory (no pyproject.toml)")
        for given in (args.ours, args.theirs):
            if given is not None and not (given.is_file() and os.access(given, os.X_OK)):
                raise BenchError(f"{given} is not an executable file")
        keep = args.workdir is not None
        if keep:
            args.workdir.mkdir(parents=True, exist_ok=True)
            work = args.workdir.resolve()
        else:
            work = Path(tempfile.mkdtemp(prefix="ship-your-tool-"))
        work.chmod(0o755)
        try:
            return run(args, work)
        finally:
            if not keep:
                safe_rmtree(work)
    except BenchError as exc:
        print(f"ship_your_tool: error: {exc}", file=sys.stderr)
        return 1


def run(args: argparse.Namespace, work: Path) -> int:
    ours_build = theirs_build = None
    if args.ours:
        ours = args.ours.resolve()
    else:
        ours, ours_build = pack_ours(args.pack_python, args.app.resolve(), work / "statool", args.pack_option)
    if args.theirs:
        theirs = args.theirs.resolve()
    else:
        theirs, theirs_build = build_pyinstaller(work, args.app.resolve(), args.pyinstaller_python, args.apt_install)
    drop = can_drop_caches()
    report: dict = {
        "settings": {
            "first_runs": args.first_runs,
            "warm_runs": args.warm_runs,
            "warmup": args.warmup,
            "can_drop_caches": drop,
            "uid": UID,
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        }
    }
    for key, exe, build in (("ours", ours, ours_build), ("pyinstaller", theirs, theirs_build)):
        report[key] = {
            "path": str(exe),
            "size": exe.stat().st_size,
            "interpreter": elf_interpreter(exe),
            "python": python_version(key, exe, build),
            "build": build,
            "first_run": hyperfine(exe, work, key, True, args.first_runs, 0) if drop else None,
            "warm": hyperfine(exe, work, key, False, args.warm_runs, args.warmup),
            "runs": does_it_run(exe, work, key),
        }
    o, t = report["ours"], report["pyinstaller"]
    report["ratios"] = {
        "size": round(o["size"] / t["size"], 3),
        **{
            f"{k}_help": round(o[k]["mean"] / t[k]["mean"], 3)
            for k in ("first_run", "warm")
            if o[k] and t[k] and "mean" in o[k] and "mean" in t[k]
        },
    }
    text = json.dumps(report, indent=2, default=str)
    if args.json_file:
        args.json_file.write_text(text + "\n")
    print(text if args.json else markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
