"""build/sbom.py's SPDX document from the real lock, and verify's sbom verdict."""

import json
from pathlib import Path
from types import SimpleNamespace

from cpython_static.build import sbom
from cpython_static.build.sources import load_lock
from cpython_static.verify.checks import sbom_verdict
from cpython_static.versions import get_variant


def built(tmp_path, libs=("zlib", "openssl", "readline"), variant="default"):
    prefix = tmp_path / "install"
    bundled = prefix / "lib" / "python3.13" / "ensurepip" / "_bundled"
    bundled.mkdir(parents=True)
    (bundled / "pip-26.2.1-py3-none-any.whl").write_bytes(b"a wheel")
    libraries = [SimpleNamespace(recipe=SimpleNamespace(name=n, source=n)) for n in libs]
    return SimpleNamespace(
        version="3.13.15",
        target="x86_64-linux-musl",
        key="k" * 64,
        prefix=prefix,
        patches=["0002"],
        libraries=libraries,
        variant=variant,
    )


def test_document_lists_every_component_with_licence_and_digest(tmp_path):
    lock = load_lock()
    yaml_lib = SimpleNamespace(recipe=SimpleNamespace(name="libyaml", source="libyaml"))
    doc = sbom.document(
        built(tmp_path),
        lock,
        distributions=[
            {"name": "pyyaml", "version": "6.0.4", "sha256": "e2" * 32, "license": "MIT", "modules": ["yaml._yaml"]}
        ],
        libraries=[yaml_lib, yaml_lib],
    )
    names = [p["name"] for p in doc["packages"]]
    assert names == ["CPython", "zlib", "openssl", "readline", "libyaml", "tzdata", "pip", "pyyaml"]
    by = {p["name"]: p for p in doc["packages"]}
    assert by["CPython"]["checksums"][0]["checksumValue"] == lock.get("cpython", "3.13.15").sha256
    assert by["openssl"]["licenseDeclared"] == lock.get("lib", "openssl").license
    assert by["pip"]["versionInfo"] == "26.2.1" and by["pyyaml"]["comment"].endswith("built in: yaml._yaml")
    assert "GPL" in doc["comment"] and doc["spdxVersion"] == "SPDX-2.3"
    assert len(doc["relationships"]) == len(names)
    # Reproducible: no date, no random namespace.
    again = sbom.document(built(tmp_path / "2"), lock, distributions=[], libraries=[])
    assert again["creationInfo"]["created"] == sbom.CREATED
    assert again["documentNamespace"] == sbom.document(built(tmp_path / "3"), lock)["documentNamespace"]


def test_without_gpl_components_says_so(tmp_path):
    doc = sbom.document(built(tmp_path, libs=("zlib",)), load_lock())
    assert doc["comment"] == "no GPL component is linked in"


def test_the_file_as_a_whole_concludes_every_licence_gpl_first(tmp_path):
    lock = load_lock()
    doc = sbom.document(built(tmp_path, libs=("zlib", "readline", "gdbm", "ncurses")), lock)
    cpython = doc["packages"][0]
    assert cpython["licenseDeclared"] == "PSF-2.0"  # CPython's own; concluded: the file's
    assert cpython["licenseConcluded"] == "GPL-3.0-or-later AND Apache-2.0 AND MIT AND PSF-2.0 AND X11 AND Zlib"
    assert doc["comment"].startswith("GPL-licensed components are linked in (readline, gdbm)")
    no_gpl = sbom.document(built(tmp_path / "v", libs=("zlib", "libedit", "ncurses"), variant="no-gpl"), lock)
    # libedit's own AND is flattened into the whole; nothing GPL is left.
    assert no_gpl["packages"][0]["licenseConcluded"] == (
        "Apache-2.0 AND BSD-2-Clause AND BSD-3-Clause AND MIT AND PSF-2.0 AND X11 AND Zlib"
    )
    assert no_gpl["name"].endswith("x86_64-linux-musl (no-gpl)")
    assert no_gpl["comment"] == "no GPL component is linked in (build variant no-gpl)"
    assert no_gpl["packages"][0]["comment"].endswith("; build variant no-gpl: " + get_variant("no-gpl").summary)
    assert sbom.file_licence([{"licenseDeclared": "MIT OR Apache-2.0"}, {"licenseDeclared": "MIT"}]) == (
        "(MIT OR Apache-2.0) AND MIT"
    )
    assert sbom.file_licence([{"licenseDeclared": "MIT"}, {"licenseDeclared": "NOASSERTION"}]) == "NOASSERTION"


def test_write_puts_it_beside_the_file(tmp_path):
    binary = tmp_path / "python3.13"
    binary.write_bytes(b"")
    path = sbom.write(binary, {"packages": []})
    assert path == tmp_path / "python3.13.spdx.json" and json.loads(path.read_text()) == {"packages": []}


def test_sbom_verdict():
    doc = {
        "packages": [
            {"name": "CPython", "versionInfo": "3.13.15"},
            {"name": "openssl", "versionInfo": "3.5.7"},
            {"name": "gdbm", "versionInfo": "1.24"},
            {"name": "ncurses", "versionInfo": "6.5-20250216"},
        ]
    }
    ok, detail = sbom_verdict(doc, "3.13.15", {"openssl": "3.5.7", "gdbm": "1.24.0", "ncurses": "6.5-20250216"})
    assert ok and "4 components" in detail
    ok, detail = sbom_verdict(doc, "3.13.15", {"openssl": "3.0.2", "sqlite": "3.46.1"})
    assert not ok and "openssl 3.0.2 (SBOM: 3.5.7)" in detail and "sqlite 3.46.1 is linked in but not listed" in detail
    ok, detail = sbom_verdict(doc, "3.13.5", {})
    assert not ok and "CPython 3.13.5 (SBOM: 3.13.15)" in detail
    assert not sbom_verdict(doc, "3.13.15", {"openssl": "3.5.70"})[0]
    assert Path(sbom.sbom_path(Path("/x/mytool"))) == Path("/x/mytool.spdx.json")


def test_licence_files_from_tarballs_wheels_and_trees(tmp_path):
    import io
    import tarfile
    import zipfile

    tarball = tmp_path / "zlib-1.3.1.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        for name, text in (
            ("zlib-1.3.1/LICENSE", "zlib licence"),
            ("zlib-1.3.1/README", "no"),
            ("zlib-1.3.1/contrib/LICENSE", "deep"),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(text)
            tar.addfile(info, io.BytesIO(text.encode()))
    assert sbom.tarball_licenses(tarball) == [("zlib-1.3.1/LICENSE", "zlib licence")]
    wheel = tmp_path / "pip-1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as whl:
        whl.writestr("pip-1.dist-info/licenses/LICENSE.txt", "MIT")
        whl.writestr("pip/_vendor/idna/LICENSE.md", "BSD")
        whl.writestr("pip/__init__.py", "")
    assert sbom.wheel_licenses(wheel) == [("pip-1.dist-info/licenses/LICENSE.txt", "MIT")]
    tree = tmp_path / "site"
    (tree / "click-8.5.1.dist-info" / "licenses").mkdir(parents=True)
    (tree / "click-8.5.1.dist-info" / "licenses" / "LICENSE.txt").write_text("BSD-3")
    assert sbom.tree_licenses(tree, "click") == [("click-8.5.1.dist-info/licenses/LICENSE.txt", "BSD-3")]
    doc = {
        "name": "x",
        "comment": "c",
        "packages": [
            {"name": "zlib", "versionInfo": "1.3.1", "licenseDeclared": "Zlib"},
            {"name": "mdurl", "versionInfo": "0.1.2", "licenseDeclared": "NOASSERTION"},
        ],
    }
    text = sbom.licenses_text(doc, {"zlib": sbom.tarball_licenses(tarball)})
    assert "==== zlib 1.3.1 (Zlib)\n\n---- zlib-1.3.1/LICENSE\n\nzlib licence\n" in text
    assert "==== mdurl 0.1.2 (NOASSERTION)\n(no licence file found" in text


def test_metadata_licence_reads_the_expression_a_short_field_or_exact_classifiers():
    head = "Metadata-Version: 2.1\nName: x\n"
    assert sbom.metadata_licence(head + "License-Expression: BSD-3-Clause\nLicense: BSD\n") == "BSD-3-Clause"
    assert sbom.metadata_licence(head + "License: MIT\n") == "MIT"
    # markdown-it-py 4.x and mdurl: only a classifier says MIT
    mit = "Classifier: License :: OSI Approved :: MIT License\nClassifier: Typing :: Typed\n"
    assert sbom.metadata_licence(head + mit) == "MIT"
    # a pasted licence text is not a statement; "BSD License" names no clause count
    pasted = "License: BSD 3-Clause License\n        \n        Copyright (c) 2009\n"
    bsd = "Classifier: License :: OSI Approved :: BSD License\n"
    assert sbom.metadata_licence(head + pasted + bsd) is None
    assert sbom.metadata_licence(head + "License: UNKNOWN\n") is None
    assert sbom.metadata_licence(head + mit + bsd) is None
