"""The software bill of materials of a published file: an SPDX 2.3 JSON document.

Every component the file carries, with its version, licence (the lock's SPDX
expression: what ends up in the binary) and source digest: CPython, each C library
linked in, tzdata and pip (wheels in the archive), and the third-party distributions
`build --with` and `pack` add.  The document goes beside the file
(``python3.13.spdx.json``, ``mytool.spdx.json``); ``verify`` reads it back and checks
it against what the interpreter reports about itself (``sbom`` check).

Reproducible: no date or random namespace; "created" is the fixed date the build
stamps into the interpreter too (SOURCE_DATE_EPOCH-style), the namespace is derived
from the interpreter's cache key.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from cpython_static.core.cache import digest_of, sha256_file
from cpython_static.core.fsutil import atomic_write

CREATED = "2000-01-01T00:00:00Z"  # what the interpreter's build date says too ("Jan  1 2000")
NAMESPACE = "https://cpython-static.invalid/spdx"  # a URI by SPDX's rule, naming no real host
# Licences of what the archive carries that the lock does not list (the wheels' own metadata).
PIP_LICENSE = "MIT"
# GNU readline and gdbm are GPL-3.0-or-later: a file linking them is distributed under the GPL.
GPL = re.compile(r"\bGPL-")


def sbom_path(binary: Path) -> Path:
    return binary.with_name(binary.name + ".spdx.json")


def _spdx_id(name: str) -> str:
    return "SPDXRef-Package-" + re.sub(r"[^A-Za-z0-9.-]+", "-", name)


def _package(name: str, version: str, license: str, sha256: str | None, url: str | None, supplier_note: str) -> dict:
    pkg = {
        "SPDXID": _spdx_id(name),
        "name": name,
        "versionInfo": version,
        "downloadLocation": url or "NOASSERTION",
        "licenseConcluded": license or "NOASSERTION",
        "licenseDeclared": license or "NOASSERTION",
        "copyrightText": "NOASSERTION",
        "filesAnalyzed": False,
        "comment": supplier_note,
    }
    if sha256:
        pkg["checksums"] = [{"algorithm": "SHA256", "checksumValue": sha256}]
    return pkg


def document(built, lock, *, distributions: list[dict] = (), libraries: list = (), name: str | None = None) -> dict:
    """The SPDX document for ``built`` (a cpython.BuiltPython) published with ``lock``'s
    sources; ``distributions``: {name, version, sha256, license} of added packages;
    ``libraries``: the C libraries their extensions link (libyaml for PyYAML)."""
    cpython = lock.get("cpython", built.version)
    packages = [
        _package(
            "CPython",
            built.version,
            cpython.license,
            cpython.sha256,
            cpython.urls[0] if cpython.urls else None,
            f"the interpreter, built for {built.target} with patches {', '.join(built.patches) or 'none'}",
        )
    ]
    seen = set()
    for lib in [*built.libraries, *libraries]:
        if lib.recipe.name in seen:
            continue
        seen.add(lib.recipe.name)
        src = lock.get("lib", lib.recipe.source)
        packages.append(
            _package(
                src.name,
                src.version,
                src.license,
                src.sha256,
                src.urls[0] if src.urls else None,
                f"C library, statically linked (recipe {lib.recipe.name})",
            )
        )
    tzdata = lock.get("wheel", "tzdata")
    packages.append(
        _package("tzdata", tzdata.version, tzdata.license, tzdata.sha256, None, "time zones, in the file's archive")
    )
    if pip := bundled_pip(built):
        packages.append(
            _package("pip", pip[0], PIP_LICENSE, pip[1], None, "ensurepip's bundled wheel, in the standard library")
        )
    for dist in distributions:
        packages.append(
            _package(
                dist["name"],
                dist["version"],
                dist.get("license") or "NOASSERTION",
                dist.get("sha256"),
                None,
                "third-party distribution in the file's archive"
                + (f"; built in: {', '.join(dist['modules'])}" if dist.get("modules") else ""),
            )
        )
    root = packages[0]["SPDXID"]
    licences = sorted({p["licenseDeclared"] for p in packages})
    return {
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": name or f"cpython-static CPython {built.version} {built.target}",
        "documentNamespace": f"{NAMESPACE}/{digest_of({'cpython': built.key, 'packages': packages})}",
        "creationInfo": {"created": CREATED, "creators": ["Tool: cpython-static"]},
        "comment": (
            "GPL-3.0-or-later components are linked in (GNU readline, gdbm): the file as a whole "
            "is distributed under the GPL"
            if any(GPL.search(lic) for lic in licences)
            else "no GPL component is linked in"
        ),
        "packages": packages,
        "relationships": [
            {"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES", "relatedSpdxElement": root}
        ]
        + [
            {"spdxElementId": root, "relationshipType": "CONTAINS", "relatedSpdxElement": p["SPDXID"]}
            for p in packages[1:]
        ],
    }


def bundled_pip(built) -> tuple[str, str] | None:
    """(version, sha256) of ensurepip's pip wheel in ``built``'s standard library."""
    lib = built.prefix / "lib" / f"python{'.'.join(built.version.split('.')[:2])}"
    wheels = sorted((lib / "ensurepip" / "_bundled").glob("pip-*.whl"))
    if not wheels:
        return None
    return wheels[-1].name.split("-")[1], sha256_file(wheels[-1])


def write(binary: Path, doc: dict) -> Path:
    return atomic_write(sbom_path(binary), json.dumps(doc, indent=2, sort_keys=True) + "\n")


def versions_of(doc: dict) -> dict[str, str]:
    """Component name -> version, as the document lists them."""
    return {p["name"]: p["versionInfo"] for p in doc.get("packages", [])}
