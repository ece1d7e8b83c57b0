"""The watcher's status matrix (tag x target, newest first) as Markdown, JSON and one static
HTML page, and the ready-to-file report for a failed tag.

Every page is written beside its final name and renamed over it, so a web server or a
person reading the directory never sees half a page.
"""

from __future__ import annotations

import html
import json
import os
import re
from pathlib import Path

from cpython_static.core.fsutil import atomic_write
from cpython_static.core.runner import tail_of
from cpython_static.series.mirror import tag_version

PAGES = ("index.md", "index.json", "index.html")


def rows(state: dict) -> list[dict]:
    """One row per (tag, target), newest release first, then by target."""
    out = []
    for tag in sorted(state["results"], key=tag_version, reverse=True):
        for target in sorted(state["results"][tag]):
            e = state["results"][tag][target]
            regen = e.get("regen") or {}
            build, verify = e.get("build") or {}, e.get("verify") or {}
            failure = e.get("failure") or {}
            out.append(
                {
                    "tag": tag,
                    "target": target,
                    "status": e["status"],
                    "patches": [
                        {"name": p["name"], "status": p["status"], "detail": p.get("detail", "")}
                        for p in e.get("patches") or []
                    ],
                    "fidelity": _fidelity(regen),
                    "regenerated": regen.get("regenerated"),
                    "build": _verdict(build, e["status"]),
                    "verify": _verdict(verify, e["status"]),
                    "stdlib_tests": _suite(e.get("stdlib_tests"), e["status"]),
                    "duration_s": e.get("duration_s"),
                    "finished": e.get("finished") or e.get("started"),
                    "failed_step": failure.get("step"),
                    "failure_report": failure.get("report"),
                }
            )
    return out


def _fidelity(regen: dict) -> str:
    if not regen:
        return "-"
    verdict = "identical" if regen.get("fidelity") else "DIFFERS"
    return f"autoconf {regen.get('autoconf', '?')}: {verdict}"


def _verdict(result: dict, status: str) -> str:
    if status == "running":
        return "running"
    if not result or result.get("skipped"):
        return "-"
    if result.get("ok"):
        return "ok (cached)" if result.get("cached") else "ok"
    return "FAILED"


def _suite(result: dict | None, status: str) -> str:
    """The 'stdlib tests' cell: how CPython's own suite went with the tag's file."""
    if status == "running":
        return "running"
    if not result:
        return "-"
    if result.get("skipped"):
        return f"- ({result['why']})"
    if "error" in result:
        return f"FAILED: {result['error']}"
    scope = "" if result.get("tests") == "all" else f" (only {', '.join(result['tests'])})"
    listed = sum(result.get("expected_by_kind", {}).values())
    files = f"{result['ran']} file{'s' if result['ran'] != 1 else ''}"
    if result["ok"]:
        return f"ok: {files}, {listed} listed{scope}"
    said = (
        [f"{len(result['unexpected'])} unexpected ({', '.join(result['unexpected'])})"] if result["unexpected"] else []
    )
    said += [f"{len(result['stale'])} stale ({', '.join(result['stale'])})"] if result["stale"] else []
    return f"FAILED: {'; '.join(said)} of {files}{scope}"


def _short(name: str) -> str:
    """0002-ctypes-importable-without-dlopen.patch -> 0002 (the full name is in the JSON)."""
    return name.split("-", 1)[0]


def _link(report: str | None, directory: Path | None) -> str | None:
    return os.path.relpath(report, directory) if report and directory else None


def render_markdown(state: dict, directory: Path | None = None) -> str:
    lines = [
        "# cpython-static: CPython releases, rebased, built and verified",
        "",
        f"Upstream: {state.get('upstream', '?')}",
        "",
        "| tag | target | result | patches | configure regeneration | build | verify | stdlib tests | seconds "
        "| finished |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows(state):
        patches = ", ".join(f"{_short(p['name'])} {p['status']}" for p in r["patches"]) or "-"
        result = r["status"] if not r["failed_step"] else f"failed at {r['failed_step']}"
        link = _link(r["failure_report"], directory)
        if link:
            result = f"[{result}]({link})"
        regen = r["fidelity"] + (", regenerated" if r["regenerated"] else "")
        lines.append(
            f"| {r['tag']} | {r['target']} | {result} | {patches} | {regen} | {r['build']} | "
            f"{r['verify']} | {r['stdlib_tests']} | {r['duration_s'] if r['duration_s'] is not None else '-'} | {r['finished'] or '-'} |"
        )
    if not state["results"]:
        lines.append("| (no release processed yet) | | | | | | | | | |")
    lines.append("")
    return "\n".join(lines)


_CSS = """body{font:14px/1.4 system-ui,sans-serif;margin:2em}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#f4f4f4}.ok{background:#e6f6e6}.failed{background:#fbe3e3}.running{background:#fff6d6}
small{color:#555}"""


def render_html(state: dict, directory: Path | None = None) -> str:
    e = html.escape
    body = []
    for r in rows(state):
        patches = (
            "<br>".join(
                f"{e(_short(p['name']))} {e(p['status'])}"
                + (f" <small>{e(p['detail'])}</small>" if p["detail"] else "")
                for p in r["patches"]
            )
            or "-"
        )
        result = e(r["status"] if not r["failed_step"] else f"failed at {r['failed_step']}")
        link = _link(r["failure_report"], directory)
        if link:
            result = f'<a href="{e(link)}">{result}</a>'
        regen = e(r["fidelity"]) + (", regenerated" if r["regenerated"] else "")
        cls = {"ok": "ok", "failed": "failed"}.get(r["status"], "running")
        cells = [
            e(r["tag"]),
            e(r["target"]),
            result,
            patches,
            regen,
            e(r["build"]),
            e(r["verify"]),
            e(r["stdlib_tests"]),
            e(str(r["duration_s"] if r["duration_s"] is not None else "-")),
            e(r["finished"] or "-"),
        ]
        body.append(f'<tr class="{cls}">' + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    if not body:
        body.append('<tr><td colspan="10">no release processed yet</td></tr>')
    head = "".join(
        f"<th>{h}</th>"
        for h in (
            "tag",
            "target",
            "result",
            "patches",
            "configure regeneration",
            "build",
            "verify",
            "stdlib tests",
            "seconds",
            "finished",
        )
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        "<title>cpython-static: release status</title>"
        f"<style>{_CSS}</style></head><body>\n"
        "<h1>CPython releases, rebased, built and verified</h1>\n"
        f"<p>Upstream: {e(state.get('upstream', '?'))}</p>\n"
        f"<table><thead><tr>{head}</tr></thead><tbody>\n" + "\n".join(body) + "\n</tbody></table>\n"
        "</body></html>\n"
    )


def write(directory: Path, state: dict) -> list[str]:
    directory.mkdir(parents=True, exist_ok=True)
    texts = {
        "index.md": render_markdown(state, directory),
        "index.json": json.dumps({"upstream": state.get("upstream"), "rows": rows(state)}, indent=2) + "\n",
        "index.html": render_html(state, directory),
    }
    written = []
    for name in PAGES:
        atomic_write(directory / name, texts[name])
        written.append(str(directory / name))
    return written


def render_failure(tag: str, target: str, entry: dict) -> str:

    failure = entry.get("failure") or {}
    command, log, errors, tail = failure_details(entry)
    lines = [
        f"# Static build of CPython {tag} fails at {failure.get('step', '?')} ({target})",
        "",
        f"- tag: `{tag}`",
        f"- target: `{target}`",
        f"- failing step: **{failure.get('step', '?')}**",
        f"- what happened: {failure.get('message', '?')}",
    ]
    if command:
        lines.append(f"- command: `{command}`")
    if log:
        lines.append(f"- log: `{log}`")
    if entry.get("patches"):
        lines += ["", "| patch | status | detail |", "|---|---|---|"]
        lines += [f"| {p['name']} | {p['status']} | {p.get('detail', '')} |" for p in entry["patches"]]
    regen = entry.get("regen") or {}
    if regen:
        lines += [
            "",
            f"Configure regeneration: {_fidelity(regen)}" + (f" ({regen['detail']})" if regen.get("detail") else ""),
        ]
    if errors:
        lines += ["", "Error lines in the log:", "", "```", *errors, "```"]
    if tail:
        lines += ["", "Last lines of the log (long lines shortened to their ends):", "", "```", tail, "```"]
    lines += [
        "",
        f"Reproduce: `cpython-static watch --tag {tag} --target {target} --retry` with this "
        f"watcher's `--upstream` and `--state`, or `cpython-static rebase {tag}`.",
        "",
    ]
    return "\n".join(lines)


def write_failure(directory: Path, tag: str, target: str, entry: dict) -> Path:
    path = directory / "failures" / f"{tag}-{target}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write(path, render_failure(tag, target, entry))


# ---------------------------------------------------------------- failure details
FAILURE_TAIL_LINES = 40
_ERROR_LINE = re.compile(r"(\berror:|\bError \d+|\*\*\*|No rule to make target|undefined reference|cannot find -l)")
LONG_LINE = 300  # compiler command lines run to kilobytes; the report shows their ends


def failure_details(entry: dict) -> tuple[str | None, str | None, list[str], str]:
    """(command, log, error lines, last lines) of a failed entry's failing step, from its log."""
    failure = entry.get("failure") or {}
    log = failure.get("log")
    command = failure.get("command")
    errors: list[str] = []
    tail = ""
    if log and Path(log).is_file():
        with open(log, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("# command: "):
                    command = command or line[len("# command: ") :].strip()
                    break
        lines = tail_of(Path(log), 2000).splitlines()
        errors = list(dict.fromkeys(_clip(l) for l in lines if _ERROR_LINE.search(l) and not l.startswith("#")))[-10:]
        tail = "\n".join(_clip(l) for l in lines[-FAILURE_TAIL_LINES:])
    return command, log, errors, tail


def _clip(line: str) -> str:
    return line if len(line) <= LONG_LINE else f"[{len(line) - LONG_LINE} chars] …" + line[-LONG_LINE:]
