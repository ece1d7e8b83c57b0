"""Debian source packages as a source provider.

``deb-src`` entries are derived from the ``deb`` entries this machine already has under
/etc/apt: the same archive URIs, components and keyring, with the suites our lock needs
added.  Nothing in this repository names an archive host.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from cpython_static.core.fsutil import atomic_write
from cpython_static.core.runner import Runner, StepFailed

APT_DIR = Path("/etc/apt")
OUR_SOURCES = "cpython-static-src.sources"


class AptUnavailable(RuntimeError):
    pass


@dataclass
class AptEntry:
    types: list[str]
    uris: list[str]
    suites: list[str]
    components: list[str]
    signed_by: str | None = None
    origin: str = ""
    extra: dict[str, str] = field(default_factory=dict)


def _parse_deb822(text: str, origin: str) -> list[AptEntry]:
    entries = []
    for stanza in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        last = None
        for line in stanza.splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            if line[0] in " \t" and last:
                fields[last] += "\n" + line.strip()
                continue
            key, _, value = line.partition(":")
            last = key.strip().lower()
            fields[last] = value.strip()
        if "types" not in fields or fields.get("enabled", "yes").lower() == "no":
            continue
        entries.append(
            AptEntry(
                types=fields["types"].split(),
                uris=fields.get("uris", "").split(),
                suites=fields.get("suites", "").split(),
                components=fields.get("components", "").split(),
                signed_by=fields.get("signed-by"),
                origin=origin,
            )
        )
    return entries


def _parse_one_line(text: str, origin: str) -> list[AptEntry]:
    entries = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        m = re.match(r"^(deb|deb-src)\s+(\[[^\]]*\]\s+)?(\S+)\s+(\S+)\s*(.*)$", line)
        if not m:
            continue
        opts = dict(o.split("=", 1) for o in (m.group(2) or "").strip(" []").split() if "=" in o)
        entries.append(
            AptEntry(
                types=[m.group(1)],
                uris=[m.group(3)],
                suites=[m.group(4)],
                components=m.group(5).split(),
                signed_by=opts.get("signed-by"),
                origin=origin,
            )
        )
    return entries


def read_entries(apt_dir: Path = APT_DIR) -> list[AptEntry]:
    """Every enabled apt entry (both formats), skipping files apt itself ignores."""
    entries: list[AptEntry] = []
    main = apt_dir / "sources.list"
    if main.is_file():
        entries += _parse_one_line(main.read_text(), str(main))
    d = apt_dir / "sources.list.d"
    if d.is_dir():
        for f in sorted(d.iterdir()):
            if f.name == OUR_SOURCES:
                continue
            if f.suffix == ".list":
                entries += _parse_one_line(f.read_text(), str(f))
            elif f.suffix == ".sources":
                entries += _parse_deb822(f.read_text(), str(f))
    return entries


def debian_archive_entries(entries: list[AptEntry]) -> list[AptEntry]:
    """The ``deb`` entries of the main Debian archive: those with a plain codename suite.

    Security and update pockets (``bookworm-security``, ``-updates``) and third-party
    repositories (``nodistro``, ``cloud-sdk-…``) do not carry other releases' sources.
    """
    codename = re.compile(r"^[a-z]+$")
    out = []
    for e in entries:
        if "deb" not in e.types:
            continue
        if any(codename.match(s) for s in e.suites) and "main" in e.components:
            out.append(e)
    return out


def derive_deb_src(entries: list[AptEntry], suites: list[str]) -> str:
    """The deb822 text of deb-src entries for ``suites`` on the machine's own archive."""
    archives = debian_archive_entries(entries)
    if not archives:
        raise AptUnavailable(
            "no Debian archive entry found under /etc/apt (looked for a 'deb' entry with a "
            "plain codename suite and the 'main' component) to derive deb-src lines from"
        )
    stanzas = []
    seen = set()
    for e in archives:
        key = tuple(e.uris)
        if key in seen:
            continue
        seen.add(key)
        wanted = list(dict.fromkeys([*e.suites, *suites]))
        lines = [
            "Types: deb-src",
            f"URIs: {' '.join(e.uris)}",
            f"Suites: {' '.join(wanted)}",
            "Components: main",
        ]
        if e.signed_by:
            lines.append(f"Signed-By: {e.signed_by}")
        stanzas.append("# derived by cpython-static from " + e.origin + "\n" + "\n".join(lines))
    return "\n\n".join(stanzas) + "\n"


def ensure_deb_src(runner: Runner, suites: list[str], apt_dir: Path = APT_DIR) -> Path:
    """Make sure apt knows the source packages of ``suites``; returns the sources file.

    Writes (only when its content changes) our own file under sources.list.d and runs
    ``apt-get update`` then.  Needs root and apt; says clearly when either is missing.
    """
    if shutil.which("apt-get") is None:
        raise AptUnavailable("apt-get is not installed: the Debian source provider needs apt")
    target = apt_dir / "sources.list.d" / OUR_SOURCES
    current = target.read_text() if target.exists() else None
    # Keep the suites asked for earlier: rewriting the file for each source would cost
    # an `apt-get update` per source.
    earlier = re.findall(r"^Suites:(.*)$", current or "", flags=re.M)
    wanted = [s for line in earlier for s in line.split()] + list(suites)
    text = derive_deb_src(read_entries(apt_dir), list(dict.fromkeys(wanted)))
    if current is not None and all(s in current.split() for s in suites):
        return target
    if current != text:
        if os.geteuid() != 0:
            raise AptUnavailable(
                f"the Debian source provider needs these deb-src entries in {target}, and "
                f"writing there needs root:\n{text}"
            )
        atomic_write(target, text)
        runner.run("apt-get update (deb-src)", ["apt-get", "update", "-q"])
    return target


def download_orig(runner: Runner, package: str, version: str, filename: str, dest: Path) -> Path:
    """``apt-get source --download-only package=version`` into ``dest``; returns the orig file.

    apt may fail *after* fetching the .orig (a .dsc or debian tarball missing from the
    pool): the orig left on disk is still offered to the caller, who accepts it only when
    its digest is the pinned one.
    """
    dest.mkdir(parents=True, exist_ok=True)
    # apt drops privileges to _apt for downloads; a directory it can write avoids a warning.
    shutil.chown(dest, user="_apt") if _has_apt_user() and os.geteuid() == 0 else None
    error: StepFailed | None = None
    try:
        runner.run(
            f"apt-get source {package}={version}",
            ["apt-get", "source", "--download-only", "-q", f"{package}={version}"],
            cwd=dest,
        )
    except StepFailed as exc:
        error = exc
    orig = dest / filename
    if orig.is_file():
        return orig
    if error:
        raise error
    raise FileNotFoundError(f"apt-get source gave no {filename} in {dest}")


def _has_apt_user() -> bool:
    try:
        import pwd

        pwd.getpwnam("_apt")
        return True
    except (KeyError, ImportError):
        return False
