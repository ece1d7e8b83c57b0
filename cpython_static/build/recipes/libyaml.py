"""libyaml hook: a Makefile for the static library, in place of the autotools build.

Debian's orig tarball is upstream's git tag, without the generated ``configure``; all
that configure decides for libyaml is its version macros (``config.h``), given here as
-D flags read from the source's own ``configure.ac``, as upstream's CMakeLists does.
"""

from __future__ import annotations

import re

MAKEFILE = """\
# Written by cpython-static's libyaml hook.
SRCS = $(wildcard src/*.c)
OBJS = $(SRCS:.c=.o)
DEFS = -DYAML_VERSION_MAJOR={0} -DYAML_VERSION_MINOR={1} -DYAML_VERSION_PATCH={2} -DYAML_VERSION_STRING='"{0}.{1}.{2}"'
%.o: %.c
\t$(CC) $(CFLAGS) $(DEFS) -Iinclude -c $< -o $@
libyaml.a: $(OBJS)
\t$(AR) rcs $@ $(OBJS)
"""


def before_configure(ctx) -> None:
    text = (ctx.src / "configure.ac").read_text()
    version = [re.search(rf"m4_define\(\[YAML_{p}\], (\d+)\)", text).group(1) for p in ("MAJOR", "MINOR", "PATCH")]
    (ctx.src / "Makefile.cpython-static").write_text(MAKEFILE.format(*version))
