from pathlib import Path

import pytest

from cpython_static.build import debian

DEB822 = """\
Types: deb
URIs: http://archive.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://archive.example/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"""


def _apt(tmp_path, sources_list="", parts=None) -> Path:
    apt = tmp_path / "apt"
    (apt / "sources.list.d").mkdir(parents=True)
    (apt / "sources.list").write_text(sources_list)
    for name, text in (parts or {}).items():
        (apt / "sources.list.d" / name).write_text(text)
    return apt


def test_deb822_entries_give_deb_src_for_the_main_archive_only(tmp_path):
    apt = _apt(
        tmp_path,
        parts={
            "debian.sources": DEB822,
            "third.list": "deb https://vendor.example/apt cloud-sdk main\n",
            "off.sources.disabled": "Types: deb\nURIs: http://off\nSuites: sid\nComponents: main\n",
        },
    )
    text = debian.derive_deb_src(debian.read_entries(apt), ["trixie", "sid"])
    assert "Types: deb-src" in text
    assert "URIs: http://archive.example/debian\n" in text
    assert "Suites: bookworm bookworm-updates trixie sid" in text
    assert "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg" in text
    assert "security" not in text.split("\n", 1)[1] and "vendor.example" not in text


def test_one_line_format(tmp_path):
    apt = _apt(
        tmp_path,
        "deb [signed-by=/k.gpg] http://mirror.example/debian bullseye main contrib\n"
        "# deb http://commented.example/debian sid main\n",
    )
    text = debian.derive_deb_src(debian.read_entries(apt), ["bookworm"])
    assert "URIs: http://mirror.example/debian" in text and "Suites: bullseye bookworm" in text
    assert "Signed-By: /k.gpg" in text and "commented" not in text


def test_no_archive_is_a_clear_error(tmp_path):
    apt = _apt(tmp_path, parts={"vendor.list": "deb https://vendor.example/apt stable-x main\n"})
    with pytest.raises(debian.AptUnavailable, match="no Debian archive entry"):
        debian.derive_deb_src(debian.read_entries(apt), ["trixie"])


def test_this_machine_if_debian():
    if not Path("/etc/apt").is_dir():
        pytest.skip("not a Debian-family machine: no /etc/apt")
    text = debian.derive_deb_src(debian.read_entries(), ["trixie"])
    assert text.startswith("# derived by cpython-static") and "trixie" in text
