"""(being written)"""

DESCRIPTION = "(being written)"


class NixpkgsError(Exception):
    pass


def add_arguments(parser) -> None:
    pass


def run(args) -> int:
    raise NixpkgsError("not written yet")
