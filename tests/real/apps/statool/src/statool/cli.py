"""statool's commands.  Each prints what a test can check: JSON for `info` and `procs`,
a rich table for `table`, escaped HTML for `html`."""

import json
import os
import sys

import click


@click.group()
def main():
    """statool: system facts, YAML and HTML from one static executable."""


@main.command()
def info():
    """The C extensions in use, as JSON."""
    import markupsafe
    import psutil
    import yaml
    from markupsafe import _speedups

    print(
        json.dumps(
            {
                "argv": sys.argv[1:],
                "with_libyaml": yaml.__with_libyaml__,
                "cloader": yaml.load("a: [1, {b: c}]", Loader=yaml.CLoader),
                "speedups": markupsafe._escape_inner is _speedups._escape_inner,
                "psutil": psutil.__version__,
                "builtins": sorted(
                    m for m in sys.builtin_module_names if m.split(".")[0] in ("psutil", "yaml", "markupsafe")
                ),
                "executable": sys.executable,
                "isolated": sys.flags.isolated,
            }
        )
    )


@main.command()
def procs():
    """psutil's view of this process and the system (needs /proc)."""
    import psutil

    me = psutil.Process()
    print(
        json.dumps(
            {
                "pid_is_ours": me.pid == os.getpid(),
                "rss_positive": me.memory_info().rss > 0,
                "cpu_count": psutil.cpu_count(),
                "pids": len(psutil.pids()) >= 1,
                "boot_time_positive": psutil.boot_time() > 0,
            }
        )
    )


@main.command()
@click.argument("document")
def table(document):
    """A YAML mapping (given inline), parsed with the C loader, as a rich table."""
    import yaml
    from rich.console import Console
    from rich.table import Table

    data = yaml.load(document, Loader=yaml.CLoader)
    t = Table("key", "value", title="statool")
    for key, value in data.items():
        t.add_row(str(key), str(value))
    Console(width=60, color_system=None).print(t)


@main.command()
@click.argument("text")
def html(text):
    """TEXT escaped for HTML by MarkupSafe."""
    import markupsafe

    print(markupsafe.escape(text))
