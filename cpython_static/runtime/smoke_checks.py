"""Smoke checks that run INSIDE the interpreter under test.

Standalone on purpose: the interpreter being verified may be for another CPU and has
none of this project's dependencies, so this file uses only the standard library
and Python 3.11 syntax.  It prints exactly one JSON object on stdout:

    {"checks": [{"name": ..., "ok": ..., "detail": ..., "duration_s": ...}, ...]}

and exits 0 when every selected check passed, 1 otherwise.  Each check exercises
the C library behind a module (a real TLS handshake, libffi closures, FTS5, …)
because "the module imports" does not prove the static link is complete.

Usage: smoke_checks.py [--tls-ca CA --tls-cert CERT --tls-key KEY]
                       [--child-executable PATH] [--readline-backend NAME]
                       [--absent MODULE ...] [--list] [NAME ...]

The build variant (verify passes it from versions.toml and modules.toml): the readline
module's backend, and the built-in modules it leaves out, which must then not import.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
import traceback

# Given by the host (verify.py) so that child interpreters also run under the
# emulator when the binary is for another CPU; defaults to sys.executable.
CHILD_EXECUTABLE: str | None = None
TLS: dict[str, str] = {}
READLINE_BACKEND = "readline"  # or "editline" (libedit), as readline.backend names it
ABSENT: set[str] = set()  # built-in modules the build variant leaves out
LIBEDIT_TAG = "EditLine wrapper"  # what libedit's readline emulation gives as its version

_TIMEOUT = 120.0  # generous: under qemu-user a spawn or a TLS handshake is slow


class CheckFailed(Exception):
    pass


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


def _child_executable() -> str:
    return CHILD_EXECUTABLE or sys.executable


# --------------------------------------------------------------------------- ssl
def _tls_server(server_ctx, listener, result: dict) -> None:
    try:
        conn, _ = listener.accept()
        conn.settimeout(_TIMEOUT)
        with server_ctx.wrap_socket(conn, server_side=True) as tls:
            data = tls.recv(1024)
            tls.sendall(b"pong:" + data)
    except Exception as exc:  # reported by the client side of the check
        result["error"] = f"{type(exc).__name__}: {exc}"


def _tls_roundtrip(client_ctx, server_ctx, server_hostname: str) -> tuple[bytes, str, str]:
    import socket
    import threading

    server_result: dict = {}
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(_TIMEOUT)
        thread = threading.Thread(target=_tls_server, args=(server_ctx, listener, server_result))
        thread.start()
        try:
            port = listener.getsockname()[1]
            with socket.create_connection(("127.0.0.1", port), timeout=_TIMEOUT) as raw:
                with client_ctx.wrap_socket(raw, server_hostname=server_hostname) as tls:
                    tls.sendall(b"ping")
                    reply = tls.recv(1024)
                    version, cipher = tls.version() or "", tls.cipher()[0]
        finally:
            thread.join(_TIMEOUT)
    # Reached only when the client side succeeded; a client error outranks the
    # server's view of the same broken handshake.
    if "error" in server_result:
        raise CheckFailed("server side: " + server_result["error"])
    return reply, version, cipher


def check_ssl() -> str:
    import ssl

    _require(all(TLS.get(k) for k in ("ca", "cert", "key")), "needs --tls-ca, --tls-cert and --tls-key")
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(TLS["cert"], TLS["key"])
    client_ctx = ssl.create_default_context(cafile=TLS["ca"])
    _require(
        client_ctx.check_hostname and client_ctx.verify_mode == ssl.CERT_REQUIRED,
        "default client context does not verify",
    )
    reply, version, cipher = _tls_roundtrip(client_ctx, server_ctx, "localhost")
    _require(reply == b"pong:ping", f"unexpected reply {reply!r}")
    # The same handshake under the wrong name must be refused, or the check above
    # would also pass with verification silently disabled.
    try:
        _tls_roundtrip(client_ctx, server_ctx, "not-the-server.invalid")
    except ssl.SSLCertVerificationError:
        pass
    else:
        raise CheckFailed("hostname mismatch was not rejected")
    return f"{ssl.OPENSSL_VERSION}; {version} {cipher}"


# ----------------------------------------------------------------------- hashlib
_KNOWN_DIGESTS = {  # of b"abc": FIPS 180-2, FIPS 202 and RFC 7693 test vectors
    "sha256": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    "sha3_256": "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532",
    "blake2b": "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d1"
    "7d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923",
}


def check_hashlib() -> str:
    import _hashlib  # OpenSSL-backed; hashlib silently falls back without it
    import hashlib

    for name, expected in _KNOWN_DIGESTS.items():
        got = hashlib.new(name, b"abc").hexdigest()
        _require(got == expected, f"{name}(b'abc') = {got}, expected {expected}")
    openssl = _hashlib.new("sha256", b"abc").hexdigest()
    _require(openssl == _KNOWN_DIGESTS["sha256"], f"OpenSSL sha256 gave {openssl}")
    return "sha256, sha3_256, blake2b known answers ok (hashlib and OpenSSL's sha256)"


# ----------------------------------------------------------------------- sqlite3
def check_sqlite3() -> str:
    import sqlite3

    _require(
        bool(sqlite3.sqlite_version) and sqlite3.sqlite_version_info >= (3, 7, 15),
        f"implausible sqlite_version {sqlite3.sqlite_version!r}",
    )
    with contextlib.closing(sqlite3.connect(":memory:")) as db:
        db.execute("CREATE VIRTUAL TABLE docs USING fts5(body)")
        db.executemany(
            "INSERT INTO docs(body) VALUES (?)", [("a static interpreter",), ("a dynamic loader",), ("static musl",)]
        )
        hits = [r[0] for r in db.execute("SELECT rowid FROM docs WHERE docs MATCH 'static' ORDER BY rowid")]
        _require(hits == [1, 3], f"FTS5 MATCH returned rows {hits}")
        value = db.execute("SELECT json_extract(?, '$.a.b[1]')", ('{"a": {"b": [10, 20, 30]}}',)).fetchone()[0]
        _require(value == 20, f"json_extract returned {value!r}")
    return f"SQLite {sqlite3.sqlite_version}: FTS5 and JSON ok"


# ------------------------------------------------------------------- compression
def check_compression() -> str:
    import bz2
    import lzma
    import zlib

    payload = b"".join(b"line %d of a compressible payload\n" % i for i in range(5000))
    codecs = {
        "zlib": (zlib.compress, zlib.decompress),
        "bz2": (bz2.compress, bz2.decompress),
        "lzma": (lambda d: lzma.compress(d, check=lzma.CHECK_SHA256), lzma.decompress),
    }
    sizes = []
    for name, (compress, decompress) in codecs.items():
        packed = compress(payload)
        _require(len(packed) < len(payload) // 4, f"{name} barely compressed: {len(packed)}")
        _require(decompress(packed) == payload, f"{name} round trip corrupted data")
        sizes.append(f"{name} {len(packed)}")
    _require(zlib.crc32(b"hello") == 0x3610A686, "zlib.crc32 known answer wrong")
    return f"{len(payload)} bytes -> " + ", ".join(sizes) + f"; zlib {zlib.ZLIB_RUNTIME_VERSION}"


# --------------------------------------------------------------------------- zstd
def check_zstd() -> str:
    from compression import zstd

    payload = b"".join(b"line %d of a compressible payload\n" % i for i in range(5000))
    packed = zstd.compress(payload, level=10)
    _require(len(packed) < len(payload) // 4, f"zstd barely compressed: {len(packed)}")
    _require(zstd.decompress(packed) == payload, "zstd round trip corrupted data")
    # A trained dictionary exercises zdict (the library's other half) too.
    samples = [b"{'id': %d, 'name': 'user%d', 'active': true}" % (i, i) for i in range(2000)]
    dictionary = zstd.train_dict(samples, 4096)
    packed_one = zstd.compress(samples[7], zstd_dict=dictionary)
    _require(
        zstd.decompress(packed_one, zstd_dict=dictionary) == samples[7],
        "zstd round trip with a trained dictionary corrupted data",
    )
    return (
        f"{len(payload)} bytes -> {len(packed)}; dictionary of {len(dictionary.dict_content)}"
        f" bytes; libzstd {zstd.zstd_version}"
    )


# --------------------------------------------------------------------------- hmac
def check_hmac() -> str:
    import hmac

    import _hmac

    # RFC 4231, test case 2, through HACL*'s HMAC (the _hmac module) and through hmac.
    key, msg = b"Jefe", b"what do ya want for nothing?"
    want = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    _require(_hmac.compute_digest(key, msg, "sha256").hex() == want, "_hmac SHA-256 known answer wrong")
    _require(hmac.new(key, msg, "sha256").hexdigest() == want, "hmac SHA-256 known answer wrong")
    sha3 = _hmac.compute_digest(key, msg, "sha3_256").hex()
    _require(
        sha3 == "c7d4072e788877ae3596bbb0da73b887c9171f93095b294ae857fbe2645e1ba5", "_hmac SHA3-256 known answer wrong"
    )
    return "RFC 4231 HMAC-SHA-256 and HMAC-SHA3-256 known answers (HACL*)"


# --------------------------------------------------------------- remote debugging
def _remote_debugging_target() -> list:
    import _remote_debugging

    return _remote_debugging.RemoteUnwinder(os.getpid()).get_stack_trace()


def check_remote_debugging() -> str:
    """_remote_debugging (what `python -m pdb -p`, sys.remote_exec and the asyncio `ps`
    tools stand on) finds the interpreter's runtime state in a process's memory: here
    its own, by pid, through /proc and process_vm_readv, as it would another's."""
    threads = _remote_debugging_target()
    names = [frame.funcname for thread in threads for frame in thread.frame_info]
    _require("_remote_debugging_target" in names, f"own stack not found in the frames read: {names}")
    return f"{len(threads)} thread(s) read by pid; frames include _remote_debugging_target"


# ------------------------------------------------------------------------ ctypes
def _ctypes_closure_roundtrip() -> None:
    """Python -> ffi_call -> libffi closure trampoline -> Python, no symbol lookup."""
    import ctypes

    proto = ctypes.CFUNCTYPE(ctypes.c_double, ctypes.c_int, ctypes.c_double)
    callback = proto(lambda n, x: n * x + 0.5)
    address = ctypes.cast(callback, ctypes.c_void_p).value
    _require(bool(address), "closure has no code address")
    as_c_function = proto(address)  # a plain function pointer: calls go through ffi_call
    got = as_c_function(6, 7.0)
    _require(got == 42.5, f"closure round trip returned {got}")


def _ctypes_own_symbols() -> str:
    """ctypes.pythonapi (dlopen(NULL), dlsym) calling the C API and reading its data: a
    static binary has no loader, so the launcher answers from its own table
    (build/own_symbols.py).  A name it lacks must raise AttributeError, as for a library
    without the symbol: glibc probes such as pip 22.3.1's (gnu_get_libc_version) rely on
    that."""
    import ctypes
    import sys

    api = ctypes.pythonapi
    api.Py_GetVersion.restype = ctypes.c_char_p
    got = api.Py_GetVersion().decode()
    _require(got == sys.version, f"pythonapi.Py_GetVersion() gave {got!r}, not sys.version")
    error = ctypes.c_void_p.in_dll(api, "PyExc_TypeError").value
    _require(error == id(TypeError), "PyExc_TypeError read through pythonapi is not TypeError")
    try:
        ctypes.CDLL(None).cpython_static_no_such_symbol
        missing_raises = False
    except AttributeError:
        missing_raises = True
    _require(missing_raises, "CDLL(None) found a symbol nothing defines")
    return "pythonapi calls Py_GetVersion and reads PyExc_TypeError; a missing symbol is AttributeError"


def check_ctypes() -> str:
    _ctypes_closure_roundtrip()
    return "CFUNCTYPE closure round trip ok; " + _ctypes_own_symbols()


# ----------------------------------------------------------------------- decimal
def check_decimal() -> str:
    import _decimal  # the C implementation; decimal falls back to _pydecimal silently
    import decimal

    _require(decimal.Decimal is _decimal.Decimal, "decimal is not backed by _decimal")
    with decimal.localcontext(prec=50, rounding=decimal.ROUND_HALF_EVEN) as ctx:
        seventh = decimal.Decimal(1) / decimal.Decimal(7)
        _require(str(seventh) == "0." + "142857" * 8 + "14", f"1/7 = {seventh}")
        _require(ctx.sqrt(decimal.Decimal(2)).to_eng_string().startswith("1.41421356237"), "sqrt(2) wrong")
    _require(decimal.Decimal("1.1") + decimal.Decimal("2.2") == decimal.Decimal("3.3"), "1.1 + 2.2 != 3.3")
    _require(
        decimal.Decimal("2.675").quantize(decimal.Decimal("0.01")) == decimal.Decimal("2.68"),
        "quantize half-even wrong",
    )
    return f"libmpdec {decimal.__libmpdec_version__}"


# ---------------------------------------------------------------------- readline
def check_readline() -> str:
    import readline

    # readline.backend is 3.13+; libedit's emulation says what it is in its version on all.
    library = readline._READLINE_LIBRARY_VERSION
    backend = "editline" if library.startswith(LIBEDIT_TAG) else "readline"
    reported = getattr(readline, "backend", backend)
    _require(reported == backend, f"readline.backend {reported!r} for library {library!r}")
    names = {"readline": "GNU readline", "editline": "libedit"}
    _require(backend == READLINE_BACKEND, f"readline is backed by {names[backend]}, expected {names[READLINE_BACKEND]}")
    # site.py's own choice of binding syntax for the two backends.
    readline.parse_and_bind("bind ^I rl_complete" if backend == "editline" else "tab: complete")
    readline.clear_history()
    readline.add_history("first entry")
    readline.add_history("second entry")
    _require(readline.get_current_history_length() == 2, "history length is not 2")
    items = [readline.get_history_item(i) for i in (1, 2)]
    _require(items == ["first entry", "second entry"], f"history items {items}")
    return f"{names[backend]} ({library})" if backend == "editline" else f"GNU readline {library}"


# ------------------------------------------------------------------------ curses
def check_curses() -> str:
    import _curses  # noqa: F401  (importing the C modules is part of the check)
    import curses
    import curses.panel  # noqa: F401  (_curses_panel)

    master, slave = os.openpty()
    try:
        # A pty, not our stdout: setupterm must not write into the JSON report.
        curses.setupterm("xterm-256color", slave)
        clear = curses.tigetstr("clear")
        colors = curses.tigetnum("colors")
    finally:
        os.close(master)
        os.close(slave)
    _require(bool(clear), "tigetstr('clear') is empty: no terminfo entry for xterm-256color")
    _require(colors == 256, f"xterm-256color reports {colors} colors")
    return f"ncurses {curses.ncurses_version}; clear={clear!r}"


# -------------------------------------------------------------------------- uuid
def check_uuid() -> str:
    import uuid

    c_module = getattr(uuid, "_uuid", None)
    _require(c_module is not None, "uuid._uuid (libuuid) C module is missing")
    _require(hasattr(c_module, "generate_time_safe"), "_uuid lacks generate_time_safe")
    u1, u4 = uuid.uuid1(), uuid.uuid4()
    _require(u1.version == 1 and u1.variant == uuid.RFC_4122, f"bad uuid1 {u1}")
    _require(u4.version == 4 and u4.variant == uuid.RFC_4122, f"bad uuid4 {u4}")
    _require(uuid.uuid1() != u1, "uuid1 repeated")
    return f"uuid1 {u1} (safe={u1.is_safe.name}), uuid4 ok"


# --------------------------------------------------------------------------- dbm
def _dbm_roundtrip(module, path: str) -> None:
    with module.open(path, "c") as db:
        db[b"key"] = b"value"
        db["text"] = "unicode é"
    with module.open(path, "r") as db:
        _require(db[b"key"] == b"value", f"{module.__name__}: wrong value")
        _require(db["text"] == "unicode é".encode(), f"{module.__name__}: wrong text value")


# dbm's flavours and the built-in module each stands on (None: pure Python, or sqlite3's).
_DBM_FLAVOURS = {"dbm.gnu": "_gdbm", "dbm.ndbm": "_dbm", "dbm.sqlite3": None, "dbm.dumb": None}


def check_dbm() -> str:
    import dbm
    import importlib

    seen, absent = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for name, c_module in _DBM_FLAVOURS.items():
            if c_module in ABSENT:
                try:
                    importlib.import_module(name)
                except ImportError:
                    absent.append(name)
                    continue
                raise CheckFailed(f"{name} imports, but the build leaves {c_module} out")
            if name == "dbm.sqlite3" and sys.version_info < (3, 13):
                continue  # new in 3.13
            module = importlib.import_module(name)
            path = os.path.join(tmp, name.replace(".", "_"))
            _dbm_roundtrip(module, path)
            kind = dbm.whichdb(path)
            _require(kind == name, f"whichdb says {kind!r} for {name}")
            seen.append(kind)
        # What dbm.open() makes of a new name: the first flavour it can import.
        with dbm.open(os.path.join(tmp, "default"), "c") as db:
            db[b"k"] = b"v"
        default = dbm.whichdb(os.path.join(tmp, "default"))
    ndbm = f"; ndbm library: {sys.modules['dbm.ndbm'].library}" if "dbm.ndbm" in seen else ""
    left_out = f"; {', '.join(absent)} absent (no {', '.join(sorted(ABSENT))})" if absent else ""
    return ", ".join(seen) + f" ok; dbm.open() makes {default}" + left_out + ndbm


# ---------------------------------------------------------------------- zoneinfo
def check_zoneinfo() -> str:
    import _zoneinfo
    import zoneinfo
    from datetime import datetime, timedelta

    _require(zoneinfo.ZoneInfo is _zoneinfo.ZoneInfo, "zoneinfo is not the C implementation")
    paris = zoneinfo.ZoneInfo("Europe/Paris")
    winter = datetime(2024, 1, 15, 12, tzinfo=paris).utcoffset()
    summer = datetime(2024, 7, 15, 12, tzinfo=paris).utcoffset()
    _require(winter == timedelta(hours=1), f"Paris winter offset {winter}")
    _require(summer == timedelta(hours=2), f"Paris summer offset {summer}")
    # The bundled tzdata too (what a machine without /usr/share/zoneinfo gets): in the
    # one file it is a member of the archive, read through the start-up hook.  Only a
    # Python that is not ours may lack it (verify's own tests run these checks on one).
    try:
        import tzdata
    except ImportError:
        _require("_cpython_static" not in sys.modules, "no tzdata in a cpython-static interpreter")
        return f"Europe/Paris +1h/+2h ok; TZPATH={zoneinfo.TZPATH}; no tzdata package (not a cpython-static build)"
    system = zoneinfo.TZPATH
    zoneinfo.reset_tzpath(to=[])
    try:
        zoneinfo.ZoneInfo.clear_cache()
        tokyo = datetime(2024, 1, 15, tzinfo=zoneinfo.ZoneInfo("Asia/Tokyo")).utcoffset()
        _require(tokyo == timedelta(hours=9), f"Tokyo offset {tokyo} from tzdata")
        zones = zoneinfo.available_timezones()
        _require(len(zones) > 400 and "America/New_York" in zones, f"{len(zones)} zones in tzdata")
    finally:
        zoneinfo.reset_tzpath(to=system)
        zoneinfo.ZoneInfo.clear_cache()
    return f"Europe/Paris +1h/+2h ok; TZPATH={system}; tzdata {tzdata.IANA_VERSION}: {len(zones)} zones"


# --------------------------------------------------------------- multiprocessing
def _square(x: int) -> int:
    return x * x


def _report_to_parent(conn) -> None:
    import _multiprocessing  # the child must get the C module too

    conn.send((os.getpid(), sys.version_info[:2], _multiprocessing.__name__))
    conn.close()


def check_multiprocessing() -> str:
    import multiprocessing

    if CHILD_EXECUTABLE:
        multiprocessing.set_executable(CHILD_EXECUTABLE)
    with multiprocessing.Pool(2) as pool:
        squares = pool.map_async(_square, range(10)).get(_TIMEOUT)
    _require(squares == [x * x for x in range(10)], f"Pool.map gave {squares}")

    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_report_to_parent, args=(child,))
    proc.start()
    child.close()
    try:
        _require(parent.poll(_TIMEOUT), "spawned child sent nothing")
        pid, version, _ = parent.recv()
    finally:
        proc.join(_TIMEOUT)
    _require(proc.exitcode == 0, f"spawned child exit code {proc.exitcode}")
    _require(pid != os.getpid() and tuple(version) == sys.version_info[:2], f"spawned child answered {pid} {version}")
    return f"Pool(2).map ok (start method {multiprocessing.get_start_method()}); spawn child pid {pid} ok"


# ------------------------------------------------------------ asyncio_subprocess
async def _run_child() -> tuple[int, bytes]:
    import asyncio

    proc = await asyncio.create_subprocess_exec(
        _child_executable(),
        "-I",
        "-c",
        "import sys; print(sys.version_info[:2], 6 * 7)",
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), _TIMEOUT)
    return proc.returncode, out


def check_asyncio_subprocess() -> str:
    import asyncio

    returncode, out = asyncio.run(_run_child())
    expected = f"{tuple(sys.version_info[:2])} 42".encode()
    _require(returncode == 0, f"child exited with {returncode}")
    _require(out.strip() == expected, f"child printed {out!r}, expected {expected!r}")
    return "asyncio child ok"


# ---------------------------------------------------------------------- plumbing
CHECKS = {
    "ssl": check_ssl,
    "hashlib": check_hashlib,
    "sqlite3": check_sqlite3,
    "compression": check_compression,
    "ctypes": check_ctypes,
    "decimal": check_decimal,
    "readline": check_readline,
    "curses": check_curses,
    "uuid": check_uuid,
    "dbm": check_dbm,
    "zoneinfo": check_zoneinfo,
    "multiprocessing": check_multiprocessing,
    "asyncio_subprocess": check_asyncio_subprocess,
    "zstd": check_zstd,
    "hmac": check_hmac,
    "remote_debugging": check_remote_debugging,
}
# Checks of modules that not every series has: verify runs each where the series'
# module table expects the module (modules.toml), so no version test is written here.
REQUIRES = {
    "zstd": "_zstd",
    "hmac": "_hmac",
    "remote_debugging": "_remote_debugging",
}


def _last_line(exc: BaseException) -> str:
    if isinstance(exc, CheckFailed):  # our own verdicts read better without the class name
        return str(exc)
    lines = traceback.format_exception_only(type(exc), exc)
    return lines[-1].strip() if lines else type(exc).__name__


def run_check(name: str) -> dict:
    # Announced on stderr (unbuffered) so that if the interpreter crashes, the log
    # shows which check took it down.
    print(f"smoke: starting {name}", file=sys.stderr, flush=True)
    started = time.monotonic()
    try:
        detail, ok = CHECKS[name](), True
    except BaseException as exc:  # SystemExit/KeyboardInterrupt from a check are failures too
        if isinstance(exc, KeyboardInterrupt):
            raise
        traceback.print_exc(file=sys.stderr)
        detail, ok = _last_line(exc), False
    duration = round(time.monotonic() - started, 3)
    print(f"smoke: {name} {'ok' if ok else 'FAILED'} in {duration}s", file=sys.stderr, flush=True)
    return {"name": name, "ok": ok, "detail": detail, "duration_s": duration}


@contextlib.contextmanager
def _stdout_to_stderr():
    """Send fd 1 to stderr while checks run, so only the JSON report reaches stdout.

    C libraries (readline, curses) and child processes write to fd 1 directly;
    rebinding sys.stdout alone would not catch them.
    """
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield os.fdopen(os.dup(saved), "w", encoding="utf-8")
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="smoke checks for a CPython build")
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"checks to run (default: all): {', '.join(CHECKS)}")
    parser.add_argument("--tls-ca")
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    parser.add_argument("--child-executable", help="command that runs this interpreter for child processes")
    parser.add_argument("--readline-backend", default="readline", choices=["readline", "editline"])
    parser.add_argument("--absent", action="append", default=[], metavar="MODULE", help="a module the build leaves out")
    parser.add_argument("--list", action="store_true", help="print the check names")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in CHECKS]
    if unknown:
        parser.error(f"unknown check(s) {', '.join(unknown)}; known: {', '.join(CHECKS)}")
    return args


def main(argv: list[str] | None = None) -> int:
    global CHILD_EXECUTABLE, READLINE_BACKEND
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.list:
        print("\n".join(CHECKS))
        return 0
    CHILD_EXECUTABLE = args.child_executable
    READLINE_BACKEND = args.readline_backend
    ABSENT.update(args.absent)
    TLS.update(ca=args.tls_ca or "", cert=args.tls_cert or "", key=args.tls_key or "")
    with _stdout_to_stderr() as report:
        results = [run_check(name) for name in (args.names or list(CHECKS))]
        with report:
            report.write(json.dumps({"checks": results}) + "\n")
    return 0 if all(r["ok"] for r in results) else 1


# Guarded so that multiprocessing's spawn children can import this file as
# __mp_main__ to find the target functions without re-running every check.
if __name__ == "__main__":
    sys.exit(main())
