"""Our one-file interpreter BINARY against a reference interpreter PYTHON, side by side in
one run: pyperformance's benchmarks through pyperf, peak memory, start-up time and size.

Method.  Each side gets a venv (cached) holding the same pinned pyperf.  Every benchmark of
the subset (verify/bench.toml: a named, versioned list of pyperformance benchmarks that need
nothing but pyperf) runs as pyperf runs it: --processes worker processes, --values timed
values each, warm-ups discarded.  The sides alternate, BINARY first for one benchmark and
PYTHON first for the next, so drift (heat, other load) hits both alike.  A benchmark's ratio
is BINARY's mean / PYTHON's mean: above 1 BINARY is slower.  The summary is the geometric
mean of the ratios over the benchmarks measured on both sides, and the worst benchmark.
Peak RSS is pyperf's mem_max_rss, the maximum over a benchmark's worker processes.
Start-up is the median wall-clock time of whole processes (`-c pass`, a few imports), the
two sides alternating in every round.  Size is BINARY's.

Same-source comparisons (a ratio then means "our static musl one file vs the distro's build
of the same release"):

  # Debian 12 (bookworm): /usr/bin/python3.11 is 3.11.2
  cpython-static build 3.11.2
  cpython-static bench dist/cpython-3.11.2-x86_64-linux-musl/python3.11 --against /usr/bin/python3.11

  # Debian 13 (trixie) in a chroot: its python3.13 is 3.13.5 (as root; no chroot exec is timed)
  debootstrap --include=python3.13-venv trixie /srv/trixie
  cpython-static build 3.13.5
  cpython-static bench dist/cpython-3.13.5-x86_64-linux-musl/python3.13 \\
      --chroot /srv/trixie --against /usr/bin/python3.13

With --chroot both interpreters run inside ROOT: BINARY is copied there (it is static), PYTHON
is a path inside ROOT, and the work directory lives under ROOT/tmp.

Everything lands in the work directory (--out; default <cache>/bench/<run id>, or
ROOT/tmp/cpython-static-bench/<run id>): bench.json, rewritten after every benchmark so an
interrupted run keeps what it measured; each side's pyperf results.  Logs go where every
command's go (--log-dir, else <cache>/logs/<run id>).  The two pinned wheels are downloaded
once into the cache by the pip of the Python running cpython-static, from whatever index
that pip is configured with.  A benchmark
that fails on one side is reported with the tail of its log and the others still run; the
command then exits 1.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import time
import tomllib
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

from cpython_static.core.cache import Cache, digest_of
from cpython_static.core.context import run_id
from cpython_static.core.errors import UsageError, WorkFailed
from cpython_static.core.fsutil import atomic_write
from cpython_static.core.runner import Runner, StepFailed, tail_of

SUBSET_TOML = Path(__file__).with_name("bench.toml")
SIDES = ("ours", "ref")
CHROOT_HOME = "tmp/cpython-static-bench"  # inside ROOT: venvs, BINARY's copy, work directories

# The old figures' commands stay (the README quotes them), plus the imports of a typical tool.
STARTUP = {
    "-c pass": ["-c", "pass"],
    "-I -S -c pass": ["-I", "-S", "-c", "pass"],
    "-c 'import ssl, sqlite3, json'": ["-c", "import ssl, sqlite3, json"],
    "-c 'import ssl, json, sqlite3, asyncio, argparse, subprocess'": [
        "-c",
        "import ssl, json, sqlite3, asyncio, argparse, subprocess",
    ],
}
STARTUP_WARMUP = 3

PROBE = (
    "import json, os, platform, sys; print(json.dumps({'executable': sys.executable, "
    "'realpath': os.path.realpath(sys.executable), 'version': platform.python_version(), "
    "'sys_version': sys.version, 'version_info': list(sys.version_info[:2]), "
    "'implementation': sys.implementation.name}))"
)

PROBE_KEYS = {"executable", "realpath", "version", "sys_version", "version_info", "implementation"}

BENCHMARK_TIMEOUT_S = 3600
# pyperf's own default is 20 processes x 3 values.  The whole subset at 2 x 2 took 5 minutes
# on a 2-core machine; 6 x 3 does about 3.5 times that work, 20 x 3 about 11 times.
PROCESSES, VALUES, STARTUP_RUNS = 6, 3, 30


# ====================================================================== the subset
@dataclasses.dataclass(frozen=True)
class Benchmark:
    name: str
    dir: str
    args: tuple[str, ...]
    why: str


@dataclasses.dataclass(frozen=True)
class Subset:
    name: str
    version: int
    pyperformance: str
    pyperf: str
    python_min: tuple[int, int]
    benchmarks: Mapping[str, Benchmark]

    @property
    def label(self) -> str:
        return f"{self.name} v{self.version}"


def load_subset(path: Path | None = None) -> Subset:
    path = path or SUBSET_TOML
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    head = data["subset"]
    benchmarks = {}
    for name, raw in data["benchmarks"].items():
        if not str(raw.get("dir", "")).startswith("bm_"):
            raise ValueError(f"{path.name}: {name}: dir must be a pyperformance bm_* directory")
        if not str(raw.get("why", "")).strip():
            raise ValueError(f"{path.name}: {name} has no why")
        benchmarks[name] = Benchmark(name, raw["dir"], tuple(raw.get("args", ())), raw["why"])
    major, minor = (int(x) for x in head["python_min"].split("."))
    return Subset(head["name"], int(head["version"]), head["pyperformance"], head["pyperf"], (major, minor), benchmarks)


def select(subset: Subset, names: Sequence[str] | None) -> list[Benchmark]:
    """The benchmarks to run, in the subset's order unless names are given."""
    if not names:
        return list(subset.benchmarks.values())
    unknown = [n for n in names if n not in subset.benchmarks]
    if unknown:
        raise UsageError(
            f"unknown benchmark(s) {', '.join(unknown)}; {subset.label} has: {', '.join(subset.benchmarks)}"
        )
    return [subset.benchmarks[n] for n in dict.fromkeys(names)]


# ====================================================================== the maths
@dataclasses.dataclass(frozen=True)
class Measurement:
    mean_s: float
    stdev_s: float
    values: int
    max_rss_bytes: int | None

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


def geometric_mean(values: Iterable[float]) -> float | None:
    values = list(values)
    if not values:
        return None
    # Through logarithms: a product of 50 ratios may leave a float's range, a mean of logs never.
    return math.exp(statistics.fmean(math.log(v) for v in values))


def ratio(ours: float | None, ref: float | None) -> float | None:
    if ours is None or ref is None or ref <= 0 or ours <= 0:
        return None
    return ours / ref


def measurement(result: Mapping, name: str) -> Measurement:
    """One benchmark of a pyperf result file (format 1.0).

    pyperf moves metadata that every run shares up to the benchmark, and what every benchmark
    shares up to the file, so a run's mem_max_rss may sit at any of the three levels.  Runs
    without values are calibration runs; warm-ups are in ``warmups`` and never counted.
    """
    suite_meta = result.get("metadata", {})
    benches = result.get("benchmarks", [])
    named = {{**suite_meta, **b.get("metadata", {})}.get("name"): b for b in benches}
    bench = named.get(name) or (benches[0] if len(benches) == 1 else None)
    if bench is None:
        raise ValueError(f"no benchmark {name!r} in the result (it holds {sorted(map(str, named))})")
    values, rss = [], []
    for run in bench.get("runs", []):
        meta = {**suite_meta, **bench.get("metadata", {}), **run.get("metadata", {})}
        # A bench_command benchmark times a child process: its RSS is command_max_rss.
        peak = meta.get("mem_max_rss", meta.get("command_max_rss"))
        if peak is not None:
            rss.append(int(peak))
        values.extend(run.get("values", ()))
    if not values:
        raise ValueError(f"benchmark {name!r} has no values (calibration runs only)")
    return Measurement(
        statistics.fmean(values),
        statistics.stdev(values) if len(values) > 1 else 0.0,
        len(values),
        max(rss) if rss else None,
    )


def compare(ours: Measurement | None, ref: Measurement | None) -> dict:
    """One row: both sides and their time and RSS ratios (None where a side is missing)."""
    return {
        "ours": ours.to_json() if ours else None,
        "ref": ref.to_json() if ref else None,
        "ratio": ratio(ours and ours.mean_s, ref and ref.mean_s),
        "rss_ratio": ratio(ours and ours.max_rss_bytes, ref and ref.max_rss_bytes),
    }


def summarize(rows: Mapping[str, Mapping]) -> dict:
    """Geometric means and the worst benchmark, over the rows measured on both sides."""
    both = {name: row for name, row in rows.items() if row["ratio"] is not None}
    worst = max(both, key=lambda n: both[n]["ratio"], default=None)
    return {
        "ratio": geometric_mean(row["ratio"] for row in both.values()),
        "rss_ratio": geometric_mean(row["rss_ratio"] for row in both.values() if row["rss_ratio"] is not None),
        "benchmarks": len(both),
        "of": len(rows),
        "missing": [name for name in rows if name not in both],
        "worst": {"name": worst, "ratio": both[worst]["ratio"]} if worst else None,
    }


def startup_summary(times: Sequence[float]) -> dict:
    return {
        "median_ms": round(statistics.median(times) * 1000, 2),
        "mean_ms": round(statistics.fmean(times) * 1000, 2),
        "min_ms": round(min(times) * 1000, 2),
        "runs": len(times),
    }


# ====================================================================== where the pythons run
@dataclasses.dataclass(frozen=True)
class Place:
    """The host, or the inside of ``root`` (we are root; chroot(2) enters it)."""

    root: Path | None = None
    tool: str = "chroot"  # chroot(1), for the runner's steps

    def inside(self, path: Path) -> str:
        """``path`` (on the host) as the interpreters see it."""
        return str(path) if self.root is None else "/" + str(Path(path).relative_to(self.root))

    def outside(self, path: str) -> Path:
        return Path(path) if self.root is None else self.root / str(path).lstrip("/")

    def command(self, argv: Sequence[str]) -> list[str]:
        """``argv`` for the runner: chroot(1)'s exec is over before pyperf starts a clock."""
        return list(argv) if self.root is None else [self.tool, str(self.root), *argv]

    def enter(self) -> None:
        """preexec_fn of the timed start-up runs, where an exec of chroot(1) would be timed too."""
        os.chroot(self.root)
        os.chdir("/")

    def popen_kw(self, env: Mapping[str, str]) -> dict:
        return {"env": dict(env), "preexec_fn": self.enter if self.root is not None else None}


def clean_env(home: str) -> dict[str, str]:
    """The same few variables for both sides: nothing of the user's shell reaches a timing."""
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": home, "LANG": "C.UTF-8"}


def probe(place: Place, python: str, what: str, env: Mapping[str, str]) -> dict:
    """What ``python`` says it is, or a UsageError naming it and what was tried."""
    argv = [python, "-c", PROBE]
    tried = f"tried `{python} -c <print sys.version …>`" + (f" inside {place.root}" if place.root else "")
    try:
        res = subprocess.run(
            argv, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL, **place.popen_kw(env)
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise UsageError(f"{what} {python}: not a runnable Python ({tried}: {exc})") from None
    lines = res.stdout.strip().splitlines()
    try:
        answer = json.loads(lines[-1]) if res.returncode == 0 and lines else None
    except ValueError:
        answer = None
    if not isinstance(answer, dict) or not PROBE_KEYS <= answer.keys():
        why = f"exit status {res.returncode}" if res.returncode else "it printed no answer"
        tail = "\n".join((res.stderr or res.stdout).strip().splitlines()[-5:])
        raise UsageError(f"{what} {python}: not a Python ({tried}: {why})" + (f"\n  {tail}" if tail else ""))
    return answer


# ====================================================================== the pieces of a run
def fetch_wheels(cache: Cache, runner: Runner, subset: Subset) -> Path:
    """The pinned pyperf and pyperformance wheels, downloaded once into the cache.

    By the pip of the Python running cpython-static, in the user's own environment and
    configuration, so their index is used (we name none).  Neither side's pip: inside a
    chroot the host's pip configuration is not there, and in our 3.11.2 one file the pip
    that ensurepip bundles (22.3.1) fails, its glibc probe calling ctypes.CDLL(None)."""
    pins = [f"pyperf=={subset.pyperf}", f"pyperformance=={subset.pyperformance}"]

    def produce(stage: Path, final: Path) -> dict:
        runner.run(
            "bench: pip download pyperf, pyperformance",
            [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
            + ["--disable-pip-version-check", "--dest", stage, *pins],
        )
        return {"files": sorted(p.name for p in stage.glob("*.whl"))}

    return cache.build("downloads", digest_of({"bench-wheels": 1, "pins": pins}), produce).path


def wheel_of(wheels: Path, project: str, version: str) -> Path:
    found = sorted(wheels.glob(f"{project}-{version}-*.whl"))
    if not found:
        raise WorkFailed(f"{wheels}: no {project} {version} wheel (remove the directory to download again)")
    return found[0]


def extract_benchmarks(wheel: Path, dirs: Iterable[str], dest: Path) -> Path:
    """The chosen bm_* directories out of pyperformance's wheel (nothing of it is installed)."""
    prefix = "pyperformance/data-files/benchmarks/"
    wanted = tuple(f"{prefix}{d}/" for d in sorted(set(dirs)))
    with zipfile.ZipFile(wheel) as zf:
        for info in zf.infolist():
            if info.filename.startswith(wanted) and not info.is_dir():
                target = dest / info.filename[len(prefix) :]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(zf.read(info))
    return dest


def unpack_wheel(wheel: Path, site_packages: Path) -> None:
    """Install a pure-Python wheel (Root-Is-Purelib) the way pip would lay it out."""
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(site_packages)


SITE_PACKAGES = "import sys, sysconfig; p = sysconfig.get_path('purelib'); assert p in sys.path, sys.path; print(p)"


def make_venv(
    venvs: Cache, runner: Runner, place: Place, side: str, python: str, subset: Subset, wheels: Path, env: Mapping
) -> Path:
    """A venv of ``python`` holding pyperf, cached by the interpreter's path, size and mtime.

    pyperf is unpacked from the downloaded wheel, without pip (see fetch_wheels) and without
    its psutil dependency: psutil is a C extension, which our one file refuses, so neither
    side gets it (pyperf does without)."""
    st = place.outside(python).stat()
    key = digest_of(
        {"bench-venv": 2, "python": python, "size": st.st_size, "mtime_ns": st.st_mtime_ns, "pyperf": subset.pyperf}
    )
    delta = env_delta(runner, env)

    def produce(stage: Path, final: Path) -> dict:
        venv_python = place.inside(stage / "bin/python")
        runner.run(
            f"{side}: venv", place.command([python, "-m", "venv", "--without-pip", place.inside(stage)]), env=delta
        )
        found = runner.run(
            f"{side}: venv site-packages", place.command([venv_python, "-c", SITE_PACKAGES]), env=delta, capture=True
        )
        unpack_wheel(wheel_of(wheels, "pyperf", subset.pyperf), place.outside(found.output.strip().splitlines()[-1]))
        check = f"import pyperf; assert pyperf.__version__ == {subset.pyperf!r}, pyperf.__version__"
        runner.run(f"{side}: import pyperf", place.command([venv_python, "-c", check]), env=delta)
        return {"python": python, "pyperf": subset.pyperf}

    return venvs.build("venvs", key, produce).path


def env_delta(runner: Runner, env: Mapping[str, str]) -> dict[str, str | None]:
    """The runner's delta that makes a step's environment exactly ``env``."""
    return {**{k: None for k in runner.base_env if k not in env}, **env}


def time_startup(
    place: Place,
    pythons: Mapping[str, str],
    runs: int,
    env: Mapping[str, str],
    warmup: int = STARTUP_WARMUP,
    side_env: Mapping[str, Mapping[str, str]] | None = None,
) -> tuple[dict, list[dict]]:
    """Median wall-clock of whole processes, the sides alternating which goes first each round."""
    times = {cmd: {side: [] for side in pythons} for cmd in STARTUP}
    errors = []
    failed: set[tuple[str, str]] = set()
    for round_ in range(warmup + runs):
        order = list(pythons) if round_ % 2 == 0 else list(pythons)[::-1]
        for cmd, args in STARTUP.items():
            for side in order:
                if (cmd, side) in failed:
                    continue
                started = time.perf_counter()
                res = subprocess.run(
                    [pythons[side], *args],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                    **place.popen_kw({**env, **(side_env or {}).get(side, {})}),
                )
                elapsed = time.perf_counter() - started
                if res.returncode != 0:
                    failed.add((cmd, side))
                    tail = "\n".join(res.stderr.decode("utf-8", "replace").strip().splitlines()[-10:])
                    errors.append({"side": side, "startup": cmd, "returncode": res.returncode, "stderr_tail": tail})
                elif round_ >= warmup:
                    times[cmd][side].append(elapsed)
    table = {}
    for cmd, per in times.items():
        row = {side: startup_summary(t) if t else None for side, t in per.items()}
        medians = [row[side]["median_ms"] if row[side] else None for side in SIDES]
        table[cmd] = {**row, "ratio": ratio(*medians)}
    return table, errors


@dataclasses.dataclass
class Plan:
    """Everything one run needs, decided (and every input checked) before anything is run."""

    subset: Subset
    benchmarks: list[Benchmark]
    place: Place
    binary: Path  # on the host
    pythons: dict[str, str]  # side -> the interpreter as the place sees it
    identities: dict[str, dict]  # side -> what its probe said, and the path given
    work: Path
    home: Path  # where venvs (and, with --chroot, BINARY's copy) are kept: inside ROOT if any
    downloads: Path  # the host's cache of the pinned wheels
    processes: int = PROCESSES
    values: int = VALUES
    startup_runs: int = STARTUP_RUNS
    # side -> environment variables set for that side only (--env), e.g. PYTHONMALLOC to
    # measure an allocator on the same binary
    side_env: dict[str, dict[str, str]] = dataclasses.field(default_factory=dict)


def parse_side_env(items: Sequence[str]) -> dict[str, dict[str, str]]:
    """``SIDE:VAR=VALUE`` items (SIDE: ours or ref) -> {side: {VAR: VALUE}}."""
    out: dict[str, dict[str, str]] = {}
    for item in items:
        side, colon, assignment = item.partition(":")
        var, eq, value = assignment.partition("=")
        if not colon or side not in SIDES or not eq or not var:
            raise UsageError(f"--env {item}: expected SIDE:VAR=VALUE with SIDE one of {', '.join(SIDES)}")
        out.setdefault(side, {})[var] = value
    return out


def prepare(
    binary: str,
    against: str,
    *,
    cache_root: Path,
    chroot: str | None = None,
    names: Sequence[str] | None = None,
    out: str | None = None,
    processes: int = PROCESSES,
    values: int = VALUES,
    startup_runs: int = STARTUP_RUNS,
    subset: Subset | None = None,
    side_env: Mapping[str, Mapping[str, str]] | None = None,
) -> Plan:
    """Check every input (a UsageError names the bad one) without changing anything."""
    subset = subset or load_subset()
    benchmarks = select(subset, names)
    place = Place()
    if chroot:
        root = Path(chroot).resolve()
        if not root.is_dir():
            raise UsageError(f"--chroot {chroot}: not a directory")
        if os.geteuid() != 0:
            raise UsageError(f"--chroot {chroot}: entering a root needs root (chroot(2))")
        tool = shutil.which("chroot", path=os.defpath + ":/usr/sbin:/sbin")
        if tool is None:
            raise UsageError("--chroot: no chroot command on this machine")
        place = Place(root, tool)
        if not against.startswith("/"):
            raise UsageError(f"--against {against}: with --chroot, give the path inside {root}")
    binary_path = Path(binary).resolve()
    if not binary_path.is_file():
        raise UsageError(f"{binary}: no such file")
    ref = against if place.root or "/" in against else shutil.which(against)
    if not ref:
        raise UsageError(f"--against {against}: no such command on PATH")
    env = clean_env("/")
    answers = {"ours": probe(Place(), str(binary_path), "BINARY", env), "ref": probe(place, ref, "--against", env)}
    identities = {}
    for side, what, given in zip(SIDES, ("BINARY", "--against"), (binary, against), strict=True):
        answer = answers[side]
        if tuple(answer["version_info"]) < subset.python_min:
            raise UsageError(
                f"{what} {given} is Python {answer['version']}; pyperf {subset.pyperf} needs "
                f"{'.'.join(map(str, subset.python_min))} or newer"
            )
        identities[side] = {"given": given, **{k: answer[k] for k in ("version", "sys_version", "implementation")}}
    # The interpreter itself, not a launcher in front of it (pyenv's shims would add their own
    # start-up to every timed run, and a venv of a venv is a venv of its base anyway).
    pythons = {"ours": str(binary_path), "ref": answers["ref"]["realpath"] if answers["ref"]["executable"] else ref}
    home = place.root / CHROOT_HOME if place.root else cache_root / "bench"
    work = Path(out).resolve() if out else home / run_id("bench")
    if place.root and not work.is_relative_to(place.root):
        raise UsageError(f"--out {out}: with --chroot the work directory must be inside {place.root}")
    return Plan(
        subset,
        benchmarks,
        place,
        binary_path,
        pythons,
        identities,
        work,
        home,
        cache_root / "bench",
        processes,
        values,
        startup_runs,
        {side: dict(v) for side, v in (side_env or {}).items()},
    )


def copy_into_root(plan: Plan) -> str:
    """BINARY inside ROOT (it is static: it runs there as it is), copied once per version of it."""
    st = plan.binary.stat()
    key = digest_of({"binary": str(plan.binary), "size": st.st_size, "mtime_ns": st.st_mtime_ns})[:16]
    dest = plan.home / "bin" / key / plan.binary.name
    if not dest.is_file():
        dest.parent.mkdir(parents=True, exist_ok=True)
        partial = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
        shutil.copy2(plan.binary, partial)  # copy2: the mtime, hence the venv's cache key, stays
        os.replace(partial, dest)
    return plan.place.inside(dest)


def run_benchmark(runner: Runner, plan: Plan, side: str, venv: Path, bench_dir: Path, bm: Benchmark, env) -> dict:
    """One pyperf run of one benchmark on one side: its measurement or an error entry."""
    out = plan.work / "results" / side / f"{bm.name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)  # pyperf refuses to overwrite (a reused --out)
    script = bench_dir / bm.dir / "run_benchmark.py"
    argv = [plan.place.inside(venv / "bin/python"), plan.place.inside(script), *bm.args]
    argv += ["--processes", str(plan.processes), "--values", str(plan.values), "-o", plan.place.inside(out)]
    extra = plan.side_env.get(side, {})
    if extra:  # pyperf gives its workers a clean environment unless told to pass these on
        argv += ["--inherit-environ", ",".join(sorted(extra))]
    try:
        res = runner.run(
            f"{side}: {bm.name}",
            plan.place.command(argv),
            env=env_delta(runner, {**env, **extra}),
            check=False,
            timeout=BENCHMARK_TIMEOUT_S,
        )
        log, code = res.log, res.returncode
    except StepFailed as exc:  # timed out, or could not start
        log, code = exc.log, exc.returncode
    why = f"exit status {code}" if code is not None else "did not finish"
    if code == 0:
        try:
            return {"measurement": measurement(json.loads(out.read_text()), bm.name)}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            why = f"unreadable result {out}: {exc}"
    tail = tail_of(log, 15)
    return {"error": {"side": side, "benchmark": bm.name, "why": why, "log": str(log), "stderr_tail": tail}}


def run(plan: Plan, runner: Runner, progress: Callable[[str], None] = lambda line: None) -> dict:
    """Set up both sides, time start-up, run the benchmarks; bench.json after every one."""
    started = time.monotonic()
    result_path = plan.work / "bench.json"
    (plan.work / "home").mkdir(parents=True, exist_ok=True)
    env = clean_env(plan.place.inside(plan.work / "home"))
    result = {
        "subset": {"name": plan.subset.name, "version": plan.subset.version},
        "pyperformance": plan.subset.pyperformance,
        "pyperf": plan.subset.pyperf,
        "method": {
            "processes": plan.processes,
            "values": plan.values,
            "startup_runs": plan.startup_runs,
            "order": "alternating: ours first for the 1st, 3rd, ... benchmark, ref first for the others",
            "ratio": "ours mean / ref mean (>1: ours slower)",
        },
        "chroot": str(plan.place.root) if plan.place.root else None,
        "pythons": {
            side: {**plan.identities[side], "path": plan.pythons[side], "env": plan.side_env.get(side, {})}
            for side in SIDES
        },
        "size_bytes": plan.binary.stat().st_size,
        "benchmarks": {},
        "summary": None,
        "startup": {},
        "errors": [],
        "complete": False,
        "work_dir": str(plan.work),
        "results": str(result_path),
        "logs": str(runner.log_dir),
    }

    def save() -> None:
        result["duration_s"] = round(time.monotonic() - started, 1)
        atomic_write(result_path, json.dumps(result, indent=2) + "\n")

    save()
    progress(f"results: {result_path}")
    downloads = fetch_wheels(Cache(plan.downloads), runner, plan.subset)
    bench_dir = extract_benchmarks(
        wheel_of(downloads, "pyperformance", plan.subset.pyperformance),
        (bm.dir for bm in plan.benchmarks),
        plan.work / "benchmarks",
    )
    if plan.place.root:
        plan.pythons["ours"] = result["pythons"]["ours"]["path"] = copy_into_root(plan)
    venvs, venv = Cache(plan.home), {}
    for side in SIDES:
        progress(f"{side}: venv of {plan.pythons[side]} with pyperf {plan.subset.pyperf}")
        venv[side] = make_venv(venvs, runner, plan.place, side, plan.pythons[side], plan.subset, downloads, env)

    progress(f"start-up: {len(STARTUP)} commands, {plan.startup_runs} runs a side")
    result["startup"], startup_errors = time_startup(
        plan.place, plan.pythons, plan.startup_runs, env, side_env=plan.side_env
    )
    result["errors"].extend(startup_errors)
    save()

    rows = result["benchmarks"]
    for i, bm in enumerate(plan.benchmarks):
        order = SIDES if i % 2 == 0 else SIDES[::-1]
        got = {side: run_benchmark(runner, plan, side, venv[side], bench_dir, bm, env) for side in order}
        result["errors"].extend(got[side]["error"] for side in order if "error" in got[side])
        rows[bm.name] = row = compare(*(got[side].get("measurement") for side in SIDES))
        result["summary"] = summarize(rows)
        save()
        progress(f"[{i + 1}/{len(plan.benchmarks)}] {bm.name}: {describe_row(row)}")
    result["complete"] = True
    save()
    return result


# ====================================================================== what a human reads
def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    for unit, scale in (("s", 1), ("ms", 1e-3), ("us", 1e-6), ("ns", 1e-9)):
        if seconds >= scale * 0.9995 or unit == "ns":  # 0.9996 s is "1.00 s", not "1.00e+03 ms"
            return f"{seconds / scale:#.3g}".rstrip(".") + f" {unit}"


def _x(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def _mb(row_side: Mapping | None) -> str:
    if not row_side or row_side.get("max_rss_bytes") is None:
        return "—"
    return f"{row_side['max_rss_bytes'] / 1e6:.1f}"


def describe_row(row: Mapping) -> str:
    mean = {side: row[side]["mean_s"] if row[side] else None for side in SIDES}
    return f"ours {duration(mean['ours'])}, ref {duration(mean['ref'])}, ratio {_x(row['ratio'])}"


def render(result: Mapping) -> str:
    py = result["pythons"]
    method = result["method"]
    lines = [
        f"{result['subset']['name']} v{result['subset']['version']}: pyperformance {result['pyperformance']} "
        f"benchmarks through pyperf {result['pyperf']} (--processes {method['processes']} "
        f"--values {method['values']}), the sides alternating"
        + (f", both inside {result['chroot']}" if result.get("chroot") else ""),
        "",
    ]
    for side in SIDES:
        lines.append(f"{side}: {py[side]['path']} — {py[side]['sys_version'].splitlines()[0]}")
    lines += [
        "",
        "| benchmark | ours | ref | ratio | RSS ours MB | RSS ref MB | RSS ratio |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, row in result["benchmarks"].items():
        mean = [duration(row[side]["mean_s"]) if row[side] else "—" for side in SIDES]
        lines.append(
            f"| {name} | {mean[0]} | {mean[1]} | {_x(row['ratio'])} | {_mb(row['ours'])} | {_mb(row['ref'])} "
            f"| {_x(row['rss_ratio'])} |"
        )
    summary = result.get("summary")
    if summary and summary["ratio"] is not None:
        lines += [
            "",
            f"Geometric mean of the time ratios (ours/ref, >1 = ours slower): {summary['ratio']:.3f} over the "
            f"{summary['benchmarks']} of {summary['of']} benchmarks measured on both sides"
            + (f" (not: {', '.join(summary['missing'])})" if summary["missing"] else ""),
            f"Geometric mean of the peak-RSS ratios: {_x(summary['rss_ratio'])}",
            f"Worst: {summary['worst']['name']} at {summary['worst']['ratio']:.2f}",
        ]
    if result["startup"]:
        runs = method["startup_runs"]
        lines += ["", f"| start-up (median of {runs}) | ours ms | ref ms | ratio |", "|---|---:|---:|---:|"]
        for cmd, row in result["startup"].items():
            med = [f"{row[side]['median_ms']:.1f}" if row[side] else "—" for side in SIDES]
            lines.append(f"| `python {cmd}` | {med[0]} | {med[1]} | {_x(row['ratio'])} |")
    lines += ["", f"Size of ours: {result['size_bytes']:,} bytes ({result['size_bytes'] / 1e6:.1f} MB)"]
    for err in result["errors"]:
        what = f"benchmark {err['benchmark']}" if "benchmark" in err else f"start-up `{err['startup']}`"
        lines.append(f"FAILED on {err['side']}: {what}" + (f" (log: {err['log']})" if "log" in err else ""))
        lines += ["    " + line for line in err["stderr_tail"].splitlines()[-5:]]
    lines.append(f"Results: {result['results']}; logs in {result['logs']}")
    return "\n".join(lines)
