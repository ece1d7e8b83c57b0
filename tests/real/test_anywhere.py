"""The published interpreter is one file that runs anywhere: copied alone into an empty
root, run there as a user with no passwd entry and an empty environment, with no /proc,
/dev, /tmp, /etc or /usr, it has its whole standard library, time zones, terminal
descriptions, and finds the CA certificates wherever a distribution keeps them."""

import shutil
import socket
import ssl
import subprocess
import textwrap
import threading
from pathlib import Path

import pytest

from cpython_static.core.runner import Runner
from cpython_static.verify.checks import make_tls_material

from .conftest import VERSION
from .roots import GID, UID, Root

MM = ".".join(VERSION.split(".")[:2])


@pytest.fixture(params=["x86_64", "aarch64"])
def root(request, tmp_path):
    """An empty root with the interpreter for each target; the aarch64 one runs under
    qemu-user (copied into the root too), so every test below proves both."""
    if request.param == "x86_64":
        return Root(tmp_path / "root", request.getfixturevalue("build_x86_64")[0]["binary"])
    qemu = shutil.which("qemu-aarch64-static")
    assert qemu, "qemu-aarch64-static is needed (Debian package qemu-user-static; .ci/setup installs it)"
    return Root(tmp_path / "root", request.getfixturevalue("build_aarch64")[0]["binary"], emulator=qemu)


def run_ok(root: Root, *args, **kw) -> str:
    res = root.run(*args, **kw)
    assert res.returncode == 0, f"exit status {res.returncode}\nstdout:\n{res.stdout}\nstderr:\n{res.stderr}"
    return res.stdout


# ============================================================ the stdlib in an empty root
MODULES = textwrap.dedent("""
    import os, sys
    import ssl, sqlite3, lzma, bz2, zlib, ctypes, decimal, readline, curses, uuid
    import dbm, dbm.gnu, dbm.ndbm, zoneinfo
    from datetime import datetime

    print("ids", os.getuid(), os.getgid(), 0 in os.getgroups(), sorted(os.environ))
    db = sqlite3.connect(":memory:")
    db.execute("create table t (x integer)")
    db.executemany("insert into t values (?)", [(1,), (2,), (39,)])
    print("sqlite", db.execute("select sum(x) from t").fetchone()[0])
    data = b"anywhere " * 4096
    print("lzma", lzma.decompress(lzma.compress(data)) == data)
    print("bz2", bz2.decompress(bz2.compress(data)) == data)
    print("zlib", zlib.decompress(zlib.compress(data)) == data)
    # a libffi closure: needs executable memory, which must not come from a file in /tmp
    print("ctypes", ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int)(lambda x: x * 2)(21))
    print("decimal", decimal.Decimal(1) / decimal.Decimal(7))
    u = uuid.uuid4()
    print("uuid", u.version, u.variant == uuid.RFC_4122)
    readline.add_history("first line")
    print("readline", readline.get_history_item(1))
    # no /dev/null or tty here: a pipe is the terminal's file descriptor
    r, w = os.pipe()
    curses.setupterm("xterm-256color", w)
    print("curses", curses.tigetnum("colors"), curses.tigetstr("cup") is not None)
    paris = zoneinfo.ZoneInfo("Europe/Paris")
    print("paris", datetime(2024, 1, 15, 12, tzinfo=paris).utcoffset(),
          datetime(2024, 7, 15, 12, tzinfo=paris).utcoffset())
    print("ssl", ssl.OPENSSL_VERSION.split()[0], ssl.HAS_TLSv1_3)
""")


def test_stdlib_works_in_an_empty_root(root):
    out = run_ok(root, "-c", MODULES)
    assert out.splitlines() == [
        f"ids {UID} {GID} False []",
        "sqlite 42",
        "lzma True",
        "bz2 True",
        "zlib True",
        "ctypes 42",
        "decimal 0.1428571428571428571428571429",
        "uuid 4 True",
        "readline first line",
        "curses 256 True",
        "paris 1:00:00 2:00:00",
        "ssl OpenSSL True",
    ]


@pytest.mark.parametrize("term", ["xterm", "screen", "tmux", "vt100", "linux", "dumb"])
def test_terminfo_fallbacks(root, term):
    # Only the entries compiled into ncurses exist here; an unknown name must fail.
    code = (
        "import curses, os; r, w = os.pipe(); curses.setupterm(%r, w); "
        "print(curses.tigetstr('cr'))"
    )  # carriage return: even `dumb` has it
    assert run_ok(root, "-c", code % term) == "b'\\r'\n"
    res = root.run("-c", code % "no-such-terminal")
    assert res.returncode != 0 and "curses.error" in res.stderr, res.stderr


# ======================================================= where the standard library lives
def test_the_binary_is_its_own_prefix_and_library(root):
    # json comes from the archive (its __file__ names its source there, as a zipped stdlib
    # with sources does); os is frozen into the interpreter, __file__ named the same way.
    code = (
        "import sys, os, json; print(sys.executable, sys.prefix, sys.exec_prefix, "
        "sys.base_prefix); print(os.path.dirname(json.__file__)); print(os.__file__); "
        "print(sys.path)"
    )
    assert run_ok(root, "-I", "-c", code).splitlines() == [
        "/python3 / / /",
        "/python3/json",
        "/python3/os.py",
        "['/python3']",
    ]


def test_prefix_of_an_installed_layout(build_x86_64, tmp_path):
    # <prefix>/bin/python3.X, as in an installed tree: the prefix is the directory above.
    root = Root(tmp_path / "root", build_x86_64[0]["binary"], python=f"/opt/py/bin/python{MM}")
    code = "import sys, os, json; print(sys.prefix, os.path.dirname(json.__file__))"
    assert run_ok(root, "-I", "-c", code) == f"/opt/py /opt/py/bin/python{MM}/json\n"


def test_command_line_options(root):
    flags = (
        "import sys; print(sys.flags.isolated, sys.flags.no_site, sys.flags.ignore_environment, 'site' in sys.modules)"
    )
    assert run_ok(root, "-I", "-c", flags) == "1 0 1 True\n"
    assert run_ok(root, "-S", "-c", flags) == "0 1 0 False\n"
    # PYTHONPATH is honoured, before the library, unless -E (or -I) says otherwise.
    where = "import sys; print(sys.path[:2])"
    env = {"PYTHONPATH": "/nowhere"}
    assert run_ok(root, "-c", where, env=env) == "['', '/nowhere']\n"
    assert run_ok(root, "-E", "-c", where, env=env) == "['', '/python3']\n"


def test_json_tool_on_stdin(root):
    out = run_ok(root, "-m", "json.tool", "--sort-keys", stdin='{"b": [1, 2], "a": null}')
    assert out == '{\n    "a": null,\n    "b": [\n        1,\n        2\n    ]\n}\n'


def test_tracebacks_and_inspect_show_library_source(root):
    res = root.run("-c", "import json; json.loads('{')")
    assert res.returncode == 1
    assert 'File "/python3/json/decoder.py", line' in res.stderr, res.stderr
    assert "obj, end = self.scan_once(s, idx)" in res.stderr, res.stderr
    assert "json.decoder.JSONDecodeError: Expecting property name" in res.stderr, res.stderr
    code = "import inspect, json.decoder; print(inspect.getsource(json.decoder.JSONDecoder.raw_decode))"
    assert run_ok(root, "-c", code).startswith("    def raw_decode(self, s, idx=0):\n")


# ================================================================ CA certificates
CA_FILES = [
    "/etc/ssl/certs/ca-certificates.crt",  # Debian, Ubuntu, Arch, Gentoo
    "/etc/pki/tls/certs/ca-bundle.crt",  # RHEL/Fedora 6-era
    "/etc/ssl/ca-bundle.pem",  # SUSE
    "/etc/pki/tls/cacert.pem",  # OpenELEC
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",  # RHEL/CentOS 7+, Fedora
    "/etc/ssl/cert.pem",  # Alpine
    "/etc/ca-certificates/extracted/tls-ca-bundle.pem",  # Arch's real file
]
CA_DIRS = ["/etc/ssl/certs", "/etc/pki/tls/certs"]  # hashed, c_rehash style

CLIENT = textwrap.dedent("""
    import socket, ssl, sys
    try:
        ctx = ssl.create_default_context({cafile})
        with socket.create_connection(("127.0.0.1", {port}), timeout=20) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
                tls.sendall(b"ping")
                print("ok", tls.version(), tls.recv(16).decode())
    except Exception as exc:
        print("error", type(exc).__name__, isinstance(exc, ssl.SSLError), exc)
""")


class TlsServer:
    """A TLS echo server (upper-casing) on 127.0.0.1 in this process, one client at a time."""

    def __init__(self, cert: Path, key: Path):
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert, key)
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:  # closed: the module is done
                return
            conn.settimeout(20)
            try:
                with self.context.wrap_socket(conn, server_side=True) as tls:
                    tls.sendall(tls.recv(16).upper())
            except OSError:  # a client that rejected our certificate: its test judges
                pass

    def close(self):
        # close() alone does not wake a thread blocked in accept(); shutdown() does.
        self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.thread.join(5)
        assert not self.thread.is_alive()


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    """A test CA and a localhost certificate it signed, another unrelated CA, the CA's
    OpenSSL subject hash (the name in a hashed directory), and a server using the cert."""
    openssl = shutil.which("openssl")
    assert openssl, "the openssl command-line tool is needed (as for `verify`)"
    base = tmp_path_factory.mktemp("tls")
    runner = Runner(base / "logs")
    material = make_tls_material(runner, openssl, base / "ca")
    other = make_tls_material(runner, openssl, base / "other-ca")
    digest = subprocess.run(
        [openssl, "x509", "-hash", "-noout", "-in", material["ca"]], capture_output=True, text=True, check=True
    ).stdout.strip()
    server = TlsServer(material["cert"], material["key"])
    yield {"ca": material["ca"], "other_ca": other["ca"], "hash": digest, "port": server.port}
    server.close()


def client(root: Root, tls, cafile: str | None = None, env: dict[str, str] | None = None) -> str:
    code = CLIENT.format(port=tls["port"], cafile=f"cafile={cafile!r}" if cafile else "")
    return run_ok(root, "-c", code, env=env).strip()


OK = "ok TLSv1.3 PING"


@pytest.mark.parametrize("path", CA_FILES)
def test_ca_file_is_found(root, tls, path):
    root.add(path, tls["ca"])
    assert client(root, tls) == OK


@pytest.mark.parametrize("directory", CA_DIRS)
def test_hashed_ca_directory_is_found(root, tls, directory):
    root.add(f"{directory}/{tls['hash']}.0", tls["ca"])
    assert client(root, tls) == OK


def test_a_ca_that_did_not_sign_is_refused(root, tls):
    # Verification really happens: a CA store without the signer fails the handshake.
    root.add(CA_FILES[0], tls["other_ca"])
    out = client(root, tls)
    assert out.startswith("error SSLCertVerificationError True"), out
    assert "unable to get local issuer certificate" in out, out


def test_no_ca_anywhere(root, tls):
    out = client(root, tls)
    assert out.startswith("error SSLError True"), out
    assert "no CA certificates" in out, out


def test_ssl_cert_file_and_dir_override(root, tls):
    root.add("/opt/certs/test-ca.pem", tls["ca"])
    root.add(f"/opt/hashed/{tls['hash']}.0", tls["ca"])
    # A non-standard location is not discovered, only named.
    assert "no CA certificates" in client(root, tls)
    assert client(root, tls, env={"SSL_CERT_FILE": "/opt/certs/test-ca.pem"}) == OK
    assert client(root, tls, env={"SSL_CERT_DIR": "/opt/hashed"}) == OK
    # A CA given by the program needs no system store.
    assert client(root, tls, cafile="/opt/certs/test-ca.pem") == OK


def test_ssl_cert_file_naming_a_missing_file(root, tls):
    root.add(CA_FILES[0], tls["ca"])  # a working system store must not hide the mistake
    out = client(root, tls, env={"SSL_CERT_FILE": "/missing.pem"})
    assert out.startswith("error ") and "SSL_CERT_FILE" in out and "/missing.pem" in out, out
