"""(being written)"""

DESCRIPTION = "(being written)"


class WatchError(Exception):
    pass


def add_arguments(parser) -> None:
    pass


def run(args) -> int:
    raise WatchError("not written yet")
