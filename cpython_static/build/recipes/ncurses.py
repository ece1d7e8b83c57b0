"""ncurses hook: host-side tic and infocmp for the compiled-in terminfo fallbacks.

``--with-fallbacks`` makes ncurses compile terminfo entries into the library at build
time, by running tic and infocmp on the build machine.  They must understand the same
terminfo format as the library being built, so they are built here from the very same
source with the host's C compiler rather than taken from the host.
"""

from __future__ import annotations

import shutil

HOST_CC = "cc"


def before_configure(ctx) -> None:
    host = ctx.work / "host-tic"
    shutil.copytree(ctx.src, host, symlinks=True)
    env = {"CC": shutil.which(HOST_CC) or HOST_CC, "CFLAGS": "-O2"}
    run = ctx.runner.run
    run(
        "ncurses:host-tic configure",
        [
            "./configure",
            "--without-shared",
            "--without-debug",
            "--without-ada",
            "--without-cxx",
            "--without-cxx-binding",
            "--without-manpages",
            "--without-tests",
            "--enable-widec",
            f"--prefix={ctx.work / 'host-prefix'}",
        ],
        cwd=host,
        env=env,
    )
    for part in ("include", "ncurses", "progs"):
        run(f"ncurses:host-tic make {part}", ["make", f"-j{ctx.jobs}", "-C", part], cwd=host, env=env)
    ctx.extra_configure += [
        f"--with-tic-path={host / 'progs' / 'tic'}",
        f"--with-infocmp-path={host / 'progs' / 'infocmp'}",
    ]
