import json
import subprocess
import sys


def cli(*args, **kw):
    return subprocess.run(
        [sys.executable, "-m", "cpython_static", *args], capture_output=True, text=True, timeout=120, **kw
    )


def test_help_teaches_each_command():
    top = cli("--help")
    assert top.returncode == 0
    for word in ("build", "verify", "sources", "CPYTHON_STATIC_CACHE"):
        assert word in top.stdout
    build = cli("build", "--help").stdout
    for word in ("--target", "--mirror", "--no-patches", "--json", "x86_64-linux-musl", "apt-get source"):
        assert word in build, word
    assert "qemu" in cli("verify", "--help").stdout


def test_unknown_version_lists_available():
    res = cli("build", "3.99.1")
    assert res.returncode == 2
    assert "available releases: 3.11.2, 3.13.5, 3.13.15" in res.stderr


def test_not_a_source_tree(tmp_path):
    res = cli("build", str(tmp_path))
    assert res.returncode == 2 and "not a CPython source tree" in res.stderr


def test_unknown_target_lists_supported():
    res = cli("build", "3.13.15", "--target", "mips64-linux-musl")
    assert res.returncode == 2
    assert "supported targets: aarch64-linux-musl, riscv64-linux-musl, x86_64-linux-musl" in res.stderr


def test_sources_list_json_is_the_lock():
    res = cli("sources", "list", "--json")
    rows = json.loads(res.stdout)
    names = {(r["kind"], r["name"]) for r in rows}
    assert ("lib", "openssl") in names and ("cpython", "3.13.15") in names
    assert all(len(r["sha256"]) == 64 for r in rows)


def test_verify_missing_binary(tmp_path):
    res = cli("verify", str(tmp_path / "nope"))
    assert res.returncode == 2 and "no such file" in res.stderr


def test_no_gpl_help_teaches_what_it_changes():
    build = " ".join(cli("build", "--help").stdout.split())
    for words in (
        "--no-gpl",
        "libedit",
        "instead of GNU readline",
        "no _gdbm or _dbm",
        "dbm.sqlite3",
        "SBOM",
        "-no-gpl/",
    ):
        assert words in build, words
    assert "--no-gpl" in cli("pack", "--help").stdout  # what a proprietary tool is packed with
    verify = " ".join(cli("verify", "--help").stdout.split())
    assert "fail unless BINARY is the no-gpl build" in verify and "the SBOM beside BINARY declares" in verify
