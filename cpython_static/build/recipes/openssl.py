"""openssl hook: CC by name, found on PATH.

OpenSSL compiles its CC and CFLAGS into libcrypto (``OpenSSL_version(OPENSSL_CFLAGS)``,
the ``compiler:`` line of ``openssl version -a``): the toolchain's wrapper, named by its
full path, would put the builder's cache directory into every interpreter.
"""

from __future__ import annotations

import os


def before_configure(ctx) -> None:
    wrapper = ctx.env["CC"]
    ctx.env["CC"] = os.path.basename(wrapper)
    path = ctx.env.get("PATH") or ctx.runner.base_env.get("PATH", os.defpath)
    ctx.env["PATH"] = os.pathsep.join([os.path.dirname(wrapper), path])
