"""The command line: argument parsing, routing and output.  Nothing imports this package
but ``__main__`` and the console script."""

from cpython_static.cli.main import main

__all__ = ["main"]
