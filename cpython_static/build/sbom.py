"""The software bill of materials of a published file: an SPDX 2.3 JSON document.

Every component the file carries, with its version, licence (the lock's SPDX
expression: what ends up in the binary) and source digest: CPython, each C library
linked in, tzdata and pip (wheels in the archive), and the third-party distributions
`build --with` and `pack` add.  The document goes beside the file
(``python3.13.spdx.json``, ``mytool.spdx.json``); ``verify`` reads it back and checks
it against what the interpreter reports about itself (``sbom`` check).

CPython, the package the document DESCRIBES (the interpreter as built: it CONTAINS the
rest), declares its own licence (PSF-2.0) and concludes the licence of the file as a
whole: every component's, joined by AND (each governs its part).  With GNU readline and
gdbm linked in, that starts with GPL-3.0-or-later; `build --no-gpl`'s file has only
permissive ones, and the document names its variant (verify's ``variant`` check).

Reproducible: no date or random namespace; "created" is the fixed date the build
stamps into the interpreter too (SOURCE_DATE_EPOCH-style), the namespace is derived
from the interpreter's cache key.
"""

from __future__ import annotations

import email.parser
import json
import re
from pathlib import Path

from cpython_static.core.cache import digest_of, sha256_file
from cpython_static.core.fsutil import atomic_write
from cpython_static.versions import DEFAULT_VARIANT, get_variant

CREATED = "2000-01-01T00:00:00Z"  # what the interpreter's build date says too ("Jan  1 2000")
NAMESPACE = "https://cpython-static.invalid/spdx"  # a URI by SPDX's rule, naming no real host
# Licences of what the archive carries that the lock does not list (the wheels' own metadata).
PIP_LICENSE = "MIT"
# GNU readline and gdbm are GPL-3.0-or-later: a file linking them is distributed under the GPL.
GPL = re.compile(r"\bGPL-")


# Trove classifiers that name exactly one SPDX licence: what a distribution without
# License-Expression (markdown-it-py, mdurl) still says.  "BSD License" or "Apache Software
# License" name no version or clause count, so they are not here: NOASSERTION beats a guess.
CLASSIFIER_LICENCES = {
    "MIT License": "MIT",
    "MIT No Attribution License (MIT-0)": "MIT-0",
    "ISC License (ISCL)": "ISC",
    "Python Software Foundation License": "PSF-2.0",
    "Mozilla Public License 2.0 (MPL 2.0)": "MPL-2.0",
    "The Unlicense (Unlicense)": "Unlicense",
    "Zero-Clause BSD (0BSD)": "0BSD",
    "GNU General Public License v2 (GPLv2)": "GPL-2.0-only",
    "GNU General Public License v3 (GPLv3)": "GPL-3.0-only",
    "GNU General Public License v3 or later (GPLv3+)": "GPL-3.0-or-later",
    "GNU Lesser General Public License v3 or later (LGPLv3+)": "LGPL-3.0-or-later",
}


def metadata_licence(metadata: str) -> str | None:
    """A distribution's licence as its METADATA states it: License-Expression (PEP 639),
    else a one-line License field, else its licence classifiers when each names one SPDX
    licence (joined by AND); None when it says nothing usable."""
    fields = email.parser.HeaderParser().parsestr(metadata)
    if expr := fields.get("License-Expression"):
        return expr.strip()
    # A License field of many words or lines is the licence's text pasted in, not its name.
    text = (fields.get("License") or "").strip()
    if text and "\n" not in text and len(text) <= 40 and text.upper() not in {"UNKNOWN", "NONE"}:
        return text
    named = [c.rsplit(" :: ", 1)[-1] for c in fields.get_all("Classifier", []) if c.startswith("License :: ")]
    spdx = [CLASSIFIER_LICENCES.get(n) for n in named]
    if spdx and all(spdx):
        return " AND ".join(sorted(set(spdx)))
    return None


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
    variant = (
        ""
        if built.variant == DEFAULT_VARIANT
        else f"; build variant {built.variant}: {get_variant(built.variant).summary}"
    )
    packages = [
        _package(
            "CPython",
            built.version,
            cpython.license,
            cpython.sha256,
            cpython.urls[0] if cpython.urls else None,
            f"the interpreter, built for {built.target} with patches {', '.join(built.patches) or 'none'}{variant}",
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
    packages[0]["licenseConcluded"] = file_licence(packages)
    gpl = [p["name"] for p in packages if GPL.search(p["licenseDeclared"])]
    return {
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": name
        or f"cpython-static CPython {built.version} {built.target}"
        + ("" if built.variant == DEFAULT_VARIANT else f" ({built.variant})"),
        "documentNamespace": f"{NAMESPACE}/{digest_of({'cpython': built.key, 'packages': packages})}",
        "creationInfo": {"created": CREATED, "creators": ["Tool: cpython-static"]},
        "comment": (
            f"GPL-licensed components are linked in ({', '.join(gpl)}): the file as a whole "
            "is distributed under the GPL"
            if gpl
            else "no GPL component is linked in"
        )
        + ("" if built.variant == DEFAULT_VARIANT else f" (build variant {built.variant})"),
        "packages": packages,
        "relationships": [
            {"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES", "relatedSpdxElement": root}
        ]
        + [
            {"spdxElementId": root, "relationshipType": "CONTAINS", "relatedSpdxElement": p["SPDXID"]}
            for p in packages[1:]
        ],
    }


def file_licence(packages: list[dict]) -> str:
    """The licence of the file as a whole: every component's, joined by AND, GPL ones first
    (they govern the whole); NOASSERTION when one component's is unknown."""
    terms: list[str] = []
    for p in packages:
        expr = p["licenseDeclared"]
        if expr == "NOASSERTION":
            return "NOASSERTION"
        simple = "(" not in expr and " OR " not in expr
        terms += expr.split(" AND ") if simple else [f"({expr})"]
    return " AND ".join(sorted(set(terms), key=lambda t: (not GPL.search(t), t)))


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


# -- licence texts ----------------------------------------------------------------------
# A licence file at a source's top (or a wheel's dist-info): LICENSE, LICENCE.txt,
# COPYING.LIB, COPYRIGHT, NOTICE …
LICENSE_FILE = re.compile(r"^(LICEN[CS]E|COPYING|COPYRIGHT|NOTICE)([._-][\w.-]*)?$", re.I)
LICENSES_FORMAT = 2  # bump to extract every source's licence texts again


def licenses_path(binary: Path) -> Path:
    return binary.with_name(binary.name + ".licenses.txt")


def tarball_licenses(path: Path) -> list[tuple[str, str]]:
    """(member name, text) of the licence files at a source tarball's top directory."""
    import tarfile

    found = []
    with tarfile.open(path) as tar:
        for member in tar:
            parts = member.name.split("/")
            if member.isfile() and len(parts) == 2 and LICENSE_FILE.match(parts[1]):
                found.append((member.name, tar.extractfile(member).read().decode("utf-8", "replace")))
    return sorted(found)


def wheel_licenses(path: Path) -> list[tuple[str, str]]:
    """Licence files of a wheel: its dist-info's, and those of what it vendors (pip)."""
    import zipfile

    with zipfile.ZipFile(path) as whl:
        names = [n for n in whl.namelist() if LICENSE_FILE.match(n.rsplit("/", 1)[-1])]
        # The dist-info's (PEP 639: vendored projects' under licenses/ too), else the
        # vendored projects' own files.
        chosen = [n for n in names if ".dist-info/" in n] or [n for n in names if "/_vendor/" in n]
        return sorted((n, whl.read(n).decode("utf-8", "replace")) for n in chosen)


def tree_licenses(tree: Path, name: str) -> list[tuple[str, str]]:
    """Licence files in an installed distribution's dist-info (pip --target's)."""
    found = []
    for info in tree.glob("*.dist-info"):
        if re.sub(r"[-_.]+", "-", info.name.split("-")[0]).lower() != name:
            continue
        for f in sorted(info.rglob("*")):
            if f.is_file() and LICENSE_FILE.match(f.name):
                found.append((str(f.relative_to(tree)), f.read_text(errors="replace")))
    return found


def cached_licenses(cache, key: str, extract) -> list[tuple[str, str]]:
    """``extract()``'s result, kept once per source digest (a CPython tarball takes
    seconds to scan)."""

    def produce(stage: Path, final: Path) -> dict:
        (stage / "licenses.json").write_text(json.dumps(extract()))
        return {"source": key}

    entry = cache.build("licenses", digest_of({"format": LICENSES_FORMAT, "source": key}), produce)
    return [tuple(x) for x in json.loads((entry.path / "licenses.json").read_text())]


def licenses_text(doc: dict, texts: dict[str, list[tuple[str, str]]]) -> str:
    """One text: per SBOM package a header (name, version, licence), then its files."""
    whole = doc["packages"][0].get("licenseConcluded", "NOASSERTION") if doc["packages"] else "NOASSERTION"
    out = [
        f"Licence texts of what {doc['name']} carries, one section per component of its SBOM "
        f"({len(doc['packages'])} components). {doc.get('comment', '')}. The file as a whole: {whole}.\n"
    ]
    for pkg in doc["packages"]:
        files = texts.get(pkg["name"], [])
        out.append(f"\n==== {pkg['name']} {pkg['versionInfo']} ({pkg['licenseDeclared']})\n")
        if not files:
            out.append("(no licence file found in its source; see its licence expression above)\n")
        for name, text in files:
            out.append(f"\n---- {name}\n\n{text.rstrip()}\n")
    return "".join(out)


def write_licenses(binary: Path, text: str) -> Path:
    return atomic_write(licenses_path(binary), text)


def gather_licenses(
    cache, fetcher, lock, built, *, libraries: list = (), sdists: dict | None = None, trees: list = ()
) -> dict[str, list[tuple[str, str]]]:
    """Component name (as the SBOM lists it) -> its licence files: from the pinned source
    tarballs (CPython, each C library), the wheels (tzdata, pip and what pip vendors), the
    added sdists (``sdists``: name -> tarball) and installed trees (``pack``'s wheels)."""
    texts: dict[str, list[tuple[str, str]]] = {}

    def from_source(name: str, src) -> None:
        try:
            path = fetcher.fetch(src)
        except Exception:  # noqa: BLE001 - a source that cannot be had now: its section says so
            return
        texts[name] = cached_licenses(cache, src.sha256, lambda: tarball_licenses(path))

    from_source("CPython", lock.get("cpython", built.version))
    for lib in [*built.libraries, *libraries]:
        src = lock.get("lib", lib.recipe.source)
        from_source(src.name, src)
    tzdata = lock.get("wheel", "tzdata")
    path = fetcher.fetch(tzdata)
    texts["tzdata"] = cached_licenses(cache, tzdata.sha256, lambda: wheel_licenses(path))
    lib_dir = built.prefix / "lib" / f"python{'.'.join(built.version.split('.')[:2])}"
    for wheel in sorted((lib_dir / "ensurepip" / "_bundled").glob("pip-*.whl"))[-1:]:
        texts["pip"] = cached_licenses(cache, sha256_file(wheel), lambda: wheel_licenses(wheel))
    for name, tarball in (sdists or {}).items():
        texts[name] = cached_licenses(cache, sha256_file(tarball), lambda: tarball_licenses(tarball))
    for tree in trees:
        for info in tree.glob("*.dist-info"):
            name = re.sub(r"[-_.]+", "-", info.name.split("-")[0]).lower()
            texts.setdefault(name, tree_licenses(tree, name))
    return texts
