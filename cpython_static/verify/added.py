"""The ``added_modules`` check: what ``build --with`` compiled in really imports.

For each added module (a package's extension, by its full dotted name) the interpreter
must find it with the built-in importer — ``importlib.util.find_spec`` gives origin
``built-in`` — and import it; its package must come from the one file's archive (its
``__file__`` inside ``sys.executable``), not from some directory on disk.  Exactly which
modules are built in is the ``builtin_modules`` check's job (table + added).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from cpython_static.core.runner import Runner, StepFailed

_PROBE = r"""
import importlib, importlib.util, json, sys
out = {}
for name in sys.argv[1:]:
    got = out[name] = {}
    try:
        spec = importlib.util.find_spec(name)  # imports the parent package first
        got["origin"] = spec.origin if spec else None
        importlib.import_module(name)
        parent = sys.modules.get(name.rpartition(".")[0])
        got["package_file"] = getattr(parent, "__file__", None)
    except Exception as exc:
        got["error"] = "%s: %s" % (type(exc).__name__, exc)
print(json.dumps({"executable": sys.executable, "modules": out}))
"""


def judge(answer: Mapping, modules: Sequence[str]) -> tuple[bool, str]:
    """The verdict on the probe's answer (separate, so the rule is testable)."""
    problems, exe = [], answer.get("executable") or ""
    for name in modules:
        got = answer["modules"].get(name, {})
        if "error" in got:
            problems.append(f"{name}: {got['error']}")
        elif got.get("origin") != "built-in":
            problems.append(f"{name}: found as {got.get('origin')!r}, not as a built-in module")
        elif "." in name and not str(got.get("package_file") or "").startswith(exe + "/"):
            problems.append(f"{name}: its package comes from {got.get('package_file')!r}, not from the one file")
    if problems:
        return False, "; ".join(problems)
    return True, f"{len(modules)} added modules import as built-ins: {', '.join(modules)}"


def added_modules_verdict(
    runner: Runner, interpreter: Sequence[str], env: Mapping, modules: Sequence[str], timeout: float
) -> tuple[bool, str]:
    """(ok, detail) of the check (checks.py makes it a Check)."""
    try:
        res = runner.run(
            "verify: added modules",
            [*interpreter, "-I", "-c", _PROBE, *modules],
            env=dict(env),
            capture=True,
            check=False,
            timeout=timeout,
        )
    except StepFailed as exc:
        return False, f"could not run the interpreter ({exc.log})"
    lines = [l for l in res.output.splitlines() if l.startswith("{")]
    if res.returncode != 0 or not lines:
        return False, f"the probe failed (exit {res.returncode}); log: {res.log}"
    return judge(json.loads(lines[-1]), modules)
