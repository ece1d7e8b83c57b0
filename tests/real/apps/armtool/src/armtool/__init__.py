"""armtool: what the aarch64 pack test checks, as JSON."""

import json
import platform
import sys


def main():
    import markupsafe
    import psutil
    from markupsafe import _speedups

    print(
        json.dumps(
            {
                "argv": sys.argv[1:],
                "machine": platform.machine(),
                "speedups": markupsafe._escape_inner is _speedups._escape_inner,
                "escaped": str(markupsafe.escape("<a&b>")),
                "psutil": psutil.__version__,  # no /proc in the test's root: nothing that reads it
                "builtins": sorted(m for m in sys.builtin_module_names if m.split(".")[0] in ("psutil", "markupsafe")),
            }
        )
    )
