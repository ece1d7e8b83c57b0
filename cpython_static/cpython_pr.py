"""(being written)"""

DESCRIPTION = "(being written)"


class CPythonPRError(Exception):
    pass


def add_arguments(parser) -> None:
    pass


def run(args) -> int:
    raise CPythonPRError("not written yet")
