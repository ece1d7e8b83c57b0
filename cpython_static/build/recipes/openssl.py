"""openssl hook: CC by name, found on PATH.

OpenSSL compiles its CC and CFLAGS into libcrypto (``OpenSSL_version(OPENSSL_CFLAGS)``,
the ``compiler:`` line of ``openssl version -a``): the toolchain's wrapper, named by its
full path, would put the builder's cache directory into every interpreter.  The name is
found in a directory holding the compiler alone: with the whole wrapper directory on
PATH, the host's gcc-ar would find the `ar` wrapper, which runs gcc-ar again.
"""

from __future__ import annotations

import os


def before_configure(ctx) -> None:
    wrapper = ctx.env["CC"]
    only_cc = ctx.work / "cc-on-path"
    only_cc.mkdir(exist_ok=True)
    os.symlink(wrapper, only_cc / os.path.basename(wrapper))
    ctx.env["CC"] = os.path.basename(wrapper)
    path = ctx.env.get("PATH") or ctx.runner.base_env.get("PATH", os.defpath)
    ctx.env["PATH"] = os.pathsep.join([str(only_cc), path])
