import os
import signal
import subprocess
import sys
import time

import pytest

from cpython_static.core.runner import Runner, StepFailed, base_environment


def test_log_holds_command_env_delta_output_and_status(tmp_path):
    r = Runner(tmp_path)
    res = r.run("say hello", ["sh", "-c", 'echo "out $GREETING"; echo err >&2'], env={"GREETING": "hi"})
    text = res.log.read_text()
    assert res.returncode == 0
    assert "# command: sh -c" in text
    assert "# env: GREETING=hi" in text
    assert "out hi" in text and "err" in text
    assert "exit status 0 after" in text
    assert res.log.name.startswith("001-say-hello")


def test_failure_names_step_log_and_tail(tmp_path):
    r = Runner(tmp_path)
    with pytest.raises(StepFailed) as info:
        r.run("break", ["sh", "-c", "for i in $(seq 1 40); do echo line$i; done; exit 7"])
    exc = info.value
    assert exc.returncode == 7
    assert exc.log.is_file()
    msg = str(exc)
    assert "step 'break' failed (exit status 7)" in msg and str(exc.log) in msg
    assert "line40" in msg and "line1\n" not in msg  # only the tail


def test_missing_command_is_a_step_failure(tmp_path):
    with pytest.raises(StepFailed) as info:
        Runner(tmp_path).run("nothing", ["/no/such/tool"])
    assert "could not start" in str(info.value)


def test_base_environment_drops_build_influencing_variables():
    env = base_environment(
        {
            "PATH": "/bin",
            "CFLAGS": "-O0",
            "PKG_CONFIG_PATH": "/x",
            "LD_LIBRARY_PATH": "/y",
            "PYTHONPATH": "/z",
            "HOME": "/h",
        }
    )
    assert env["PATH"] == "/bin" and env["HOME"] == "/h"
    assert not {"CFLAGS", "PKG_CONFIG_PATH", "LD_LIBRARY_PATH", "PYTHONPATH"} & set(env)


def test_env_delta_none_removes_and_host_leaks_are_gone(tmp_path, monkeypatch):
    monkeypatch.setenv("CFLAGS", "-O0 -leaky")
    r = Runner(tmp_path)
    res = r.run("env", ["sh", "-c", 'echo "[${CFLAGS-unset}] [${HOME-unset}]"'], env={"HOME": None}, capture=True)
    assert res.output.strip() == "[unset] [unset]"


def test_each_step_reported(tmp_path):
    seen = []
    r = Runner(tmp_path, on_step=seen.append)
    r.run("a", ["true"])
    r.run("b", ["false"], check=False)
    assert [(s.step, s.returncode) for s in seen] == [("a", 0), ("b", 1)]


def test_interrupt_kills_the_child_and_marks_the_log(tmp_path):
    # A real SIGINT to a process running a step: the child must not outlive it.
    script = tmp_path / "drive.py"
    script.write_text(
        "import signal, sys\n"
        # A background job inherits SIGINT as ignored; this simulates a user's Ctrl-C.
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "from cpython_static.core.runner import Runner\n"
        f"Runner({str(tmp_path / 'logs')!r}).run('sleep', ['sleep', '31.7'])\n"
    )
    proc = subprocess.Popen([sys.executable, str(script)], cwd=os.getcwd())
    log_dir = tmp_path / "logs"
    for _ in range(100):
        if log_dir.is_dir() and any(log_dir.iterdir()):
            break
        time.sleep(0.05)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=10)
    log = next(log_dir.iterdir()).read_text()
    assert "# interrupted" in log
    out = subprocess.run(["pgrep", "-f", "^sleep 30$"], capture_output=True, text=True)
    assert out.stdout.strip() == ""
