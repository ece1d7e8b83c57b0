"""libedit hook: where ncurses' headers are.

libedit's configure wants <ncurses.h>, <curses.h> or <termcap.h> on the plain include
path; the wide-character ncurses recipe installs them under include/ncursesw/, as its
ncursesw.pc says.  Its library is found as -lncurses, the name ncurses' recipe links.
"""

from __future__ import annotations


def before_configure(ctx) -> None:
    flags = ctx.runner.run(
        "libedit: ncursesw's compiler flags",
        [ctx.env["PKG_CONFIG"], "--cflags", "ncursesw"],
        env=ctx.env,
        capture=True,
    ).output.strip()
    ctx.env["CPPFLAGS"] = f"{ctx.env['CPPFLAGS']} {flags}".strip()
