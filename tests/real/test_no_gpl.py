"""`build --no-gpl` (issue 16): CPython 3.13.15 for x86_64 without GPL components, quick
like every build of the run but the representative one (conftest), so that only libedit
and this interpreter are new to a warm cache.  Proven the way a user would: line editing
on libedit in a terminal, no gdbm, a permissive SBOM, and `verify` naming the variant."""

import json
import os
import pty
import select
import shutil
import subprocess
import time
from pathlib import Path

from .conftest import VERSION, run_cli

# Typed at input(): "abc", a backspace, "d", Ctrl-A (start of line) and "X".
KEYS = b"abc\x7fd\x01X\n"


def in_a_terminal(binary: Path, code: str, keys: bytes, timeout: float = 30) -> str:
    """What ``binary -I -c code`` prints when a person types ``keys`` in a terminal."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: the interpreter on the pty
        os.execve(binary, [str(binary), "-I", "-c", code], {"TERM": "xterm-256color", "PATH": "/usr/bin:/bin"})
    out, sent, deadline = b"", False, time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # the child has gone: the pty is closed
                break
            if not chunk:
                break
            out += chunk
        if not sent and b"> " in out:  # the prompt: readline is waiting
            os.write(fd, keys)
            sent = True
    os.waitpid(pid, 0)
    return out.decode(errors="replace")


def test_no_gpl_build_is_libedit_without_gdbm_and_says_so(dist, tmp_path):
    res = run_cli("build", VERSION, "--no-gpl", "--json", "--out", str(dist))
    assert res.returncode == 0, res.stderr[-6000:]
    result = json.loads(res.stdout)
    binary = Path(result["binary"])
    assert result["variant"] == "no-gpl" and binary.parent.name == f"cpython-{VERSION}-x86_64-linux-musl-no-gpl"
    assert (
        "library libedit:" in res.stderr and "library readline:" not in res.stderr and "library gdbm:" not in res.stderr
    )

    # verify (run by build) passed every check and named the variant.
    checks = {c["name"]: c for c in result["verify"]["checks"]}
    assert result["ok"], [c for c in checks.values() if not c["ok"]]
    assert checks["variant"]["detail"].startswith(
        "no-gpl: readline on libedit (EditLine wrapper), no _dbm, _gdbm; dbm.open() makes dbm.sqlite3"
    )
    assert checks["readline"]["detail"] == "libedit (EditLine wrapper)"
    assert "dbm.gnu, dbm.ndbm absent" in checks["dbm"]["detail"]
    assert "readline" in result["modules"] and not {"_gdbm", "_dbm"} & set(result["modules"])

    # readline works through libedit: editing keys at a real prompt, and its history.
    said = in_a_terminal(
        binary,
        "import readline; line = input('> '); "
        "print('GOT', repr(line), readline.backend, readline.get_history_item(readline.get_current_history_length()))",
        KEYS,
    )
    assert "GOT 'Xabd' editline Xabd" in said, said
    plain = subprocess.run(
        [binary, "-I", "-c", "import dbm.gnu"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert plain.returncode == 1 and "No module named '_gdbm'" in plain.stderr

    # The SBOM: libedit in, readline and gdbm out, a permissive licence for the whole file;
    # the licence texts carry libedit's.
    doc = json.loads(Path(result["sbom"]).read_text())
    names = {p["name"] for p in doc["packages"]}
    assert "libedit" in names and not {"readline", "gdbm"} & names
    whole = doc["packages"][0]["licenseConcluded"]
    assert "GPL" not in whole and "BSD-2-Clause AND BSD-3-Clause" in whole, whole
    assert doc["comment"] == "no GPL component is linked in (build variant no-gpl)"
    texts = binary.with_name(binary.name + ".licenses.txt").read_text()
    assert "==== libedit 20250104-3.1 (BSD-3-Clause AND BSD-2-Clause)" in texts
    assert "The Regents of the University of California" in texts  # libedit's COPYING
    assert "==== readline " not in texts and "==== gdbm " not in texts

    # `verify` on its own: a copy without its SBOM is judged as the default build (and
    # fails: it lacks gdbm's modules) until asked for --no-gpl, which it then proves.
    alone = tmp_path / "python3.13"
    shutil.copy2(binary, alone)
    default = run_cli("verify", str(alone))
    assert default.returncode == 1 and "missing: _dbm, _gdbm" in default.stdout
    asked = run_cli("verify", str(alone), "--no-gpl", "-v")
    assert asked.returncode == 0, asked.stdout
    line = next(line for line in asked.stdout.splitlines() if line.split()[1:2] == ["variant"])
    assert line.startswith("ok") and "no-gpl: readline on libedit" in line
    beside = run_cli("verify", str(binary), "-v")  # with its SBOM: as it declares
    assert beside.returncode == 0 and "as python3.13.spdx.json declares (libedit 20250104-3.1" in beside.stdout
